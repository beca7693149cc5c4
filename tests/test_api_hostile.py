"""The HTTP API against a hostile client: each probe below was reproduced on the API before
its bound (a 40 MiB body behind a 5-byte Content-Length, a metrics series per method token,
8 MiB error bodies, strings taken as numbers, minutes of PNG work, internal addresses)."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from classifier.readers import read_file
from classifier.registry import DEFAULT_MODELS_DIR
from services.api.app import create_app
from services.api.middleware import BodyLimit
from services.settings import Settings


@pytest.fixture(scope="module")
def client():
    settings = Settings(
        models_dir=DEFAULT_MODELS_DIR,
        max_body_bytes=300_000,
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def body(samples):
    curve = read_file(samples / "css_1001006032764-RRab.csv")[0].curve()
    return {"t": curve.t.tolist(), "mag": curve.mag.tolist(), "band": "V"}


def test_the_body_limit_counts_bytes_read_whatever_the_headers_declare():
    reached = []

    async def app(scope, receive, send):
        reached.append(await receive())

    chunks = [{"type": "http.request", "body": b"x" * 65536, "more_body": True}] * 640
    sent = []

    async def receive():
        return chunks.pop() if chunks else {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"5")]}  # and 40 MiB streamed
    asyncio.run(BodyLimit(app, max_bytes=1 << 20)(scope, receive, send))
    assert reached == [] and sent[0]["status"] == 413
    assert b"body exceeds 1048576 bytes" in sent[1]["body"]


def _series(client) -> int:
    text = client.get("/metrics").text
    return sum(line.startswith("dmdt_api_request_seconds_count") for line in text.splitlines())


def test_method_tokens_cannot_grow_the_metrics(client):
    client.request("FOO0", "/healthz")
    _series(client)  # the scrape itself is a series too
    before = _series(client)
    for i in range(200):
        assert client.request(f"FOO{i}", "/healthz").status_code == 405
    assert _series(client) == before
    assert 'method="other",route="/healthz",status="405"' in client.get("/metrics").text


def test_error_bodies_quote_a_short_excerpt(client, body):
    huge = "b" * 250_000
    answer = client.post("/classify", json={**body, "band": huge})
    assert answer.status_code == 422 and len(answer.content) < 1_000
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "band"] and "(250002 characters)" in problem["input"]
    many = client.post("/classify", json={**body, "t": ["x"] * 5_000})
    assert many.status_code == 422 and len(many.content) < 10_000
    assert many.json()["problems"] == 5_000 and len(many.json()["detail"]) == 20
    missing = client.get("/objects/" + "o" * 60)
    assert missing.status_code == 503 and missing.json() == {"detail": "Redis unavailable"}
    too_long = client.get("/objects/" + "o" * 5_000)
    assert too_long.status_code == 422 and len(too_long.content) < 1_000
    model = client.post("/classify", json={**body, "model": "m" * 100_000})
    assert model.status_code == 404 and len(model.content) < 1_000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"t": ["1"]}, "t"),
        ({"mag": [True]}, "mag"),
        ({"err": [None]}, "err"),
        ({"images": "yes"}, "images"),
    ],
)
def test_numbers_and_flags_are_strict(client, body, change, field):
    sent = {**body, **change}
    for key in ("t", "mag", "err"):
        if key in change:
            sent[key] = change[key] + body["t"][len(change[key]) :]
    answer = client.post("/classify", json=sent)
    assert answer.status_code == 422
    assert any(p["loc"][1] == field for p in answer.json()["detail"]), answer.text


def test_png_work_per_request_is_bounded(client, body):
    answer = client.post(
        "/classify/batch", json={"curves": [body] * 5, "images": True, "image_format": "png"}
    )
    assert answer.status_code == 413 and "limit of 4 a request" in answer.json()["detail"]
    arrays = client.post("/classify/batch", json={"curves": [body] * 5, "images": True})
    assert arrays.status_code == 200


def test_readiness_names_no_internal_address(client):
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["redis"] == "unreachable"
    assert "127.0.0.1" not in answer.text and ":1" not in json.dumps(answer.json()["redis"])
