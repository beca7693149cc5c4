"""classifier.readers.avro_plan on every Avro type, against fastavro's own encoding."""

import io
import math

import fastavro
import numpy as np
import pytest

from classifier.readers.avro_plan import NULL_INT, FieldSpec, PlanError, ReadPlan

POINT = {
    "type": "record",
    "name": "point",
    "fields": [
        {"name": "x", "type": "double"},
        {"name": "flag", "type": "boolean"},
        {"name": "tag", "type": ["null", "string"]},
        {"name": "n", "type": ["null", "long"]},
        {"name": "skipped", "type": {"type": "map", "values": {"type": "array", "items": "int"}}},
    ],
}
SCHEMA = {
    "type": "record",
    "name": "top",
    "namespace": "t",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "blob", "type": "bytes"},
        {"name": "kind", "type": {"type": "enum", "name": "kind", "symbols": ["a", "b", "c"]}},
        {"name": "hash", "type": {"type": "fixed", "name": "md5", "size": 16}},
        {"name": "f", "type": "float"},
        {"name": "head", "type": POINT},
        {"name": "rows", "type": ["null", {"type": "array", "items": "t.point"}]},
    ],
}
SPEC = FieldSpec(
    top=frozenset({"name", "f"}),
    nested=frozenset({"head"}),
    row_arrays=frozenset({"rows"}),
    row_fields=frozenset({"x", "flag", "tag", "n"}),
)


def _point(rng):
    return {
        "x": float(rng.normal()),
        "flag": bool(rng.integers(2)),
        "tag": None if rng.integers(2) else "t" * int(rng.integers(0, 5)),
        "n": None if rng.integers(2) else int(rng.integers(-(2**62), 2**62)),
        "skipped": {
            "κλ" * int(rng.integers(1, 90)) + str(i): rng.integers(-(2**31), 2**31, 3).tolist()
            for i in range(rng.integers(4))
        },
    }


def _record(rng):
    rows = [_point(rng) for _ in range(int(rng.integers(0, 40)))]
    return {
        "name": "obj" + "x" * int(rng.integers(0, 20)),
        "blob": bytes(rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8)),
        "kind": "b",
        "hash": b"0123456789abcdef",
        "f": 1.5,
        "head": _point(rng),
        "rows": rows if rows or rng.integers(2) else None,
    }


def _body(record) -> np.ndarray:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(SCHEMA), record)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def _row(plan, floats, ints, data, point):
    slot = plan.slots
    assert floats[slot["x"]] == point["x"]
    assert ints[slot["flag"]] == point["flag"]
    assert (ints[slot["n"]] == NULL_INT) if point["n"] is None else ints[slot["n"]] == point["n"]
    if point["tag"] is None:
        assert ints[slot["tag"]] == NULL_INT
    else:
        at, size = ints[slot["tag"]], int(floats[slot["tag"]])
        assert bytes(data[at : at + size]).decode() == point["tag"]


@pytest.mark.parametrize("seed", range(40))
def test_every_type_is_read_or_skipped_like_fastavro(seed):
    rng = np.random.default_rng(seed)
    plan = ReadPlan.compile(SCHEMA, SPEC)
    record = _record(rng)
    data = _body(record)
    floats, ints, end = plan.read(data, 0, rows_hint=2)  # the tables grow as needed
    assert end == len(data)
    rows = record["rows"] or []
    assert len(floats) == 1 + len(rows)
    assert math.isclose(floats[0, plan.slots["f"]], 1.5)
    _row(plan, floats[0], ints[0], data, record["head"])
    for k, point in enumerate(rows, start=1):
        _row(plan, floats[k], ints[k], data, point)
    for cut in range(0, len(data), max(1, len(data) // 25)):
        with pytest.raises(ValueError, match="end early"):
            plan.read(data[:cut], 0)


def test_recursive_and_unknown_types_are_refused():
    linked = {
        "type": "record",
        "name": "node",
        "fields": [{"name": "next", "type": ["null", "node"]}],
    }
    with pytest.raises(PlanError, match="recursive"):
        ReadPlan.compile(linked, SPEC)
    with pytest.raises(PlanError, match="unknown type"):
        ReadPlan.compile(
            {"type": "record", "name": "r", "fields": [{"name": "a", "type": "nope"}]}, SPEC
        )
