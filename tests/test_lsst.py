"""Rubin/LSST alerts: the real alert, Rubin's sample alerts of schemas 9.0-11.0, round trips
from light curves, the schema sources (folder, package, a real HTTP schema registry)."""

from __future__ import annotations

import csv
import http.server
import io
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import fastavro
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.lightcurve import LightCurve
from classifier.readers import ReaderError, SchemaCatalog, detect_reader, read_file
from classifier.readers.lsst import decode_lsst_alerts
from classifier.readers.lsst_schemas import (
    FolderSchemas,
    SchemaRegistryError,
    UnknownSchemaError,
    package_schemas_root,
    schema_id,
)
from services.cli.main import main
from sources.lsst_alerts import LsstAlertWriter, curve_alerts

SAMPLES = Path(__file__).resolve().parents[1] / "classifier" / "samples"
REAL = "lsst_v9.0_7912941781254298.avro"
VERSIONS = ("9.0", "10.0", "11.0")


@pytest.fixture(scope="module")
def package_schemas() -> Path:
    root = package_schemas_root()
    assert root is not None, "lsst-alert-packet is a test requirement (make test installs it)"
    return root


@pytest.fixture(scope="module")
def catalog() -> SchemaCatalog:
    return SchemaCatalog.configured()


def _sample_alert(package_schemas: Path, version: str) -> Path:
    major, minor = version.split(".")
    return package_schemas / major / minor / "sample_data" / "fakeAlert.avro"


def test_the_real_alert_decodes_to_its_one_r_point(samples, catalog):
    (alert,) = decode_lsst_alerts((samples / REAL).read_bytes(), catalog)
    assert alert.object_id == "LSST:7912941781254298" and alert.schema_version == "9.0"
    points, skipped = alert.points()
    ((point,),) = points.values()
    assert list(points) == ["r"] and not skipped
    assert point.mjd == pytest.approx(60961.23309222222)
    assert point.mag == pytest.approx(-2.5 * np.log10(44312.78125) + 31.4)
    assert point.err == pytest.approx(2.5 / np.log(10) * 244.25885009765625 / 44312.78125)
    # its difference flux is negative: no difference magnitude, skipped and counted
    assert alert.points("difference") == ({}, {"psfFlux not positive": 1})


def test_the_real_alert_is_recognised_and_says_it_has_one_point(samples, capsys):
    assert detect_reader(samples / REAL).name == "lsst"
    assert main(["predict", str(samples / REAL)]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["object_id"] == "LSST:7912941781254298" and row["label"] == ""
    assert row["error"] == (
        "no band with 2 or more valid points (band r: 1 valid point; a light curve needs 2 or more)"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_rubin_sample_alerts_match_fastavro(package_schemas, version):
    path = _sample_alert(package_schemas, version)
    assert detect_reader(path).name == "lsst"  # a Rubin container, not a ZTF one
    (ours,) = decode_lsst_alerts(path.read_bytes())
    with path.open("rb") as handle:
        (theirs,) = list(fastavro.reader(handle))
    assert ours.schema_version == version
    assert ours.object_id == f"LSST:{theirs['diaObject']['diaObjectId']}"
    expected = [theirs["diaSource"], *(theirs["prvDiaSources"] or [])]
    assert sorted(s.source_id for s in ours.detections) == sorted(
        s["diaSourceId"] for s in expected
    )
    by_id = {s["diaSourceId"]: s for s in expected}
    for source in ours.detections:
        record = by_id[source.source_id]
        assert (source.mjd, source.band, source.psf_flux) == (
            record["midpointMjdTai"],
            record["band"],
            pytest.approx(record["psfFlux"]),
        )
    # the sample's scienceFlux is null: no DC point, each skipped with its reason
    assert ours.points() == ({}, {"scienceFlux missing": len(expected)})
    (photometry,) = read_file(path)
    assert photometry.curves == {} and "3 point(s) skipped: scienceFlux missing" in (
        photometry.rejected
    )
    difference = ours.photometry("difference")
    assert len(difference.curves["r"]) == len(expected)


def _curve() -> LightCurve:
    (photometry,) = read_file(SAMPLES / "css_1001006032764-RRab.csv")
    return photometry.curve()


@pytest.mark.parametrize("version", ["10.0", "11.0"])
def test_a_css_curve_as_lsst_alerts_decodes_to_the_same_points(catalog, version):
    curve = _curve()
    alerts = list(
        curve_alerts(curve, "CSS1001006032764", LsstAlertWriter(catalog, version), history_days=1e5)
    )
    assert len(alerts) == len(curve) and alerts[0].packet[0] == 0
    assert int.from_bytes(alerts[0].packet[1:5], "big") == schema_id(version)
    (last,) = decode_lsst_alerts(alerts[-1].packet, catalog)
    assert last.object_id == "LSST:1001006032764" and last.schema_version == version
    (decoded,) = last.photometry().curves.values()
    np.testing.assert_array_equal(decoded.t, curve.t)
    np.testing.assert_allclose(decoded.mag, curve.mag, atol=1e-6)  # float32 fluxes
    np.testing.assert_allclose(decoded.err, curve.err, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(50000, 61000, allow_nan=False),
            st.floats(10, 24, allow_nan=False),
            st.floats(0.001, 1.0, allow_nan=False),
        ),
        min_size=2,
        max_size=40,
        unique_by=lambda p: p[0],
    ),
    st.sampled_from("ugrizy"),
)
def test_any_curve_round_trips_through_lsst_alerts(points, band):
    catalog = SchemaCatalog.configured()
    points.sort()
    curve = LightCurve(*map(np.array, zip(*points, strict=True)))
    *_, last = curve_alerts(curve, "obj-7", LsstAlertWriter(catalog), band=band, history_days=1e6)
    (alert,) = decode_lsst_alerts(last.packet, catalog)
    decoded = alert.band_points()[band]
    np.testing.assert_array_equal([p.mjd for p in decoded], curve.t)
    np.testing.assert_allclose([p.mag for p in decoded], curve.mag, atol=1e-5)


def test_history_is_deduplicated_and_forced_sources_are_an_option(catalog):
    writer = LsstAlertWriter(catalog, "11.0")
    curve = LightCurve([60000.0, 60001.0, 60002.0], [18.0, 18.5, 18.2], [0.02, 0.02, 0.02])
    *_, last = curve_alerts(curve, "CSS9", writer)
    record = fastavro.schemaless_reader(io.BytesIO(last.packet[5:]), writer.parsed)
    repeated = record["prvDiaSources"][0]
    forced_record = {
        "diaForcedSourceId": 77,
        "diaObjectId": 9,
        "ra": 0.0,
        "dec": 0.0,
        "visit": 1,
        "detector": 0,
        "psfFlux": 10.0,
        "psfFluxErr": 1.0,
        "midpointMjdTai": 60005.0,
        "scienceFlux": 2000.0,
        "scienceFluxErr": 20.0,
        "band": "r",
        "timeProcessedMjdTai": 60005.0,
        "timeWithdrawnMjdTai": None,
    }
    same_visit = {**forced_record, "diaForcedSourceId": 78, "midpointMjdTai": 60000.0}
    record["prvDiaSources"].append(repeated)
    record["prvDiaForcedSources"] = [forced_record, same_visit]
    buffer = io.BytesIO(last.packet[:5])
    buffer.seek(5)
    fastavro.schemaless_writer(buffer, writer.parsed, record)
    (alert,) = decode_lsst_alerts(buffer.getvalue(), catalog)
    assert len(alert.detections) == 3 and len(alert.forced_sources) == 2
    assert [p.candid for p in alert.band_points()["r"]] == [s.source_id for s in alert.detections]
    with_forced = alert.band_points(forced=True)["r"]
    assert len(with_forced) == 4  # the forced source of a detected visit is not a 2nd point
    assert (with_forced[-1].candid, with_forced[-1].mjd) == (-1 - 77, 60005.0)


def test_schemas_from_a_folder_in_either_layout(tmp_path, package_schemas, samples):
    data = (samples / REAL).read_bytes()
    flat = tmp_path / "flat"
    shutil.copytree(package_schemas / "9" / "0", flat / "9.0")
    nested = tmp_path / "nested"
    shutil.copytree(package_schemas / "9" / "0", nested / "9" / "0")
    for root in (flat, nested):
        (alert,) = decode_lsst_alerts(data, SchemaCatalog.configured(folder=root))
        assert alert.object_id == "LSST:7912941781254298"
    assert FolderSchemas(flat).versions() == ["9.0"]
    with pytest.raises(UnknownSchemaError, match=r"schema id 1000 .* it holds 9.0"):
        decode_lsst_alerts(
            data[:1] + (1000).to_bytes(4, "big") + data[5:], SchemaCatalog.configured(folder=flat)
        )


def test_without_any_schema_source_the_error_says_what_to_set(samples):
    with pytest.raises(UnknownSchemaError, match="set DMDT_LSST_SCHEMA_REGISTRY"):
        decode_lsst_alerts((samples / REAL).read_bytes(), SchemaCatalog(None))


class _Registry(http.server.ThreadingHTTPServer):
    """A Confluent schema registry's one read route, ``GET /schemas/ids/{id}``."""

    def __init__(self, schemas: dict[int, dict]) -> None:
        self.schemas = schemas
        self.requests: list[str] = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                identifier = self.path.rsplit("/", 1)[-1]
                schema = registry.schemas.get(int(identifier)) if identifier.isdigit() else None
                if schema is None:
                    body, status = b'{"error_code": 40403, "message": "Schema not found"}', 404
                else:
                    body, status = json.dumps({"schema": json.dumps(schema)}).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def registry(catalog) -> Iterator[_Registry]:
    server = _Registry({900: catalog.schema(900)})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_schemas_from_a_registry_are_fetched_once_per_id(registry, samples):
    url = f"http://127.0.0.1:{registry.server_address[1]}"
    data = (samples / REAL).read_bytes()
    remote = SchemaCatalog.configured(registry_url=url)
    for _ in range(3):
        (alert,) = decode_lsst_alerts(data, remote)
        assert alert.object_id == "LSST:7912941781254298"
    assert registry.requests == ["/schemas/ids/900"]
    with pytest.raises(UnknownSchemaError, match="schema id 1000 is not in the registry"):
        decode_lsst_alerts(data[:1] + (1000).to_bytes(4, "big") + data[5:], remote)


def test_a_registry_that_does_not_answer_is_unavailable_not_an_unknown_schema(samples):
    gone = SchemaCatalog.configured(registry_url="http://127.0.0.1:1")
    with pytest.raises(SchemaRegistryError, match=r"schema registry http://127\.0\.0\.1:1"):
        decode_lsst_alerts((samples / REAL).read_bytes(), gone)


def test_a_solar_system_file_is_refused_with_the_reason(tmp_path, catalog):
    writer = LsstAlertWriter(catalog, "10.0")
    source = writer.source(5, 1, 60000.0, "g", 20.0, 0.1, 0.0)
    path = tmp_path / "sso.avro"
    path.write_bytes(writer.encode({**source, "diaObjectId": None, "ssObjectId": 99}, []))
    with pytest.raises(ReaderError, match=r"solar-system source \(ssObjectId 99"):
        read_file(path)


def test_predict_on_an_lsst_alert_answers_as_on_the_csv(samples, tmp_path, capsys, catalog):
    csv_path = samples / "css_1001006032764-RRab.csv"
    *_, last = curve_alerts(
        _curve(), "CSS1001006032764", LsstAlertWriter(catalog), history_days=1e5
    )
    alert_path = tmp_path / "lsst_alert.avro"
    alert_path.write_bytes(last.packet)
    assert main(["predict", str(csv_path), str(alert_path)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["object_id"] for r in rows] == ["1001006032764", "LSST:1001006032764"]
    from_csv, from_alert = rows
    assert from_csv["n_points"] == from_alert["n_points"]
    assert from_csv["label"] == from_alert["label"] == "RRab"
    for name in from_csv:
        if name.startswith("p_") or name == "confidence":
            assert float(from_alert[name]) == pytest.approx(float(from_csv[name]), abs=2e-4)
