import contextlib
import gzip
import io
import math

import fastavro
import numpy as np
import pytest

from classifier.readers import ReaderError, decode_alerts, detect_reader, read_file
from classifier.readers.ztf import dc_magnitude


# -- CSS ---------------------------------------------------------------------------------
def test_css_file_with_label_from_name(samples):
    (p,) = read_file(samples / "css_1001006032764-RRab.csv")
    assert (p.object_id, p.survey, p.label, p.bands) == ("1001006032764", "CSS", "RRab", ["V"])
    curve = p.curve()
    assert len(curve) == 260 and np.all(np.diff(curve.t) >= 0)
    assert curve.err is not None and p.rejected == ()


def test_css_repeated_mjds_are_kept_per_the_rule(samples):
    (p,) = read_file(samples / "css_1018079057480-RRab.csv")
    curve = p.curve()
    assert np.sum(np.diff(curve.t) == 0) == 2  # same MJD, different magnitudes: both kept
    assert len(curve) == 168 and curve.n_duplicates_dropped == 0


def test_real_css_exact_duplicates_are_dropped(shared_data):
    # Rows repeating both MJD and magnitude are one observation listed twice.
    files = sorted((shared_data / "crts_css" / "lightcurves").glob("*.csv"))
    dropped = expected = 0
    for path in files:
        dropped += read_file(path)[0].curve().n_duplicates_dropped
        rows = [line.split(",")[1:3] for line in path.read_text().splitlines()[1:]]
        expected += len(rows) - len({(float(t), float(m)) for t, m in rows})
    assert dropped == expected > 300


def test_css_corrupt_time_is_rejected_alone_and_reported(samples):
    (p,) = read_file(samples / "css_1009027036189-EW.csv")
    assert p.rejected[0] == (
        "band V: 1 of 257 points left out (t not finite or outside [-100000, 100000]: 1)"
    )
    assert p.rejected[1].startswith("band V, line 245: t=-2409998.5 is not finite or outside")
    assert len(p.rejected) == 2
    assert len(p.curve()) == 256


def test_every_real_css_file_reads(shared_data):
    files = sorted((shared_data / "crts_css" / "lightcurves").glob("*.csv"))
    assert len(files) == 5757
    n_rejected = 0
    for path in files:
        (p,) = read_file(path)
        assert len(p.curve()) >= 50 and p.label
        n_rejected += sum(note.startswith("band V, line ") for note in p.rejected)
    assert n_rejected == 4  # the four rows with MJD = -2409998.5


# -- EROS --------------------------------------------------------------------------------
def test_eros_two_bands(samples):
    objects = read_file(samples / "eros_lmc_sample.csv.gz")
    assert [p.object_id for p in objects] == ["135_9613", "271_4304", "223_530", "614_7246"]
    for p in objects:
        assert p.bands == ["B", "R"] and p.survey == "EROS"
        assert all(len(c) > 100 for c in p.curves.values())


def test_every_real_eros_object_reads(shared_data):
    for name, expected in (("train", 2912), ("test", 729)):
        objects = read_file(shared_data / "eros_lmc" / f"{name}_varlength_features.csv.gz")
        assert len(objects) == expected
        assert all(p.bands == ["B", "R"] for p in objects)


# -- generic CSV -------------------------------------------------------------------------
def test_generic_csv_jd_is_converted_and_equals_the_alert(samples):
    (csv_p,) = read_file(samples / "generic_ZTF17aaacxxf_dc.csv")
    (alert_p,) = read_file(samples / "ztf_schema3.2_ZTF17aaacxxf.avro")
    assert csv_p.bands == alert_p.bands == ["g", "r"]
    for band in ("g", "r"):
        np.testing.assert_allclose(csv_p.curves[band].t, alert_p.curves[band].t, atol=1e-6)
        np.testing.assert_allclose(csv_p.curves[band].mag, alert_p.curves[band].mag, atol=1e-5)


def test_julian_dates_in_a_time_column_are_converted_with_a_note(samples, tmp_path):
    """As ASAS-SN publishes: JD (2457008.77...) under a column that does not say so."""
    (css,) = read_file(samples / "css_1001006032764-RRab.csv")
    curve = css.curve()
    rows = [
        f"{float(t) + 2_400_000.5!r},{float(m)!r},{float(e)!r}"
        for t, m, e in zip(curve.t, curve.mag, curve.err, strict=True)
    ]
    path = tmp_path / "asassn.csv"
    path.write_text("time,mag,err\n" + "\n".join(rows) + "\n")
    (p,) = read_file(path)
    np.testing.assert_allclose(p.curve().t, curve.t, atol=1e-6)
    median = np.median(curve.t) + 2_400_000.5
    assert p.rejected == (
        f"band single: times read as Julian Dates (median {median:.1f} > 2,400,000) "
        "and converted to MJD = JD - 2400000.5",
    )


def test_a_refused_curve_names_each_rule_and_the_points_it_removed(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "mjd,mag\n" + "".join(f"{58000 + i},{99 + i}\n" for i in range(4)) + "58010,nan\n"
    )
    (p,) = read_file(path)
    assert p.curves == {}
    assert p.rejected[0] == (
        "band single: 5 of 5 points left out (mag not finite or outside [-30, 40]: 5)"
    )
    assert p.rejected[1] == "band single, line 2: mag=99 is not finite or outside [-30, 40]"
    assert len(p.rejected) == 4  # the summary and the first three


def test_generic_csv_any_case_aliases_ids_and_fid(tmp_path):
    path = tmp_path / "lc.csv"
    path.write_text(
        "OID,Time,MAGNITUDE,Err,fid\na,1,15,0.1,1\na,2,15.2,0.1,1\nb,1,16,0.1,2\n"
        "b,3,16.1,0.1,2\nb,4,16.3,0.1,2\n"
    )
    a, b = read_file(path)
    assert (a.object_id, a.bands, len(a.curve())) == ("a", ["g"], 2)
    assert (b.object_id, b.bands, len(b.curve())) == ("b", ["r"], 3)


def test_generic_csv_without_band_or_error(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("mjd,mag\n1,15\n2,15.5\n")
    (p,) = read_file(path)
    assert p.object_id == "plain" and p.bands == ["single"] and p.curve().err is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mjd,flux\n1,2\n", "unrecognised format"),
        ("mjd,mag\n1,abc\n", "line 2, mag"),
        ("mjd,mag\n1,15,3\n", "expected 2 columns, got 3"),
        ("mjd,mag\n", "no data rows"),
        ("", "unrecognised format"),
    ],
)
def test_generic_csv_errors_are_precise(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ReaderError, match=message):
        read_file(path)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(ReaderError, match="no such file"):
        read_file(tmp_path / "nope.csv")
    with pytest.raises(ReaderError, match="unknown format 'fits'"):
        read_file(tmp_path / "nope.csv", format="fits")


def test_corrupt_gzip_is_a_reader_error(tmp_path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(b"mjd,mag\n1,15\n2,16\n")[:20])
    with pytest.raises(ReaderError):
        read_file(path)


# -- ZTF ---------------------------------------------------------------------------------
def test_ztf_schema_32_detections_limits_and_dc(samples):
    data = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    (alert,) = decode_alerts(data)
    assert (alert.object_id, alert.schema_version) == ("ZTF17aaacxxf", "3.2")
    assert len(alert.detections) == 23 and len(alert.upper_limits) == 6
    assert len({d.candid for d in alert.detections}) == len(alert.detections)
    # The new candidate is the last detection in time; MJD = JD - 2400000.5.
    assert alert.detections[-1].candid == alert.candid == 739260766315010006
    assert alert.detections[-1].mjd == pytest.approx(2458493.7607639 - 2400000.5)
    p = alert.photometry()
    assert {b: len(c) for b, c in p.curves.items()} == {"g": 9, "r": 13}
    assert {b: len(u) for b, u in p.limits.items()} == {"g": 2, "r": 4}
    # A limit is never a magnitude: no limit time appears among the detections.
    limit_times = set(np.concatenate([u.t for u in p.limits.values()]).tolist())
    assert not limit_times & {d.mjd for d in alert.detections}


def test_ztf_dc_magnitude_formula():
    # isdiffpos 'f': the source is fainter than in the reference.
    m, e = dc_magnitude(15.371133804321289, 0.0445, False, 14.318999290466309, 0.016, 0.27)
    ref, diff = 10 ** (-0.4 * 14.318999290466309), 10 ** (-0.4 * 15.371133804321289)
    assert m == pytest.approx(-2.5 * math.log10(ref - diff))
    assert 0.016 < e < 0.2
    assert dc_magnitude(18.0, 0.1, True, 16.0, 0.02, 1.5) == (None, None)  # too far
    assert dc_magnitude(15.0, 0.1, False, 16.0, 0.02, 0.5) == (None, None)  # negative flux
    assert dc_magnitude(18.0, 0.1, True, None, None, None) == (None, None)


def test_ztf_schema_33_alert_without_history_detections(samples):
    (p,) = read_file(samples / "ztf_schema3.3_ZTF17aaajnnn.avro")
    assert p.curves == {} and len(p.limits["r"]) == 11
    with pytest.raises(ValueError, match="no band with 2 or more points"):
        p.curve()


def test_ztf_difference_magnitudes_use_positive_detections(samples):
    (alert,) = decode_alerts((samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes())
    p = alert.photometry("difference")
    n_positive = sum(d.positive for d in alert.detections)
    assert sum(len(c) for c in p.curves.values()) <= n_positive


def test_ztf_schema_4_and_duplicate_candids(samples):
    path = samples / "ztf_schema4.02_ZTF18adljlvp.avro"
    (alert,) = decode_alerts(path.read_bytes())
    assert alert.schema_version == "4.02"
    # Re-encode the record with its history listed twice: duplicates go by candid.
    with open(path, "rb") as handle:
        reader = fastavro.reader(handle)
        schema, (record,) = reader.writer_schema, list(reader)
    record["prv_candidates"] = record["prv_candidates"] * 2
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [record])
    (doubled,) = decode_alerts(buffer.getvalue())
    assert doubled.detections == alert.detections
    assert doubled.upper_limits == alert.upper_limits


def test_every_real_alert_decodes(shared_data):
    paths = sorted((shared_data / "ztf_alerts").rglob("*.avro"))
    assert len(paths) == 563
    versions = set()
    for path in paths:
        (alert,) = decode_alerts(path.read_bytes())
        versions.add(alert.schema_version)
        assert len({d.candid for d in alert.detections}) == len(alert.detections)
    assert versions == {"3.2", "3.3", "4.02"}


def _oracle(record: dict) -> tuple:
    """DESIGN.md's rules applied the obvious way to a fastavro record: detections deduplicated
    by candid (first wins), limits by (jd, fid), both sorted."""
    detections, limits = {}, {}
    rows = [record["candidate"], *(record["prv_candidates"] or [])]
    for i, row in enumerate(rows):
        if i == 0 or (row["candid"] is not None and row["magpsf"] is not None):
            positive = str(row.get("isdiffpos", "t")).lower() in ("t", "1", "true")
            dc = dc_magnitude(
                row["magpsf"],
                row["sigmapsf"],
                positive,
                row["magnr"],
                row["sigmagnr"],
                row["distnr"],
            )
            detections.setdefault(
                row["candid"],
                (
                    row["jd"] - 2400000.5,
                    row["candid"],
                    "_gri"[row["fid"]],
                    row["magpsf"],
                    positive,
                    dc,
                ),
            )
        elif row.get("diffmaglim") is not None:
            limits.setdefault((row["jd"] - 2400000.5, "_gri"[row["fid"]]), row["diffmaglim"])
    return (
        record["objectId"],
        sorted(detections.values(), key=lambda d: d[:2]),
        sorted(limits.items()),
    )


def _seen(alert) -> tuple:
    return (
        alert.object_id,
        [
            (d.mjd, d.candid, d.band, d.magpsf, d.positive, (d.dc_mag, d.dc_err))
            for d in alert.detections
        ],
        [((u.mjd, u.band), u.diffmaglim) for u in alert.upper_limits],
    )


def test_compiled_reading_equals_fastavro_on_every_real_alert(shared_data, samples):
    paths = [*sorted((shared_data / "ztf_alerts").rglob("*.avro")), *samples.glob("ztf_*.avro")]
    for path in paths:
        with open(path, "rb") as handle:
            records = list(fastavro.reader(handle))
        decoded = decode_alerts(path.read_bytes())
        assert [_seen(a) for a in decoded] == [_oracle(r) for r in records], path.name


def test_truncated_or_flipped_bytes_never_crash(samples):
    data = (samples / "ztf_schema4.02_ZTF18adljlvp.avro").read_bytes()
    rng = np.random.default_rng(11)
    for cut in rng.integers(1, len(data), 200):
        with pytest.raises(ValueError):
            decode_alerts(data[:cut])
    for position in rng.integers(len(data) - 47000, len(data), 300):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        with contextlib.suppress(ValueError):  # rejected with a reason, or other values
            decode_alerts(bytes(flipped))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:200], "corrupt Avro container"),
        (lambda b: b"\0" + b, "not an Avro container"),
        (lambda b: b"", "not an Avro container"),
    ],
)
def test_bad_alert_bytes(samples, mutate, message):
    data = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    with pytest.raises(ValueError, match=message):
        decode_alerts(mutate(data))


def test_alert_with_missing_and_bad_fields(samples):
    path = samples / "ztf_schema3.2_ZTF17aaacxxf.avro"
    with open(path, "rb") as handle:
        reader = fastavro.reader(handle)
        schema, (record,) = reader.writer_schema, list(reader)

    def encode(rec):
        buffer = io.BytesIO()
        fastavro.writer(buffer, schema, [rec])
        return buffer.getvalue()

    bad = dict(record, candidate=dict(record["candidate"], magpsf=float("nan")))
    with pytest.raises(ValueError, match=r"candidate\.magpsf: missing or not finite"):
        decode_alerts(encode(bad))
    bad = dict(record, candidate=dict(record["candidate"], fid=7))
    with pytest.raises(ValueError, match=r"candidate\.fid: 7 is not a ZTF filter"):
        decode_alerts(encode(bad))
    no_history = dict(record, prv_candidates=None)
    (alert,) = decode_alerts(encode(no_history))
    assert len(alert.detections) == 1 and alert.upper_limits == ()


def test_format_detection(samples):
    names = {
        path.name: detect_reader(path).name
        for path in samples.iterdir()
        if path.suffix in (".csv", ".gz", ".avro")
    }
    assert names["css_1001006006382-EW.csv"] == "css"
    assert names["eros_lmc_sample.csv.gz"] == "eros"
    assert names["generic_ZTF17aaacxxf_dc.csv"] == "csv"
    assert names["ztf_schema4.02_ZTF18adljlvp.avro"] == "ztf"


def test_deflate_containers_and_many_records_decode(samples):
    path = samples / "ztf_schema3.2_ZTF17aaacxxf.avro"
    with open(path, "rb") as handle:
        reader = fastavro.reader(handle)
        schema, (record,) = reader.writer_schema, list(reader)
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [record, dict(record, objectId="ZTF17copy")], codec="deflate")
    alerts = decode_alerts(buffer.getvalue())
    assert [a.object_id for a in alerts] == ["ZTF17aaacxxf", "ZTF17copy"]
    assert alerts[0].detections == decode_alerts(path.read_bytes())[0].detections
