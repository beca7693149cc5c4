"""Avro object container files: the header's writer schema and the decompressed blocks.

A ZTF Kafka message is one container; Rubin's sample alerts are containers too. The records
themselves are read by a compiled :class:`~classifier.readers.avro_plan.ReadPlan`. A block's
decompressed size is bounded (:data:`MAX_BLOCK_BYTES`), so a small deflate bomb cannot
exhaust memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from classifier.readers.avro_plan import ReadPlan

MAGIC = b"Obj\x01"
MAX_BLOCK_BYTES = 64 << 20
CODECS = (b"null", b"deflate")


@dataclass(frozen=True)
class Container:
    """The writer schema (JSON bytes) and ``(record count, block bytes)`` per block."""

    schema: bytes
    blocks: list[tuple[int, bytes]]


def _zigzag(data: bytes, i: int) -> tuple[int, int]:
    """An Avro long at ``data[i:]``: (value, next index)."""
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i
        shift += 7


def _inflated(block: bytes) -> bytes:
    inflater = zlib.decompressobj(-15)
    body = inflater.decompress(block, MAX_BLOCK_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"a block inflates to more than {MAX_BLOCK_BYTES} bytes")
    return body


def read_container(data: bytes) -> Container:
    """The schema and decompressed blocks of a container; ``ValueError`` if it is not one
    or is cut short (any other exception is a corrupt file too: callers wrap them)."""
    if not data.startswith(MAGIC):
        raise ValueError("not an Avro container file (bad magic bytes)")
    i, meta = 4, {}
    while True:
        n, i = _zigzag(data, i)
        if n == 0:
            break
        if n < 0:  # a block given with its byte size
            n = -n
            _, i = _zigzag(data, i)
        for _ in range(n):
            size, i = _zigzag(data, i)
            key = data[i : i + size].decode()
            i += size
            size, i = _zigzag(data, i)
            meta[key] = data[i : i + size]
            i += size
    codec = meta.get("avro.codec", b"null")
    if codec not in CODECS:
        raise ValueError(f"unsupported codec {codec.decode()!r}")
    sync = data[i : i + 16]
    i += 16
    blocks = []
    while i < len(data):
        count, i = _zigzag(data, i)
        size, i = _zigzag(data, i)
        block = data[i : i + size]
        blocks.append((count, _inflated(block) if codec == b"deflate" else block))
        i += size
        if data[i : i + 16] != sync:
            raise ValueError("a block does not end with the file's sync marker")
        i += 16
    return Container(meta["avro.schema"], blocks)


class _Reading(Protocol):
    plan: ReadPlan


R = TypeVar("R", bound=_Reading)
Record = tuple[np.ndarray, np.ndarray, bytes]  # floats, ints, the block's bytes


def container_records(data: bytes, reading_of: Callable[[bytes], R]) -> tuple[R, list[Record]]:
    """The compiled reading of a container's writer schema (``reading_of``: from the schema's
    JSON bytes) and every record read with its plan; ``ValueError`` if ``data`` is not a
    container, is corrupt in any way, or holds no record."""
    if not data.startswith(MAGIC):
        raise ValueError("not an Avro container file (bad magic bytes)")
    try:
        container = read_container(data)
        reading = reading_of(container.schema)
        rows = reading.plan.read_blocks(container.blocks)
    except Exception as error:  # truncated or corrupt input fails in many ways
        raise ValueError(f"corrupt Avro container: {type(error).__name__}: {error}") from None
    if not rows:
        raise ValueError("Avro container holds no alert")
    return reading, rows
