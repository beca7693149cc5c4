"""dmdt experiments on the bundled samples (small), and the invariances it reports."""

import shutil

import numpy as np
import pytest

from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.readers import read_file
from services.cli import main

pytest.importorskip("sklearn")


def test_dmdt_counts_ignore_a_magnitude_offset_and_a_time_shift(samples):
    grid = DmDtGrid.preset("crts")
    for path in sorted(samples.glob("css_*.csv")):
        curve = read_file(path)[0].curve()
        moved = LightCurve(curve.t + 1024.0, curve.mag + 0.5, curve.err)
        assert np.array_equal(grid.counts(moved), grid.counts(curve)), path.name


def test_experiments_write_a_report_with_pictures(samples, tmp_path, capsys):
    data = tmp_path / "css"
    data.mkdir()
    for path in samples.glob("css_*.csv"):
        shutil.copy(path, data / path.name.removeprefix("css_"))
    out = tmp_path / "report"
    assert main(["experiments", str(data), "--out", str(out), "--split", "none"]) == 0
    assert "left out: binary (no split file none)" in capsys.readouterr().err
    report = (out / "report.md").read_text()
    assert "## Robustness" in report and "(robustness.png)" in report
    assert (out / "robustness.png").stat().st_size > 10_000
    assert "## What the network looks at" in report and "Most telling bin: " in report
    assert "## The most confident errors" in report
    assert "## Which inputs encode the survey" in report and "(leakage.png)" in report
    assert "| log10_n_points |" in report and "| dm-dt image |" in report
    assert (out / "leakage.png").stat().st_size > 10_000
    assert (out / "confident_errors.png").stat().st_size > 10_000
    for model in ("css-hybrid", "css-dmdtnet"):
        assert (out / f"saliency_{model}.png").stat().st_size > 10_000
    row = next(line for line in report.splitlines() if line.startswith("| css-dmdtnet"))
    clean, *_, offset, shift = (float(v) for v in row.strip("| ").split(" | ")[1:])
    assert offset == shift == clean  # the image-only model sees the same images
    (out / "robustness.png").unlink()
    assert (
        main(["experiments", str(data), "--out", str(out), "--only", "errors", "--split", "none"])
        == 0
    )
    again = (out / "report.md").read_text()
    assert again.index("## Robustness") < again.index("## The most confident errors")
    assert not (out / "robustness.png").exists()  # kept from the first run, not recomputed
    assert main(["experiments", str(data), "--only", "nope"]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err


def test_training_experiments_need_a_split(samples, tmp_path, capsys):
    assert main(["experiments", str(samples), "--only", "binary", "--split", "none"]) == 2
    assert "train on a split's train/val/test parts" in capsys.readouterr().err


def test_training_experiments_write_their_sections(shared_data, tmp_path):
    """The six training experiments on 12 real curves a class and part, 2 epochs a net."""
    out = tmp_path / "report"
    argv = ["experiments", str(shared_data / "crts_css" / "lightcurves"), "--out", str(out)]
    argv += ["--only", "binary", "backgrounds", "binning", "minority", "fgsm", "transfer"]
    argv += ["--eros", str(shared_data / "eros_lmc"), "--per-class", "12", "--epochs", "2"]
    assert main([*argv, "--seeds", "2"]) == 0  # every experiment but the shipped models'
    report = (out / "report.md").read_text()
    assert "on 84 training curves, with\n84 for validation and 84 for test" in report
    assert "the mean of 2 seeds (2017, 2018; initial" in report
    for heading in ("Binary mode", "Background subtraction", "Binning", "Minority classes"):
        assert f"### {heading}" in report
    for picture in ("binary_pairs", "binary_points", "background_composite", "fgsm"):
        assert f"({picture}.png)" in report
        assert (out / f"{picture}.png").stat().st_size > 10_000
    binning = [line for line in report.splitlines() if line.startswith("| finer dm |")]
    assert binning and "| 32 x 24 |" in binning[0]
    assert "EROS test curves (R band: Cepheid 12, Mira 12, RR Lyrae 12, binary 12)" in report
    shipped = [line for line in report.splitlines() if line.startswith("| css-")]
    assert len(shipped) == 4  # two shipped models, two EROS bands
    assert "| fine-tuned from CSS |" in report and "| EROS only |" in report
    assert "## Robustness" not in report  # only what was asked


def test_seeds_must_be_a_whole_number_of_at_least_one(samples, capsys):
    for bad in ("0", "1.5", "two"):
        with pytest.raises(SystemExit) as stopped:  # argparse's usage error
            main(["experiments", str(samples), "--seeds", bad])
        assert stopped.value.code == 2
        assert f"argument --seeds: '{bad}' is not" in capsys.readouterr().err


def test_transfer_needs_the_eros_folder(shared_data, tmp_path, capsys):
    css = str(shared_data / "crts_css" / "lightcurves")
    assert main(["experiments", css, "--only", "transfer"]) == 2
    assert "the transfer experiment needs the EROS-1 folder: None" in capsys.readouterr().err
    assert main(["experiments", css, "--only", "transfer", "--eros", str(tmp_path)]) == 2
    assert f"no {tmp_path / 'train.csv'}" in capsys.readouterr().err
