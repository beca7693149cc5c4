"""Units of training/: split, partial views, backgrounds, metrics, temperature."""

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score
from tiny_net import TinyNet
from torch import nn

from classifier.lightcurve import LightCurve
from services.cli.main import build_parser
from training.augment import MIN_POINTS, partial_view, with_partial_views
from training.backgrounds import compute_backgrounds, robust_pca
from training.dataset import Split, label_of
from training.fit import (
    FitConfig,
    WeightAverage,
    as_mask,
    class_weights,
    fit,
    fit_temperature,
    predict_logits,
    set_loss,
)
from training.label_sets import label_mask
from training.metrics import (
    classification_metrics,
    expected_calibration_error,
    reweighted_accuracy,
    shift_to_paper_prior,
    unknown_separation,
)
from training.nets import TRUNK_CHANNELS, build
from training.paper import CLASSES
from training.pipeline import UNKNOWN_QUANTILE, _temperature_weights, unknown_threshold


def _names(per_class: int) -> dict[str, str]:
    labels = [*CLASSES, "HADS", "ELL"]
    return {f"{i:013d}-{label}.csv": label for label in labels for i in range(per_class)}


def test_split_is_stratified_disjoint_and_reproducible(tmp_path):
    names = _names(40)
    split = Split.make(names, seed=7)
    parts = split.parts
    everything = [n for part in parts.values() for n in part]
    assert sorted(everything) == sorted(names)  # disjoint and complete
    assert {label_of(n) for n in parts["other"]} == {"HADS", "ELL"}
    for label in CLASSES:
        assert sum(label_of(n) == label for n in parts["test"]) == 6  # 15% of 40
        assert sum(label_of(n) == label for n in parts["val"]) == 6
    assert Split.make(names, seed=7) == split and Split.make(names, seed=8) != split
    split.save(tmp_path / "split.json")
    assert Split.load(tmp_path / "split.json") == split
    with pytest.raises(ValueError, match=r"not a <CSS_ID>-<CLASS>\.csv"):
        label_of("nodash.csv")


def test_partial_views_are_prefixes_or_subsets():
    t = np.arange(300.0) * 1.7
    curve = LightCurve(t, 15 + 0.3 * np.sin(t), np.full(300, 0.05))
    rng = np.random.default_rng(1)
    for _ in range(200):
        view = partial_view(curve, rng)
        assert MIN_POINTS <= len(view) <= len(curve)
        assert np.isin(view.t, curve.t).all() and view.err is not None
    curves, labels = with_partial_views([curve, curve], ["EW", "EA"], variants=3, seed=0)
    assert len(curves) == 8 and labels == ["EW", "EA"] * 4


def test_a_noisy_share_redraws_that_share_of_the_views_within_their_error_bars():
    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0, 1000, 400))
    curve = LightCurve(t, 15 + rng.normal(0, 0.3, 400), np.full(400, 0.1))
    clean, _ = with_partial_views([curve], ["RRd"], variants=200, seed=0)
    noisy, labels = with_partial_views([curve], ["RRd"], variants=200, seed=0, noisy_share=0.5)
    assert len(noisy) == 201 and labels == ["RRd"] * 201
    moved = [v for v in noisy[1:] if not np.isin(v.mag, curve.mag).all()]
    assert 70 <= len(moved) <= 130
    for view, same in zip(clean[1:], noisy[1:], strict=True):
        assert np.array_equal(view.t, same.t), "the noise must not change which points a view has"
    pulls = np.concatenate(
        [(v.mag - curve.mag[np.searchsorted(curve.t, v.t)]) / 0.1 for v in moved]
    )
    assert abs(pulls.std() - 1) < 0.1 and abs(pulls.mean()) < 0.1
    with pytest.raises(ValueError, match="noisy_share"):
        with_partial_views([curve], ["RRd"], variants=1, seed=0, noisy_share=1.5)


def test_backgrounds_have_the_grid_shape_and_the_right_statistics():
    rng = np.random.default_rng(0)
    images = rng.random((140, 4, 5)).astype(np.float32)
    labels = [CLASSES[i % 7] for i in range(140)]
    backgrounds = compute_backgrounds(images, labels, CLASSES)
    assert set(backgrounds) == {"cadence", "max", "rpca", *(f"class:{c}" for c in CLASSES)}
    np.testing.assert_allclose(backgrounds["cadence"], images.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(backgrounds["class:EW"], np.median(images[0::7], axis=0))
    medians = np.stack([backgrounds[f"class:{c}"] for c in CLASSES])
    np.testing.assert_allclose(backgrounds["max"], medians.max(axis=0))
    assert all(image.shape == (4, 5) for image in backgrounds.values())


def test_robust_pca_separates_low_rank_from_sparse():
    rng = np.random.default_rng(3)
    low = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 60))
    sparse = (rng.random((300, 60)) < 0.05) * rng.normal(0, 10, (300, 60))
    recovered, _ = robust_pca(low + sparse)
    assert np.linalg.norm(recovered - low) / np.linalg.norm(low) < 1e-3


def test_metrics_on_known_cases():
    labels = np.array([0, 1, 2, 3, 4, 5, 6] * 3)
    perfect = np.eye(7)[labels]
    metrics = classification_metrics(perfect, labels)
    assert metrics["macro_f1"] == 1.0 and metrics["accuracy"] == 1.0
    assert metrics["reweighted_accuracy"] == pytest.approx(1.0)
    assert np.allclose(np.diag(metrics["confusion_row_normalised"]), 1.0)
    assert expected_calibration_error(perfect, labels) == 0.0
    overconfident = np.full((100, 7), 0.0)
    overconfident[:, 0] = 1.0  # always class 0 with certainty: right 1 time in 7
    assert expected_calibration_error(overconfident, np.arange(100) % 7) > 0.8
    only_ew = np.zeros(7)
    only_ew[0] = 1.0
    assert reweighted_accuracy(only_ew) == pytest.approx(30743 / 45851)
    known = np.tile([0.9, 0.1, 0, 0, 0, 0, 0], (10, 1))
    other = np.tile([0.4, 0.3, 0.3, 0, 0, 0, 0], (10, 1))
    result = unknown_separation(known, other, threshold=0.5)
    assert result == {
        "roc_auc": 1.0,
        "rejected_at_5pct": 1.0,
        "median_confidence_other": 0.4,
        "flagged_known": 0.0,
        "flagged_other": 1.0,
    }
    # a model with the class other (an 8th column): answering it is a rejection
    known8 = np.tile([0.9, 0.1, 0, 0, 0, 0, 0, 0], (10, 1))
    other8 = np.tile([0.1, 0, 0, 0, 0, 0, 0, 0.9], (10, 1))
    result8 = unknown_separation(known8, other8, threshold=0.5)
    assert result8["answered_other_or_unknown_other"] == 1.0
    assert result8["answered_other_or_unknown_known"] == 0.0 and result8["roc_auc"] == 1.0
    # ... and on the 7 classes' test split an 'other' answer is a miss, not a class
    labels7 = np.array([0, 1, 2, 3, 4, 5, 6])
    says_other = np.eye(8)[[0, 1, 2, 3, 4, 5, 7]]
    seven = classification_metrics(says_other, labels7)
    assert seven["accuracy"] == pytest.approx(6 / 7)
    assert seven["per_class"]["LPV"]["recall"] == 0.0
    assert np.array(seven["confusion_row_normalised"]).shape == (7, 8)


def test_class_weights_and_temperature():
    weights = class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights.tolist() == pytest.approx([2 / 3, 2.0])
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 2000)
    logits = np.eye(3)[labels] * 2.0 + rng.normal(0, 1.0, (2000, 3))
    # Logits sharpened 5x are over-confident: the fitted temperature undoes about that much.
    assert fit_temperature(logits * 5, labels) == pytest.approx(
        5 * fit_temperature(logits, labels), rel=0.05
    )


def test_a_set_label_trains_on_its_summed_probability():
    mask = label_mask(["EW", "EW|EA", "LPV"], ["EW", "EA", "LPV"])
    assert mask.tolist() == [[True, False, False], [True, True, False], [False, False, True]]
    with pytest.raises(ValueError, match="'Cepheid' is not one of"):
        label_mask(["Cepheid"], ["EW"])
    # A set counts 1/k towards each of its classes.
    assert class_weights(mask, 3).tolist() == pytest.approx([3 / 4.5, 3 / 1.5, 1.0])
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-0.5, 1.0, 0.0]])
    weights = torch.tensor([0.5, 2.0, 1.0])
    one_hot = torch.as_tensor(as_mask(np.array([0, 1, 2]), 3))
    expected = torch.nn.CrossEntropyLoss(weight=weights)(logits, torch.tensor([0, 1, 2]))
    assert float(set_loss(logits, one_hot, weights)) == pytest.approx(float(expected))
    p = torch.softmax(logits, dim=1)
    by_set = set_loss(logits, torch.as_tensor(mask), None)
    assert float(by_set) == pytest.approx(
        float(-(p[0, 0].log() + (p[1, 0] + p[1, 1]).log() + p[2, 2].log()) / 3)
    )
    everything = torch.ones(3, 3, dtype=torch.bool)
    assert float(set_loss(logits, everything, None)) == pytest.approx(0, abs=1e-6)


def test_the_temperature_weighs_other_as_one_class():
    y_val = np.array([0] * 7 + [1] * 7 + [7] * 28)
    weights = _temperature_weights(y_val)
    assert weights[y_val == 7].sum() == pytest.approx(14 / 7)
    assert (weights[y_val < 7] == 1).all()


def test_prior_shift_favours_the_papers_majority_class():
    uncertain = np.full((1, 7), 1 / 7)  # no evidence: the prior decides
    shifted = shift_to_paper_prior(uncertain, np.full(7, 100.0))
    assert shifted.argmax() == CLASSES.index("EW")
    assert shifted[0, 0] == pytest.approx(30743 / 45851)


def test_the_weights_average_follows_the_steps_and_measures_its_own_batch_norms():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.75)
    before = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(4.0)
    average.update(model)
    # One step: 3/4 of the old weights and 1/4 of the new.
    assert torch.allclose(average.model[0].weight, before + 1.0)
    assert model[0].weight.requires_grad  # the trained model is left as it was
    x = torch.as_tensor(np.random.default_rng(3).normal(2.0, 3.0, (64, 2)), dtype=torch.float32)
    average.recalibrate({"input": x}, torch.arange(48), batch_size=16)
    linear = average.model[0]
    seen = (x[:48] @ linear.weight.T + linear.bias).detach()
    # The exact mean over the rows given, whatever the norm's momentum in training.
    assert torch.allclose(average.model[1].running_mean, seen.mean(dim=0), atol=1e-5)
    assert average.model[1].momentum == 0.1
    assert not average.model.training


def test_a_cosine_schedule_with_averaged_weights_trains_and_bad_settings_are_refused():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (240, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)

    config = FitConfig(
        lr=0.02, max_epochs=15, patience=15, schedule="cosine", weight_average=0.9, batch_size=32
    )
    torch.manual_seed(0)
    result = fit(TinyNet(), {"features": x}, y, {"features": x}, y, 2, config)
    assert [h["epoch"] for h in result.history] == list(range(1, 16))
    best = result.history[result.best_epoch - 1]["val_macro_f1"]
    assert best > 0.9
    # The weights returned are the averaged ones that were validated at the best epoch.
    predicted = predict_logits(result.model, {"features": x}).argmax(axis=1)
    assert f1_score(y, predicted, average="macro") == pytest.approx(best)
    with pytest.raises(ValueError, match="schedule 'linear'"):
        FitConfig(schedule="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"weight_average 1\.0"):
        FitConfig(weight_average=1.0)


def _rejected(probabilities: np.ndarray, threshold: float) -> float:
    other = probabilities.argmax(axis=1) == len(CLASSES)
    return float(np.mean(other | (probabilities.max(axis=1) < threshold)))


def test_the_unknown_threshold_rejects_the_set_share_counting_other_answers():
    rng = np.random.default_rng(5)
    probabilities = rng.dirichlet(np.ones(len(CLASSES) + 1) * 0.3, size=2000)
    for row, values in enumerate(probabilities):  # 3% answered other, the rest one of the 7
        target = len(CLASSES) if row < 60 else row % len(CLASSES)
        top = values.argmax()
        values[[top, target]] = values[[target, top]]
    answered_other = np.mean(probabilities.argmax(axis=1) == len(CLASSES))
    assert answered_other == pytest.approx(0.03, abs=0.005)  # rejected before any flag
    threshold = unknown_threshold(probabilities)
    assert _rejected(probabilities, threshold) == pytest.approx(UNKNOWN_QUANTILE, abs=1e-3)
    # a top-probability quantile alone would reject more than the set share
    alone = np.quantile(probabilities.max(axis=1), UNKNOWN_QUANTILE)
    assert _rejected(probabilities, alone) > UNKNOWN_QUANTILE + 0.01


def test_no_curve_is_flagged_when_other_answers_already_reject_the_share():
    probabilities = np.tile(np.eye(len(CLASSES) + 1)[[0, len(CLASSES)]], (10, 1))
    assert unknown_threshold(probabilities) == 0.0  # half answered other


def test_the_trunk_channels_set_the_convolution_widths_and_the_cli_default_is_the_nets():
    stats = (torch.zeros(3), torch.ones(3))
    narrow = build("hybrid", (32, 24), 7, stats, trunk_channels=(16, 32))
    widths = [layer.out_channels for layer in narrow.modules() if isinstance(layer, nn.Conv2d)]
    assert widths == [16, 16, 32, 32]
    logits = narrow.eval()(torch.zeros(2, 1, 32, 24), torch.zeros(2, 3))
    assert logits.shape == (2, 7)
    default = build("dmdtnet", (32, 24), 7)
    assert [m.out_channels for m in default.modules() if isinstance(m, nn.Conv2d)] == [
        TRUNK_CHANNELS[0],
        TRUNK_CHANNELS[0],
        TRUNK_CHANNELS[1],
        TRUNK_CHANNELS[1],
    ]
    args = build_parser().parse_args(["train", "curves"])
    assert tuple(args.trunk_channels) == TRUNK_CHANNELS
