"""Avro object container files: the header's writer schema and the decompressed blocks.

A ZTF Kafka message is one container; Rubin's sample alerts are containers too. The records
themselves are read by a compiled :class:`~classifier.readers.avro_plan.ReadPlan`. The whole
message's decompressed size is bounded (:data:`MAX_INFLATED_BYTES`), so a small deflate bomb
cannot exhaust memory, and every count and size in the header and block framing is checked
against the bytes left, so no value can make the reader loop or go back.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from classifier.readers.avro_plan import ReadPlan

MAGIC = b"Obj\x01"
MAX_INFLATED_BYTES = 64 << 20  # all blocks of one container, decompressed
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
        if i >= len(data) or shift > 63:
            raise ValueError("the container ends inside a number")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i
        shift += 7


def _sized(data: bytes, i: int, what: str) -> tuple[bytes, int]:
    """A length-prefixed byte string at ``data[i:]``: (bytes, next index)."""
    size, i = _zigzag(data, i)
    if size < 0 or i + size > len(data):
        raise ValueError(f"{what} of {size} bytes at byte {i} of {len(data)}")
    return data[i : i + size], i + size


def _inflated(block: bytes, room: int) -> bytes:
    """The deflated ``block``, refused when it holds more than ``room`` bytes."""
    if room <= 0:  # zlib reads a max_length of 0 as no limit
        raise ValueError(f"the blocks inflate to more than {MAX_INFLATED_BYTES} bytes")
    inflater = zlib.decompressobj(-15)
    body = inflater.decompress(block, room)
    if inflater.unconsumed_tail or (len(body) == room and inflater.decompress(b"", 1)):
        raise ValueError(f"the blocks inflate to more than {MAX_INFLATED_BYTES} bytes")
    return body


def read_container(data: bytes) -> Container:
    """The schema and decompressed blocks of a container; ``ValueError`` if it is not one,
    is cut short, or claims more than its bytes hold (any other exception is a corrupt file
    too: callers wrap them)."""
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
        if 2 * n > len(data) - i:  # an entry is at least two bytes
            raise ValueError(f"the header claims {n} entries in {len(data) - i} bytes")
        for _ in range(n):
            key, i = _sized(data, i, "a header key")
            meta[key.decode()], i = _sized(data, i, "a header value")
    codec = meta.get("avro.codec", b"null")
    if codec not in CODECS:
        raise ValueError(f"unsupported codec {codec.decode()!r}")
    sync = data[i : i + 16]
    i += 16
    blocks = []
    room = MAX_INFLATED_BYTES
    while i < len(data):
        count, i = _zigzag(data, i)
        block, i = _sized(data, i, "a block")
        body = _inflated(block, room) if codec == b"deflate" else block
        room -= len(body)
        blocks.append((count, body))
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
