"""The results topic's published JSON Schema: in step with the model that writes the
messages, and what a worker really produces validates against it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from test_worker import FakeProducer, _worker

from stream import lifecycle
from stream.results import SCHEMA_FILE, schema_text


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_published_schema_is_the_models():
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "regenerate: python -c 'from stream.results import SCHEMA_FILE, schema_text; "
        "SCHEMA_FILE.write_text(schema_text())'"
    )


def test_a_workers_results_validate(model, validator):
    producer = FakeProducer()
    worker, _, queue = _worker(model, producer)
    lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)
    messages = [json.loads(value) for _, _, value in producer.produced]
    assert len(messages) == 2
    for message in messages:
        validator.validate(message)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"label": None}, "None is not of type 'string'"),
        ({"probabilities": {"EW": "0.5"}}, "'0.5' is not of type 'number'"),
        ({"data_version": 1.5}, "1.5 is not of type 'integer'"),
    ],
)
def test_a_malformed_result_does_not(model, validator, change, problem):
    producer = FakeProducer()
    worker, _, queue = _worker(model, producer)
    lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)
    message = {**json.loads(producer.produced[0][2]), **change}
    with pytest.raises(jsonschema.ValidationError, match=problem):
        validator.validate(message)
    missing = json.loads(producer.produced[0][2])
    del missing["object_id"]
    with pytest.raises(jsonschema.ValidationError, match="'object_id' is a required property"):
        validator.validate(missing)
