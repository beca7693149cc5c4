"""The stream's classification of one object: written by the worker to Redis (through
:meth:`stream.store.ObjectStore.save_results`) and to the results topic, read back by
``GET /objects/{id}``.

The results topic's messages are this model as JSON, keyed by object id; their published
JSON Schema is :data:`SCHEMA_FILE` (package data), generated from the model by
:func:`results_schema`, so other brokers' consumers can decode and validate them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from classifier.verdict import Verdict


class StreamResult(Verdict):
    """A :class:`~classifier.verdict.Verdict` of the band the worker scored, and what it
    scored (``n_points``: the points of that band)."""

    object_id: str
    provider: str = Field(description="ONNX Runtime execution provider that scored it")
    band: str = Field(description="the band scored (see the multi-band rule)")
    points_per_band: dict[str, int]
    data_version: int = Field(description="the stored object's version that was scored")
    alert_time: float = Field(description="oldest alert not yet scored, seconds since epoch")
    scored_at: float = Field(description="seconds since the epoch")


SCHEMA_ID = "urn:dmdt-stream:schema:results:v1"
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "results-v1.schema.json"


def results_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a results-topic message."""
    schema = StreamResult.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": "A dmdt-stream classification: one message of the results topic "
        "(JSON, keyed by objectId).",
        **{key: value for key, value in schema.items() if key != "description"},
    }


def schema_text() -> str:
    """:func:`results_schema` as the published file holds it."""
    return json.dumps(results_schema(), indent=2, sort_keys=True) + "\n"
