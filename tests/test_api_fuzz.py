"""The API against its own OpenAPI spec (schemathesis): generated requests to every route,
valid (positive) and invalid (negative), never get a server error, and every documented
answer matches its schema. A real Redis backs ``GET /objects``; examples per route are
bounded. (A planted ``RuntimeError`` on curves of more than 6 points is found.)"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from classifier.registry import DEFAULT_MODELS_DIR
from services.api.app import create_app
from services.settings import Settings


@pytest.fixture(scope="module")
def api_schema(redis_url):
    app = create_app(Settings(models_dir=DEFAULT_MODELS_DIR, redis_url=redis_url, max_points=2_000))
    with TestClient(app):  # runs the lifespan: models loaded, Redis client made
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_error_and_answers_match_the_spec(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/classify",
        "/classify/batch",
        "/objects/{object_id}",
    }
    for operation, mode in itertools.product(operations, list(GenerationMode)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # a route that takes no input at all
