"""The HTTP API in-process (FastAPI TestClient) with the shipped model bundle."""

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from classifier.bundle import load_bundle
from classifier.defaults import DEFAULT_MODEL
from classifier.grid import DmDtGrid
from classifier.inference import OnnxClassifier
from classifier.readers import read_file
from classifier.registry import DEFAULT_MODELS_DIR
from services.api.app import create_app
from services.settings import Settings


@pytest.fixture(scope="module")
def client():
    settings = Settings(models_dir=DEFAULT_MODELS_DIR, max_points=5_000, max_body_bytes=200_000)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def rrab(samples):
    curve = read_file(samples / "css_1001006032764-RRab.csv")[0].curve()
    return curve, {
        "t": curve.t.tolist(),
        "mag": curve.mag.tolist(),
        "err": curve.err.tolist(),
        "band": "V",
    }


def test_health_and_models(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")  # no Redis at DMDT_REDIS_URL here: not ready
    assert ready.status_code == 503 and ready.json()["redis"].startswith("unreachable")
    assert ready.json()["models"] == {
        "css-dmdtnet": "CPUExecutionProvider",
        "css-hybrid": "CPUExecutionProvider",
        "mixed-two": "CPUExecutionProvider",
        "survey-hybrid": "CPUExecutionProvider",
    }
    summaries = {s["name"]: s for s in client.get("/models").json()}
    assert summaries["css-hybrid"]["grid"] == "crts-fine-dm"
    assert summaries["css-dmdtnet"]["grid"] == "crts"
    card = client.get("/models/css-hybrid").json()
    assert card["metrics"]["test"]["macro_f1"] > 0.8 and "rpca" in card["backgrounds"]
    assert client.get("/models/nope").status_code == 404


def test_classify_equals_the_bundle_run_directly(client, rrab):
    curve, body = rrab
    answer = client.post("/classify", json=body).json()
    direct = OnnxClassifier(load_bundle(DEFAULT_MODELS_DIR / DEFAULT_MODEL)).predict_curves([curve])
    assert answer["label"] == direct.labels[0] == "RRab"
    assert answer["n_points"] == 260 and answer["model"] == DEFAULT_MODEL
    probabilities = np.array([answer["probabilities"][c] for c in direct.classes])
    np.testing.assert_allclose(probabilities, direct.probabilities[0], rtol=1e-6)
    assert "images" not in answer


def test_classify_returns_the_image_and_background_subtracted_images(client, rrab):
    curve, body = rrab
    answer = client.post("/classify", json={**body, "images": True}).json()
    images = answer["images"]
    grid = DmDtGrid.preset("crts-fine-dm")
    image = np.array(images["image"])
    assert image.shape == (32, 24) and images["dm_edges"] == grid.dm_edges.tolist()
    np.testing.assert_allclose(image, grid.counts(curve) / curve.n_pairs, rtol=1e-5)
    bundle = load_bundle(DEFAULT_MODELS_DIR / DEFAULT_MODEL)
    assert set(images["subtracted"]) == set(bundle.backgrounds)
    np.testing.assert_allclose(
        np.array(images["subtracted"]["cadence"]), image - bundle.backgrounds["cadence"], atol=1e-6
    )


@pytest.mark.parametrize(
    ("change", "status", "field", "message"),
    [
        ({"mag": [15.0, 15.1]}, 422, "mag", "does not match t"),
        ({"t": [1.0], "mag": [15.0], "err": None}, 422, "t", "at least 2 points"),
        (
            {"t": [1.0, 2.0, 3.0], "mag": [15.0, 15.1, 15.2], "err": None},
            422,
            "t",
            "the model needs at least 5",
        ),
        ({"mag": "bright"}, 422, "mag", ""),
        ({"err": [-1.0] * 260}, 422, "err[0]", "outside"),
        ({"t": [2459000.5 + i for i in range(260)]}, 422, "t[0]", "Julian Date"),
        ({"model": "nope"}, 404, None, "no model 'nope'"),
        (
            {"t": list(range(6000)), "mag": [15.0] * 6000, "err": None},
            413,
            None,
            "exceeds the limit of 5000",
        ),
        ({"colour": "red"}, 422, "colour", ""),
    ],
)
def test_bad_requests_name_the_field_and_reason(client, rrab, change, status, field, message):
    _, body = rrab
    response = client.post("/classify", json={**body, **change})
    assert response.status_code == status
    detail = response.json()["detail"]
    text = json.dumps(detail)
    assert message in text
    if field is not None:
        assert any(item["loc"][-1] == field for item in detail)


def test_nan_and_oversized_bodies(client, rrab):
    _, body = rrab
    nan_body = json.dumps({**body, "mag": [float("nan"), *body["mag"][1:]]})
    response = client.post(
        "/classify", content=nan_body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "not finite" in response.text
    huge = json.dumps({**body, "object_id": "x", "t": body["t"] * 20})
    response = client.post("/classify", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "exceeds" in response.text

    bigger = json.dumps({**body, "t": body["t"] * 100}).encode()
    assert len(bigger) > 200_000

    def chunks():  # streamed, without a Content-Length: counted as it arrives
        for i in range(0, len(bigger), 10_000):
            yield bigger[i : i + 10_000]

    response = client.post(
        "/classify", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "exceeds 200000 bytes" in response.text, response.text
    response = client.post(
        "/classify",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "x"},
    )
    assert response.status_code == 400 and "Content-Length" in response.text


def test_batch_classifies_the_good_curves_and_names_the_bad(client, rrab):
    _, body = rrab
    short = {"t": [1.0, 2.0], "mag": [15.0, 15.1]}
    bad = {**body, "mag": [*body["mag"][:-1], 400.0]}
    answer = client.post(
        "/classify/batch", json={"curves": [body, short, body, bad], "model": "css-dmdtnet"}
    )
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [i["index"] for i in items] == [0, 1, 2, 3]
    assert items[0]["classification"] == items[2]["classification"]
    assert items[0]["classification"]["model"] == "css-dmdtnet"
    assert items[1]["error"].startswith("curves[1].t: 2 distinct points")
    assert "classification" not in items[3] and items[3]["error"].startswith("curves[3]")
    single = client.post("/classify", json={**body, "model": "css-dmdtnet"}).json()
    assert single["probabilities"] == pytest.approx(items[0]["classification"]["probabilities"])


def test_batch_limits_and_metrics(client, rrab):
    _, body = rrab
    small = {k: body[k][:5] for k in ("t", "mag")}
    too_many = client.post("/classify/batch", json={"curves": [small] * 257})
    assert too_many.status_code == 413 and "limit of 256" in too_many.json()["detail"]
    assert client.post("/classify/batch", json={"curves": []}).status_code == 422
    text = client.get("/metrics").text
    assert (
        'dmdt_api_request_seconds_count{method="POST",route="/classify/batch",status="413"}' in text
    )
    assert 'dmdt_onnx_provider_info{model="css-hybrid",provider="CPUExecutionProvider"} 1.0' in text


def test_images_as_png_pictures(client, rrab):
    _, body = rrab
    answer = client.post("/classify", json={**body, "images": True, "image_format": "png"}).json()
    images = answer["images"]
    assert images["format"] == "png"
    pictures = [images["image"], *images["subtracted"].values()]
    assert len(pictures) == 1 + len(load_bundle(DEFAULT_MODELS_DIR / DEFAULT_MODEL).backgrounds)
    for picture in pictures:
        assert base64.b64decode(picture).startswith(b"\x89PNG\r\n\x1a\n")
    bad = client.post("/classify", json={**body, "images": True, "image_format": "gif"})
    assert bad.status_code == 422 and "image_format" in bad.text


def test_api_key_guards_every_route_but_health_and_metrics(rrab):
    _, body = rrab
    settings = Settings(
        models_dir=DEFAULT_MODELS_DIR, api_key="s3cret", cors_origins=["https://broker.example"]
    )
    with TestClient(create_app(settings)) as guarded:
        assert guarded.post("/classify", json=body).status_code == 401
        wrong = guarded.post("/classify", json=body, headers={"x-api-key": "nope"})
        assert wrong.status_code == 401 and "X-API-Key" in wrong.json()["detail"]
        assert guarded.get("/models").status_code == 401
        assert (
            guarded.post("/classify", json=body, headers={"x-api-key": "s3cret"}).status_code == 200
        )
        assert guarded.get("/healthz").status_code == 200
        assert guarded.get("/metrics").status_code == 200
        preflight = guarded.options(
            "/classify",
            headers={
                "origin": "https://broker.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-api-key",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "https://broker.example"
        assert "s3cret" not in settings.describe()


def test_concurrent_requests_get_the_answers_of_sequential_ones(client, samples):
    curves = [read_file(path)[0].curve() for path in sorted(samples.glob("css_*.csv"))]
    bodies = [
        {"t": c.t.tolist(), "mag": c.mag.tolist(), "model": model}
        for c in curves
        for model in ("css-hybrid", "css-dmdtnet")
    ]
    sequential = [client.post("/classify", json=body).json() for body in bodies]

    async def together():
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as concurrent:
            answers = await asyncio.gather(
                *(concurrent.post("/classify", json=body) for body in bodies * 3)
            )
        return [answer.json() for answer in answers]

    assert asyncio.run(together()) == sequential * 3
