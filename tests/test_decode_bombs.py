"""Decoding is bounded by construction: messages built to make a reader loop for ever, or to
take gigabytes, are refused at once with their reason (each was reproduced against the
reader before the bounds: an endless loop, 10 s and 5 GB, 1.5 GB)."""

from __future__ import annotations

import io
import json
import tracemalloc
import zlib

import fastavro
import numpy as np
import pytest
from test_consumer import _sample_record

from classifier.readers.avro_container import MAGIC, MAX_INFLATED_BYTES, read_container
from classifier.readers.avro_plan import MAX_OPS, MAX_ROWS, FieldSpec, PlanError, ReadPlan
from classifier.readers.ztf import decode_alerts

SYNC = bytes(range(16))


def _long(value: int) -> bytes:
    """An Avro (zigzag varint) long."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes(data: bytes) -> bytes:
    return _long(len(data)) + data


def container(schema: dict, body: bytes, count: int = 1, codec: bytes = b"null") -> bytes:
    """An Avro container written by hand, so that its counts can lie."""
    header = _long(2) + _bytes(b"avro.schema") + _bytes(json.dumps(schema).encode())
    header += _bytes(b"avro.codec") + _bytes(codec) + _long(0)
    if codec == b"deflate":
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = packer.compress(body) + packer.flush()
    return MAGIC + header + SYNC + _long(count) + _bytes(body) + SYNC


def _schemaless(schema: dict, record: dict) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def test_an_array_of_nulls_claiming_2_62_items_is_refused_at_once(samples):
    schema, record = _sample_record(samples)
    bomb = {"name": "bomb", "type": {"type": "array", "items": "null"}}
    hostile = {**schema, "fields": [bomb, *schema["fields"]]}
    body = _long(2**62 - 1) + _schemaless(schema, record)  # the count, then no item bytes
    with pytest.raises(ValueError, match="arrays claim more items than bytes are left"):
        decode_alerts(container(hostile, body))


def test_nested_arrays_of_nulls_cannot_multiply_their_counts():
    inner = {"type": "array", "items": "null"}
    schema = {
        "type": "record",
        "name": "r",
        "fields": [{"name": "a", "type": {"type": "array", "items": inner}}],
    }
    # 100 outer items, each claiming 100 nulls: 10,000 items in 202 bytes
    body = _long(100) + _long(100) * 100 + _long(0) + _long(0)
    plan = ReadPlan.compile(schema, FieldSpec(frozenset(), frozenset(), frozenset(), frozenset()))
    with pytest.raises(ValueError, match="more items than bytes are left"):
        plan.read(np.frombuffer(body, dtype=np.uint8), 0)
    honest = _long(2) + _long(1) + _long(0) + _long(1) + _long(0) + _long(0)
    _, _, end = plan.read(np.frombuffer(honest, dtype=np.uint8), 0)
    assert end == len(honest)


def test_a_block_of_400000_empty_records_is_refused():
    empty = {"type": "record", "name": "nothing", "fields": []}
    message = container(empty, b"", count=400_000)
    assert len(message) < 130
    with pytest.raises(ValueError, match="a block claims 400000 records in 0 bytes"):
        decode_alerts(message)


def _with_history(schema: dict, record: dict, rows: int) -> bytes:
    """The record's body with ``rows`` copies of its first history row, spliced in bytes
    (encoding a million rows with fastavro takes minutes)."""
    row = record["prv_candidates"][0]
    one = _schemaless(schema, {**record, "prv_candidates": [row]})
    two = _schemaless(schema, {**record, "prv_candidates": [row, row]})
    at = next(i for i, (a, b) in enumerate(zip(one, two, strict=False)) if a != b)
    size = len(two) - len(one)
    assert one[at : at + 1] == _long(1) and two[at : at + 1] == _long(2)
    row_bytes, suffix = one[at + 1 : at + 1 + size], one[at + 2 + size :]
    return one[:at] + _long(rows) + row_bytes * rows + _long(0) + suffix


def test_a_huge_history_is_refused_within_bounded_memory(samples):
    schema, record = _sample_record(samples)
    body = _with_history(schema, record, 2 * MAX_ROWS)
    message = container(schema, body, codec=b"deflate")
    assert len(message) * 50 < len(body) < MAX_INFLATED_BYTES  # small, and inflatable
    tracemalloc.start()
    with pytest.raises(ValueError, match=f"opens more than {MAX_ROWS} rows"):
        decode_alerts(message)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 400 << 20  # the 1 M-row message took 1.5 GB before the bound
    ((alert,),) = [decode_alerts(container(schema, _with_history(schema, record, 3)))]
    assert len(alert.band_points()["r"]) + len(alert.band_points().get("g", [])) >= 1


def test_a_deflate_bomb_over_the_inflated_limit_is_refused(samples):
    schema, _ = _sample_record(samples)
    message = container(schema, bytes(MAX_INFLATED_BYTES + 1), codec=b"deflate")
    assert len(message) < 100_000
    with pytest.raises(ValueError, match=f"inflate to more than {MAX_INFLATED_BYTES} bytes"):
        read_container(message)


@pytest.mark.parametrize(
    ("framing", "reason"),
    [
        (_long(2**60), "the header claims"),
        (_long(1) + _long(-5), "a header key of -5 bytes"),
        (_long(1) + _long(10**9), "a header key of 1000000000 bytes"),
        (b"\xff" * 12, "ends inside a number"),
    ],
)
def test_header_counts_and_sizes_are_checked_against_the_bytes_left(framing, reason):
    with pytest.raises(ValueError, match=reason):
        read_container(MAGIC + framing + b"\x00" * 20)


def test_a_block_with_a_negative_size_cannot_rewind_the_reader():
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    honest = container(schema, _long(7))
    start = honest.index(SYNC) + len(SYNC)
    hostile = honest[:start] + _long(1) + _long(-40) + b"\x00" * 40
    with pytest.raises(ValueError, match="a block of -40 bytes"):
        read_container(hostile)


def test_trailing_bytes_after_a_blocks_records_are_refused():
    schema = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    plan = ReadPlan.compile(
        schema, FieldSpec(frozenset({"a"}), frozenset(), frozenset(), frozenset())
    )
    ((_, ints, _),) = plan.read_blocks([(1, _long(7))])
    assert ints[0, 0] == 7
    with pytest.raises(ValueError, match="records end at byte 1 of its 3 bytes"):
        plan.read_blocks([(1, _long(7) + b"xx")])


def _doubling(depth: int) -> dict:
    """A record naming the record below it twice: defined inline once, then by name."""
    if depth == 0:
        return {"type": "record", "name": "l0", "fields": [{"name": "x", "type": "long"}]}
    return {
        "type": "record",
        "name": f"l{depth}",
        "fields": [
            {"name": "a", "type": _doubling(depth - 1)},
            {"name": "b", "type": f"l{depth - 1}"},
        ],
    }


def test_a_schema_that_multiplies_when_expanded_is_refused():
    schema = _doubling(20)  # 2**20 leaves from a 3 KB schema
    assert len(json.dumps(schema)) < 4000
    spec = FieldSpec(frozenset(), frozenset(), frozenset(), frozenset())
    with pytest.raises(PlanError, match=f"more than {MAX_OPS} operations"):
        ReadPlan.compile(schema, spec)
    ReadPlan.compile(_doubling(4), spec)  # a schema that re-uses names honestly compiles
