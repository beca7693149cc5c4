"""``dmdt ensemble`` on two tiny real training runs: one bundle whose logits are the mean of
its members', calibrated, evaluated and installed; members that cannot be averaged refused."""

import json
import shutil

import numpy as np
import pytest

from classifier.bundle import load_bundle
from classifier.inference import OnnxClassifier
from services.cli import main


def _data_options(shared_data) -> list[str]:
    """The split and the non-members, the same for the members and the ensemble."""
    return [
        *("--per-class", "12", "--split-seed", "2017"),
        *("--transients", str(shared_data / "transients_osc"), "--transient-limit", "10"),
        *("--quasars", str(shared_data / "gaia_qso"), "--quasar-limit", "10"),
    ]


def _train(shared_data, out, seed: int) -> int:
    css = str(shared_data / "crts_css" / "lightcurves")
    return main(
        [
            *("train", css, "--out", str(out), "--architectures", "hybrid", "--epochs", "1"),
            *("--variants", "1", "--seed", str(seed), "--features", "survey-neutral"),
            *_data_options(shared_data),
        ]
    )


def _ensemble_args(shared_data, out, members) -> list[str]:
    css = str(shared_data / "crts_css" / "lightcurves")
    return [
        *("ensemble", css, "--out", str(out), "--members", *map(str, members)),
        *_data_options(shared_data),
    ]


@pytest.fixture(scope="module")
def two_runs(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    runs = [root / "seed7", root / "seed8"]
    assert [_train(shared_data, run, seed) for run, seed in zip(runs, (7, 8), strict=True)] == [
        0,
        0,
    ]
    return root, runs


def test_the_ensemble_answers_the_mean_of_its_members_logits(two_runs, shared_data, monkeypatch):
    root, runs = two_runs
    monkeypatch.setenv("DMDT_MODELS_DIR", str(root / "models"))
    out = root / "ensemble"
    assert main([*_ensemble_args(shared_data, out, runs), "--install"]) == 0
    bundle = load_bundle(root / "models" / "survey-hybrid")
    assert bundle.card.name == "survey-hybrid" and bundle.card.architecture == "hybrid-ensemble"
    members = bundle.card.training_data["ensemble"]
    assert [m["training_seed"] for m in members] == [7, 8]
    assert bundle.card.metrics["onnx_max_abs_logit_diff"] < 1e-4
    assert bundle.card.temperature > 0 and 0 <= bundle.card.unknown_threshold <= 1
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert (
        evaluation["shipped"] == "hybrid"
        and "first_20" in (evaluation["models"]["hybrid"]["macro_f1_by_points"])
    )
    assert (out / "report" / "summary.md").is_file()

    ensemble = OnnxClassifier(bundle)
    singles = [OnnxClassifier(load_bundle(run / "candidates" / "hybrid")) for run in runs]
    rng = np.random.default_rng(3)
    n_features = len(bundle.card.feature_names or ())
    inputs = {
        "image": rng.uniform(0, 1, (9, 1, *bundle.grid.shape)).astype(np.float32),
        "features": rng.normal(0, 1, (9, n_features)).astype(np.float32),
    }
    mean = np.mean([single.logits(inputs) for single in singles], axis=0)
    np.testing.assert_allclose(ensemble.logits(inputs), mean, atol=1e-4)
    assert not np.allclose(singles[0].logits(inputs), singles[1].logits(inputs), atol=1e-2)


def test_a_member_trained_on_another_split_is_refused(two_runs, shared_data, tmp_path, capsys):
    _, runs = two_runs
    moved = tmp_path / "moved"
    shutil.copytree(runs[1], moved)
    split = json.loads((moved / "split.json").read_text())
    split["train"].append(split["test"].pop())
    (moved / "split.json").write_text(json.dumps(split))
    args = _ensemble_args(shared_data, tmp_path / "out", [runs[0], moved])
    assert main(args) == 2
    assert f"{moved}: trained on another split" in capsys.readouterr().err


def test_one_member_is_not_an_ensemble(two_runs, shared_data, tmp_path, capsys):
    _, runs = two_runs
    assert main(_ensemble_args(shared_data, tmp_path / "out", runs[:1])) == 2
    assert "an ensemble needs at least 2 runs, got 1" in capsys.readouterr().err


def test_a_named_ensemble_is_installed_under_its_name(two_runs, shared_data, monkeypatch):
    root, runs = two_runs
    monkeypatch.setenv("DMDT_MODELS_DIR", str(root / "named-models"))
    args = [*_ensemble_args(shared_data, root / "named", runs), "--name", "css-hybrid"]
    assert main([*args, "--install"]) == 0
    assert load_bundle(root / "named-models" / "css-hybrid").card.name == "css-hybrid"
    assert not (root / "named-models" / "survey-hybrid").exists()


def test_a_name_that_is_not_a_folder_name_is_refused(shared_data, tmp_path, capsys):
    args = _ensemble_args(shared_data, tmp_path / "out", [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--name", "../elsewhere"])
    assert stopped.value.code == 2
    assert "'../elsewhere': 1-64 lower-case letters" in capsys.readouterr().err
