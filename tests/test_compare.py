"""training.compare: the paired bootstrap of a macro-F1 difference, and its command on the
shipped bundles and real CSS curves."""

from __future__ import annotations

import numpy as np

from classifier.registry import DEFAULT_MODELS_DIR
from training.compare import macro_f1_difference, main
from training.dataset import Split, list_css
from training.paper import CLASSES


def test_the_same_answers_differ_by_nothing_and_better_answers_by_a_positive_interval():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, 700)
    half_right = np.where(rng.random(700) < 0.5, labels, (labels + 1) % 7)
    same = macro_f1_difference(labels, half_right, half_right, resamples=200)
    assert same.median == same.low == same.high == 0.0 and same.share_better == 0.0
    better = np.where(rng.random(700) < 0.5, labels, half_right)  # half the errors mended
    found = macro_f1_difference(labels, better, half_right, resamples=200)
    assert 0 < found.low < found.median < found.high and found.share_better == 1.0
    assert found.new - found.baseline > 0.15
    other = np.full(700, 7)  # answered "other": wrong for every member
    assert macro_f1_difference(labels, other, half_right, resamples=50).high < 0


def test_the_command_compares_two_bundles_on_the_test_curves(shared_data, tmp_path, capsys):
    data = shared_data / "crts_css" / "lightcurves"
    names = sorted(name for name, label in list_css(data).items() if label in CLASSES)[::200][:12]
    Split(1, {"train": [], "val": [], "test": names, "other": []}).save(tmp_path / "split.json")
    bundles = [str(DEFAULT_MODELS_DIR / name) for name in ("survey-hybrid", "css-hybrid")]
    main([*bundles, str(data), str(tmp_path / "split.json"), "--resamples", "50"])
    printed = capsys.readouterr().out
    assert f"survey-hybrid against css-hybrid, {len(names)} test curves" in printed
    rows = [line for line in printed.splitlines() if line.startswith(("| 20 ", "| 50 ", "| all "))]
    assert len(rows) == 3
