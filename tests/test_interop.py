"""Tables in, tables out, and the Python client: a pandas DataFrame or an astropy Table or
TimeSeries becomes light curves, answers come back as a DataFrame, and the client talks to
the API (in-process) and follows a real results topic with filters."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from classifier.interop import curves_from_table, verdicts_frame
from classifier.lightcurve import LightCurveError
from classifier.readers import read_file
from classifier.registry import DEFAULT_MODELS_DIR
from classifier.verdict import classify_curves
from services.api.app import create_app
from services.client import ClientError, DmdtClient, follow_results
from services.settings import Settings
from stream.kafka import ensure_topics, producer_config

pd = pytest.importorskip("pandas")
astropy_table = pytest.importorskip("astropy.table")
timeseries = pytest.importorskip("astropy.timeseries")
Time = pytest.importorskip("astropy.time").Time


@pytest.fixture(scope="module")
def rrab(samples):
    return read_file(samples / "css_1001006032764-RRab.csv")[0].curve()


def test_a_dataframe_with_its_own_column_names(rrab):
    frame = pd.DataFrame(
        {
            "hjd_mjd": np.concatenate([rrab.t, rrab.t]),
            "vmag": np.concatenate([rrab.mag, rrab.mag + 0.3]),
            "e_vmag": np.concatenate([rrab.err, rrab.err]),
            "filt": ["V"] * len(rrab) + ["g"] * len(rrab),
            "name": "star1",
        }
    )
    curves = curves_from_table(
        frame, time="hjd_mjd", mag="vmag", err="e_vmag", band="filt", object_id="name"
    )
    assert [(c.object_id, c.band, len(c)) for c in curves] == [
        ("star1", "V", len(rrab)),
        ("star1", "g", len(rrab)),
    ]
    np.testing.assert_array_equal(curves[0].t, rrab.t)


def test_an_astropy_timeseries_is_read_as_mjd(rrab):
    series = timeseries.TimeSeries(
        time=Time(rrab.t, format="mjd"), data={"mag": rrab.mag, "err": rrab.err}
    )
    (curve,) = curves_from_table(series)
    np.testing.assert_allclose(curve.t, rrab.t, atol=1e-8)
    assert curve.band == "single" and curve.object_id is None


def test_bad_tables_name_the_column(rrab):
    table = astropy_table.Table({"time": rrab.t[:5], "mag": rrab.mag[:5]}, masked=True)
    table["mag"].mask[2] = True
    with pytest.raises(LightCurveError, match=r"mag\[2\]: nan is not finite"):
        curves_from_table(table)
    with pytest.raises(LightCurveError, match=r"flux: no such column; the table has \['time'"):
        curves_from_table(table, mag="flux")


def test_answers_come_back_as_a_dataframe(model, rrab):
    curves = [rrab, rrab.first(30)]
    frame = verdicts_frame(curves, classify_curves(model, curves))
    assert list(frame["n_points"]) == [len(rrab), 30]
    assert {f"p_{c}" for c in model.bundle.card.classes} <= set(frame.columns)
    assert np.allclose(frame[[f"p_{c}" for c in model.bundle.card.classes]].sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def client():
    settings = Settings(models_dir=DEFAULT_MODELS_DIR, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(settings)) as http:
        yield DmdtClient("http://testserver", http=http)


def test_the_client_classifies_and_reports_refusals(client, rrab):
    answer = client.classify(rrab, model="css-dmdtnet")
    assert answer["label"] == "RRab" and answer["n_points"] == len(rrab)
    many = client.classify_many([rrab, rrab.first(3)], model="css-dmdtnet")
    assert many[0]["label"] == "RRab" and many[1]["error"].startswith("curves[1].t: 3")
    with pytest.raises(ClientError, match="HTTP 404: no model 'nope'"):
        client.classify(rrab, model="nope")
    with pytest.raises(ClientError, match="HTTP 503: Redis unavailable"):
        client.get_object("ZTF18adljlvp")


def _result(object_id: str, label: str, band: str, confidence: float, unknown: bool) -> bytes:
    return json.dumps(
        {
            "label": label,
            "probabilities": {label: confidence, "EW": 1 - confidence},
            "confidence": confidence,
            "unknown": unknown,
            "model": "css-hybrid",
            "model_version": "1.1.0",
            "n_points": 40,
            "object_id": object_id,
            "provider": "CPUExecutionProvider",
            "band": band,
            "points_per_band": {band: 40},
            "data_version": 3,
            "alert_time": 1.7e9,
            "scored_at": 1.7e9,
        }
    ).encode()


def test_following_the_results_topic_with_filters(kafka_bootstrap):
    from confluent_kafka import Producer  # noqa: PLC0415

    topic = f"results-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    producer = Producer(producer_config(kafka_bootstrap))
    for value in [
        _result("a", "RRab", "r", 0.92, False),
        _result("b", "RRab", "g", 0.95, False),  # another band
        _result("c", "RRab", "r", 0.55, True),  # not sure enough
        _result("d", "EW", "r", 0.99, False),  # another class
        b"not a result",
        _result("e", "RRc", "r", 0.81, False),
    ]:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0
    kept = follow_results(
        kafka_bootstrap,
        topic,
        from_start=True,
        idle_s=0.5,
        labels={"RRab", "RRc"},
        min_probability=0.8,
        bands={"r"},
    )
    assert [r.object_id for r in kept] == ["a", "e"]
