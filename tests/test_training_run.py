"""End to end on real CSS curves, tiny: dmdt train -> report -> install -> dmdt predict."""

import csv
import json

import pytest

from classifier.bundle import BundleError, load_bundle
from classifier.features import SURVEY_NEUTRAL_FEATURES
from services.cli import main
from training.cadences import CADENCES


@pytest.fixture(scope="module")
def tiny_run(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    models = root / "models"
    patch = pytest.MonkeyPatch()
    patch.setenv("DMDT_MODELS_DIR", str(models))
    code = main(
        [
            "train",
            str(shared_data / "crts_css" / "lightcurves"),
            "--out",
            str(root / "run"),
            "--per-class",
            "20",
            "--epochs",
            "2",
            "--variants",
            "1",
            "--seed",
            "7",
            "--split-seed",
            "2017",
            "--cadence-views",
            "1",
            "--features",
            "survey-neutral",
            "--transients",
            str(shared_data / "transients_osc"),
            "--transient-limit",
            "30",
            "--quasars",
            str(shared_data / "gaia_qso"),
            "--quasar-limit",
            "30",
            "--eros",
            str(shared_data / "eros_lmc"),
            "--eros-limit",
            "4",
            "--install",
        ]
    )
    yield root, code
    patch.undo()


def test_train_writes_candidates_report_and_installs_a_bundle(tiny_run):
    root, code = tiny_run
    assert code == 0
    run = root / "run"
    info = json.loads((run / "run.json").read_text())
    assert set(info["candidates"]) == {"mahabal2017", "dmdtnet", "hybrid", "forest"}
    for name in ("mahabal2017", "dmdtnet", "hybrid"):
        assert info["candidates"][name]["onnx_max_abs_logit_diff"] < 1e-4
        bundle = load_bundle(run / "candidates" / name)
        assert bundle.card.classes == ["EW", "EA", "RRab", "RRc", "RRd", "RS_CVn", "LPV", "other"]
        assert {"cadence", "max", "rpca", "class:EW"} <= set(bundle.backgrounds)
    split = json.loads((run / "split.json").read_text())
    assert len(split["test"]) == 7 * 3 and split["seed"] == 2017  # 15% of 20 a class
    hybrid = load_bundle(run / "candidates" / "hybrid")
    training = hybrid.card.training_data
    assert (training["split_seed"], training["training_seed"]) == (2017, 7)
    assert hybrid.feature_names == SURVEY_NEUTRAL_FEATURES  # the survey-encoding ones left out
    assert hybrid.card.inputs["features"] == [None, len(SURVEY_NEUTRAL_FEATURES)]
    assert "training/cadences.py" in training["cadence_views"]
    assert info["candidates"]["forest"]["feature_names"] == list(SURVEY_NEUTRAL_FEATURES)
    sources = training["other"]["sources"]
    assert sources["transients"] == sources["quasars"] == 30 and sources["constant"] > 0
    assert training["train_per_class"]["other"] == sum(sources.values())
    eros = training["eros"]["curves"]  # 4 a type and band; binaries and RR Lyrae as sets
    assert eros == {"EW|EA": 8, "LPV": 8, "RRab|RRc|RRd": 8, "other": 8}
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert set(evaluation["models"]["hybrid"]["macro_f1_by_points"]) == {
        "first_5",
        "first_10",
        "first_20",
        "first_50",
        "first_100",
        "all",
    }
    assert set(evaluation["models"]["hybrid"]["macro_f1_by_cadence"]) == set(CADENCES)
    report = run / "report"
    for picture in (
        "confusion.png",
        "macro_f1_by_points.png",
        "reliability.png",
        "models.png",
        "backgrounds.png",
    ):
        assert (report / picture).read_bytes().startswith(b"\x89PNG")
    summary = (report / "summary.md").read_text()
    assert "## Targets" in summary and "forest" in summary
    assert "## At other surveys' cadences" in summary
    installed = list((root / "models").iterdir())
    assert len(installed) == 1 and installed[0].name == f"css-{evaluation['shipped']}"
    assert load_bundle(installed[0]).card.name == installed[0].name


def test_predict_with_the_installed_bundle(tiny_run, samples, tmp_path, capsys):
    root, _ = tiny_run
    (model,) = (root / "models").iterdir()
    broken = tmp_path / "broken.avro"
    broken.write_bytes(b"Obj\x01 not really")
    out = tmp_path / "preds.csv"
    assert (
        main(["predict", str(samples), str(broken), "--model", str(model), "--out", str(out)]) == 0
    )
    rows = list(csv.DictReader(out.open()))
    header = list(rows[0])
    assert header[:7] == ["path", "object_id", "band", "n_points", "label", "confidence", "unknown"]
    assert header[7:] == [f"p_{c}" for c in load_bundle(model).card.classes] + ["error", "notes"]
    classified = [r for r in rows if r["label"]]
    errors = [r for r in rows if r["error"]]
    assert len(classified) == 25  # every band of every bundled object with >= 5 points
    assert any("corrupt Avro" in r["error"] for r in errors if r["path"] == str(broken))
    assert any(r["object_id"] == "ZTF17aaajnnn" for r in errors)  # no detections to classify
    for row in classified:
        total = sum(float(row[f"p_{c}"]) for c in load_bundle(model).card.classes)
        assert total == pytest.approx(1.0, abs=1e-3)
    assert "25 curves classified" in capsys.readouterr().err


def test_a_tampered_bundle_is_refused(tiny_run, tmp_path):
    root, _ = tiny_run
    (model,) = (root / "models").iterdir()
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("card.json", "model.onnx"):
        (copy / name).write_bytes((model / name).read_bytes())
    onnx = bytearray((copy / "model.onnx").read_bytes())
    onnx[-10] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(onnx))
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(copy)
    card = json.loads((model / "card.json").read_text())
    card["grid"]["dm_edges"] = card["grid"]["dm_edges"][:-1]
    (copy / "model.onnx").write_bytes((model / "model.onnx").read_bytes())
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="does not match the grid"):
        load_bundle(copy)
    assert main(["predict", str(tmp_path), "--model", str(copy)]) == 2


def test_evaluate_measures_held_out_transients_and_quasars(tiny_run, shared_data, tmp_path):
    root, _ = tiny_run
    data = shared_data / "crts_css" / "lightcurves"
    args = ["evaluate", str(data), "--run", str(root / "run"), "--out", str(tmp_path)]
    args += ["--transients", str(shared_data / "transients_osc")]
    args += ["--quasars", str(shared_data / "gaia_qso"), "--quasar-limit", "40"]
    args += ["--eros", str(shared_data / "eros_lmc")]
    assert main(args) == 0
    evaluation = json.loads((root / "run" / "evaluation.json").read_text())
    outside = evaluation["models"]["hybrid"]["nonmembers"]
    assert outside["quasars"]["n"] == 40 and outside["transients"]["n"] > 200
    for measured in outside.values():
        for key in ("roc_auc", "rejected_at_5pct", "flagged_other", "median_confidence_other"):
            assert 0.0 <= measured[key] <= 1.0
    eros = evaluation["models"]["hybrid"]["eros"]
    assert set(eros) == {"B", "R"} and all(0 <= e["group_accuracy"] <= 1 for e in eros.values())
    answers = evaluation["models"]["hybrid"]["answers_by_cadence"]
    assert set(answers) == set(CADENCES)
    for found in answers.values():
        assert 0 <= found["answered_other"] <= found["rejected"] <= 1
    short = evaluation["models"]["hybrid"]["at_first_points"]
    assert set(short) == {"first_20", "first_50"}
    for cut in short.values():
        assert set(cut["macro_f1_by_cadence"]) == set(cut["cadence_rejected"]) == set(CADENCES)
        assert set(cut["nonmembers_rejected"]) == {"transients", "quasars"}
        assert set(cut["eros_group_accuracy"]) == {"B", "R"} and 0 <= cut["css_rejected"] <= 1
    summary = (tmp_path / "summary.md").read_text()
    assert "## Real curves outside the 7 classes" in summary and "## EROS-1" in summary
    assert "## Whole curves and their first 50 and 20 points" in summary
    assert "## The 7 classes at other cadences: what the answers are" in summary
    assert "| hybrid | EROS-1 group accuracy | EROS-1 B |" in summary
    assert "| hybrid | answered other or unknown | CSS test at ztf cadence |" in summary
    assert (tmp_path / "by_length.png").stat().st_size > 10_000
