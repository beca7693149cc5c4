import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from classifier.defaults import DEFAULT_MODEL
from classifier.grid import DmDtGrid
from classifier.readers import read_file
from services.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_image_of_a_css_file_as_png_and_json(samples, tmp_path, capsys):
    path = samples / "css_1001006032764-RRab.csv"
    png = tmp_path / "rrab.png"
    assert main(["image", str(path), "--out", str(png)]) == 0
    assert capsys.readouterr().out.strip() == str(png)
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 20_000

    out = tmp_path / "rrab.json"
    assert main(["image", str(path), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    grid = DmDtGrid.preset("crts")
    curve = read_file(path)[0].curve()
    assert doc["n_points"] == 260 and doc["n_pairs"] == 260 * 259 // 2
    assert doc["dm_edges"] == grid.dm_edges.tolist() and doc["dt_edges"] == grid.dt_edges.tolist()
    assert np.array_equal(np.array(doc["counts"]), grid.counts(curve))
    np.testing.assert_allclose(
        np.array(doc["image"]), 255 * np.array(doc["counts"]) / doc["n_pairs"], rtol=1e-6
    )
    assert (doc["object_id"], doc["band"], doc["bins"], doc["norm"]) == (
        "1001006032764",
        "V",
        "crts",
        "mahabal",
    )


def test_image_of_a_ztf_alert_per_band_with_scope_bins(samples, tmp_path):
    alert = samples / "ztf_schema3.2_ZTF17aaacxxf.avro"
    out = tmp_path / "ztf.json"
    assert (
        main(
            [
                "image",
                str(alert),
                "--band",
                "r",
                "--bins",
                "scope",
                "--norm",
                "mahabal-uint8",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    assert (doc["band"], doc["n_points"]) == ("r", 13)
    assert np.array(doc["image"]).shape == (26, 26)
    assert np.array(doc["image"]).dtype.kind == "i" and np.max(doc["image"]) <= 255


def test_image_as_npy_and_default_output_name(samples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eros = samples / "eros_lmc_sample.csv.gz"
    assert (
        main(
            [
                "image",
                str(eros),
                "--object",
                "271_4304",
                "--band",
                "B",
                "--norm",
                "l2",
                "--out",
                "mira.npy",
            ]
        )
        == 0
    )
    image = np.load(tmp_path / "mira.npy")
    assert image.shape == (22, 24) and np.linalg.norm(image) == pytest.approx(1.0, rel=1e-6)
    assert main(["image", str(samples / "css_1001009050644-LPV.csv")]) == 0
    assert (tmp_path / "1001009050644_V_dmdt.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["image", "missing.csv"], "missing.csv: no such file"),
        (["image", "{samples}/eros_lmc_sample.csv.gz"], "holds 4 objects"),
        (["image", "{samples}/eros_lmc_sample.csv.gz", "--object", "x"], "no object 'x'"),
        (
            ["image", "{samples}/css_1001009050644-LPV.csv", "--band", "g"],
            "has no usable band 'g'; it has ['V']",
        ),
        (["image", "{samples}/css_1001009050644-LPV.csv", "--out", "x.gif"], "--out must end"),
        (["image", "{samples}/ztf_schema3.3_ZTF17aaajnnn.avro"], "no band with 2 or more"),
        (["image", "{samples}/PROVENANCE.md"], "unrecognised format"),
        (["image", "{samples}"], "is a folder"),
        (
            ["image", "{samples}/css_1001009050644-LPV.csv", "--out", "/proc/x/y.png"],
            "cannot write /proc/x/y.png",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(samples, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main([a.format(samples=samples) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dmdt: error: ") and message in err


def test_console_script_runs_and_rejects_bad_options(samples, tmp_path):
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "image",
            str(samples / "css_1001006006382-EW.csv"),
            "--out",
            str(tmp_path / "ew.png"),
        ],
        capture_output=True,
        check=False,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "services.cli", "image", "x.csv", "--bins", "fine"],
        capture_output=True,
        check=False,
        text=True,
    )
    assert bad.returncode == 2 and "invalid choice: 'fine'" in bad.stderr


def test_gallery_renders_every_bundled_sample(tmp_path, capsys):
    assert main(["gallery", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == len(sorted(tmp_path.glob("*.json"))) == 25
    assert "25 dm-dt images" in out and "RRab" in out and "ZTF17aaacxxf band r" in out


def test_predict_with_the_shipped_model(samples, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DMDT_MODELS_DIR", raising=False)
    out = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                str(samples / "css_1001009050644-LPV.csv"),
                str(samples / "css_1001006032764-RRab.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = {r["object_id"]: r for r in csv.DictReader(out.open())}
    assert rows["1001009050644"]["label"] == "LPV"
    assert rows["1001006032764"]["label"] == "RRab"
    assert f"model {DEFAULT_MODEL}, CPUExecutionProvider" in capsys.readouterr().err
