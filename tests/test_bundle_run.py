"""A run folder of installed bundles (``dmdt evaluate --bundles``): made only from bundles
trained on one split, which it remakes; refused otherwise with the reason."""

from __future__ import annotations

import json
import shutil

import pytest

from classifier.bundle import CARD, load_bundle
from classifier.registry import DEFAULT_MODELS_DIR
from services.cli import main
from training.bundle_run import BundleRunError, bundle_run
from training.dataset import Split, list_css
from training.evaluate import Candidate, _shipped


def _bundles(*names: str):
    return [load_bundle(DEFAULT_MODELS_DIR / name) for name in names]


def test_a_run_of_installed_bundles_shares_their_split(shared_data, tmp_path):
    data = shared_data / "crts_css" / "lightcurves"
    run = bundle_run(tmp_path / "run", _bundles("mixed-two", "css-dmdtnet"), data)
    assert Split.load(run / "split.json").parts == Split.make(list_css(data), 2017).parts
    written = json.loads((run / "run.json").read_text())
    assert written["shipped"] == "mixed-two" and set(written["candidates"]) == {
        "mixed-two",
        "css-dmdtnet",
    }
    copied = load_bundle(run / "candidates" / "css-dmdtnet")
    assert copied.card.metrics == load_bundle(DEFAULT_MODELS_DIR / "css-dmdtnet").card.metrics


def _css_names(folder, n: int):
    folder.mkdir()
    for k in range(n):
        (folder / f"{1000 + k}-{('EW', 'RRab')[k % 2]}.csv").write_text("")
    return folder


def test_bundles_trained_on_another_split_are_refused(tmp_path):
    few = _css_names(tmp_path / "few", 40)
    with pytest.raises(BundleRunError, match=r"trained on \[3669\] curves, not the 28"):
        bundle_run(tmp_path / "run", _bundles("css-hybrid"), few)
    assert not (tmp_path / "run").exists()


def test_bundles_of_other_split_seeds_or_one_name_are_refused(tmp_path):
    copy = tmp_path / "css-hybrid-seed-7"
    shutil.copytree(DEFAULT_MODELS_DIR / "css-hybrid", copy)
    card = json.loads((copy / CARD).read_text())
    card["training_data"]["split_seed"] = 7
    card["name"] = "css-hybrid-seed-7"
    (copy / CARD).write_text(json.dumps(card))
    few = _css_names(tmp_path / "few", 40)
    with pytest.raises(BundleRunError, match="different splits"):
        bundle_run(tmp_path / "run", [*_bundles("css-hybrid"), load_bundle(copy)], few)
    card["training_data"].pop("split_seed")
    (copy / CARD).write_text(json.dumps(card))
    with pytest.raises(BundleRunError, match="names no split seed"):
        bundle_run(tmp_path / "run", [load_bundle(copy)], few)
    with pytest.raises(BundleRunError, match="share a name"):
        bundle_run(tmp_path / "run", _bundles("css-hybrid", "css-hybrid"), few)


def test_the_command_line_says_why_in_one_line(tmp_path, capsys):
    few = _css_names(tmp_path / "few", 40)
    args = ["evaluate", str(few), "--bundles", "css-hybrid", "--run", str(tmp_path / "run")]
    assert main(args) == 2
    assert "dmdt: error: css-hybrid was trained on [3669] curves" in capsys.readouterr().err


def test_the_report_leads_with_the_bundle_named_first_else_the_best_on_validation(tmp_path):
    networks = [
        Candidate(name, "network", lambda inputs: inputs, None, f1)
        for name, f1 in (("a", 0.80), ("b", 0.85))
    ]
    (tmp_path / "run.json").write_text(json.dumps({"candidates": {}}))
    assert _shipped(tmp_path, networks) == ("b", "validation")
    (tmp_path / "run.json").write_text(json.dumps({"candidates": {}, "shipped": "a"}))
    assert _shipped(tmp_path, networks) == ("a", "named")
