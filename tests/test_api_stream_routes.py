"""The API's stream routes on a real Valkey: an object's stored points and history, the
latest classifications, and the web page's files (open where the data needs the key)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from classifier.defaults import DEFAULT_MODEL
from classifier.readers import decode_alerts
from classifier.registry import DEFAULT_MODELS_DIR
from classifier.survey_background import ImageSum
from services.api.app import create_app
from services.settings import Settings
from stream import keys
from stream.store import ObjectStore

ROOT = Path(__file__).resolve().parents[1]


def _result(object_id: str, label: str, scored_at: float) -> str:
    return json.dumps(
        {
            "label": label,
            "probabilities": {label: 0.9, "EW": 0.1},
            "confidence": 0.9,
            "unknown": False,
            "model": "css-hybrid",
            "model_version": "1.1.0",
            "n_points": 13,
            "object_id": object_id,
            "provider": "CPUExecutionProvider",
            "band": "r",
            "points_per_band": {"g": 9, "r": 13},
            "data_version": 1,
            "alert_time": scored_at - 1,
            "scored_at": scored_at,
        }
    )


@pytest.fixture
def stored(redis_client, redis_url, samples):
    (alert,) = decode_alerts((samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes())
    store = ObjectStore(redis_client, default_bundle().grid)
    store.add_points(alert.object_id, alert.band_points())
    for k in range(25):
        store.save_results({alert.object_id: _result(alert.object_id, f"L{k}", 1e9 + k)}, 1e9 + k)
    store.save_results({"other": _result("other", "EA", 1e9 + 100)}, 1e9 + 100)
    settings = Settings(models_dir=DEFAULT_MODELS_DIR, redis_url=redis_url)
    with TestClient(create_app(settings)) as client:
        yield client, alert


def default_bundle():
    from classifier.registry import find_bundle  # noqa: PLC0415

    return find_bundle(DEFAULT_MODEL)


def test_an_objects_points_and_history(stored, redis_client):
    client, alert = stored
    state = client.get(f"/objects/{alert.object_id}", params={"points": True}).json()
    curves = alert.photometry().curves
    for band in ("g", "r"):
        assert state["points"][band]["t"] == pytest.approx(curves[band].t.tolist())
        assert state["points"][band]["mag"] == pytest.approx(curves[band].mag.tolist())
    history = client.get(f"/objects/{alert.object_id}/history").json()
    assert [h["label"] for h in history] == [f"L{k}" for k in range(24, 4, -1)]  # last 20
    assert redis_client.llen(keys.history(alert.object_id)) == keys.HISTORY
    assert client.get("/objects/nothing/history").json() == []


def test_the_latest_classifications_newest_first(stored):
    client, alert = stored
    latest = client.get("/results/latest", params={"limit": 5}).json()
    assert [r["object_id"] for r in latest] == ["other", alert.object_id]
    assert latest[1]["label"] == "L24"
    assert client.get("/results/latest", params={"limit": 501}).status_code == 422


def test_the_page_is_open_and_its_data_needs_the_key(redis_url):
    settings = Settings(models_dir=DEFAULT_MODELS_DIR, redis_url=redis_url, api_key="s3cret")
    with TestClient(create_app(settings)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<title>dmdt-stream</title>" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in ("/static/app.js", "/static/style.css"):
            assert client.get(asset).status_code == 200
        assert client.get("/results/latest").status_code == 401
        assert client.get("/objects/x/history").status_code == 401
        assert client.get("/results/latest", headers={"X-API-Key": "s3cret"}).status_code == 200
        escape = client.get("/static/../services/settings.py", headers={"X-API-Key": "s3cret"})
        assert escape.status_code == 404  # nothing outside the page's folder is served


def test_the_pages_script_parses():
    """A syntax error would leave the page blank with no server-side trace."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = ROOT / "services" / "api" / "web" / "app.js"
    checked = subprocess.run(
        [node, "--check", str(script)], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_survey_backgrounds_are_served_and_subtracted_from_the_objects_images(stored, redis_client):
    client, alert = stored
    grid = default_bundle().grid
    store = ObjectStore(redis_client, grid)
    assert client.get("/backgrounds").json() == []
    mean = np.random.default_rng(2).uniform(0, 0.02, grid.shape)
    store.add_to_survey_backgrounds({("ztf", "r"): ImageSum(mean * 150, 150, 150)})
    assert client.get("/backgrounds").json() == [
        {"survey": "ztf", "band": "r", "images": 150, "ready": True}
    ]
    served = client.get("/backgrounds/ztf/r").json()
    np.testing.assert_allclose(served["image"], mean, rtol=1e-5)
    assert served["dt_edges"] == grid.dt_edges.tolist()
    picture = client.get("/backgrounds/ztf/r", params={"image_format": "png"}).json()["image"]
    assert base64.b64decode(picture).startswith(b"\x89PNG")
    missing = client.get("/backgrounds/lsst/u")
    assert missing.status_code == 404 and "measured: ['ztf/r']" in missing.json()["detail"]
    assert client.get("/backgrounds/ztf/r;g").status_code == 422

    state = client.get(f"/objects/{alert.object_id}", params={"images": True}).json()
    red, green = state["images"]["r"], state["images"]["g"]
    assert red["survey_background"] == "ztf r, measured from 150 images"
    expected = np.asarray(red["image"]) - mean
    np.testing.assert_allclose(red["subtracted"]["survey"], expected, atol=1e-5)
    assert green["survey_background"].startswith("the card's cadence background")
    cadence = default_bundle().backgrounds["cadence"]
    np.testing.assert_allclose(
        green["subtracted"]["survey"], np.asarray(green["image"]) - cadence, atol=1e-5
    )
