"""Knowledge distillation: the teacher's answers, the loss that learns them, the refusals."""

import numpy as np
import pytest
import torch
from tiny_net import TinyNet

from classifier.bundle import load_bundle
from classifier.features import FEATURE_NAMES, SURVEY_NEUTRAL_FEATURES
from classifier.inference import OnnxClassifier
from classifier.model_input import model_inputs
from classifier.readers import read_file
from classifier.registry import DEFAULT_MODELS_DIR
from services.cli.main import main
from training.distill import TeacherError, teacher_answers
from training.fit import FitConfig, as_mask, fit, predict_logits, set_loss, soft_loss
from training.other_class import OTHER
from training.paper import CLASSES

TEACHER = DEFAULT_MODELS_DIR / "css-hybrid"  # answers the 7 classes


def test_the_soft_loss_of_one_hot_answers_is_the_label_loss_and_weighs_rows_alike():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-0.5, 1.0, 0.0]])
    weights = torch.tensor([0.5, 2.0, 1.0])
    one_hot = torch.as_tensor(as_mask(np.array([0, 1, 2]), 3))
    assert float(soft_loss(logits, one_hot.float(), one_hot, weights)) == pytest.approx(
        float(set_loss(logits, one_hot, weights))
    )
    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    per_row = -(teacher * torch.log_softmax(logits, dim=1)).sum(dim=1)
    assert float(soft_loss(logits, teacher, one_hot, None)) == pytest.approx(float(per_row.mean()))
    row_weights = torch.tensor([0.5, 2.0, 1.0])  # each row's label's class weight
    assert float(soft_loss(logits, teacher, one_hot, weights)) == pytest.approx(
        float((per_row * row_weights).sum() / row_weights.sum())
    )


@pytest.mark.parametrize(("weight", "learns"), [(1.0, "teacher"), (0.0, "labels")])
def test_the_distill_weight_decides_whose_answers_are_learnt(weight, learns):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (240, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64)
    taught = (x[:, 1] > 0).astype(np.int64)  # a teacher that disagrees with the labels
    soft = np.eye(2, dtype=np.float32)[taught]
    config = FitConfig(lr=0.02, max_epochs=12, patience=12, batch_size=32, distill_weight=weight)
    torch.manual_seed(0)
    expected = taught if learns == "teacher" else labels
    result = fit(
        TinyNet(hidden=16),
        {"features": x},
        labels,
        {"features": x},
        expected,
        2,
        config,
        soft_targets=soft,
    )
    predicted = predict_logits(result.model, {"features": x}).argmax(axis=1)
    assert np.mean(predicted == expected) > 0.9
    with pytest.raises(ValueError, match=r"soft targets \(240, 3\): expected \(240, 2\)"):
        fit(
            TinyNet(hidden=16),
            {"features": x},
            labels,
            {"features": x},
            labels,
            2,
            config,
            soft_targets=soft[:, [0, 1, 1]],
        )
    with pytest.raises(ValueError, match=r"distill_weight 1\.5"):
        FitConfig(distill_weight=1.5)


def test_the_teachers_answers_are_its_predictions_built_once_or_afresh(samples):
    curves = [read_file(path)[0].curve() for path in sorted(samples.glob("css_*.csv"))]
    bundle = load_bundle(TEACHER)
    expected = OnnxClassifier(bundle).predict_curves(curves).probabilities
    afresh, name = teacher_answers(TEACHER, CLASSES, curves)
    assert name == f"css-hybrid {bundle.card.version}"
    assert afresh.dtype == np.float32 and afresh.shape == (len(curves), len(CLASSES))
    np.testing.assert_allclose(afresh, expected, atol=1e-6)
    built = model_inputs(curves, bundle.grid, FEATURE_NAMES, periodogram=bundle.periodogram)
    reused, _ = teacher_answers(TEACHER, CLASSES, curves, built, bundle.grid, bundle.periodogram)
    np.testing.assert_allclose(reused, expected, atol=1e-6)
    neutral = model_inputs(curves, bundle.grid, SURVEY_NEUTRAL_FEATURES, periodogram="fixed")
    other_periodogram, _ = teacher_answers(TEACHER, CLASSES, curves, neutral, bundle.grid, "fixed")
    np.testing.assert_allclose(other_periodogram, expected, atol=1e-6)  # built afresh
    with pytest.raises(TeacherError, match="the run trains"):
        teacher_answers(TEACHER, (*CLASSES, OTHER), curves)


def test_dmdt_train_refuses_a_teacher_of_other_classes_before_training(samples, capsys):
    args = ["train", str(samples), "--teacher", str(TEACHER), "--transients", str(samples)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("dmdt: error: ") and "the teacher answers" in err
    assert main(["train", str(samples), "--teacher", str(samples)]) == 2
    assert "missing card.json" in capsys.readouterr().err


def test_a_run_taught_by_a_bundle_trains_on_its_own_features_and_names_the_teacher(
    shared_data, tmp_path
):
    run = tmp_path / "run"
    args = ["train", str(shared_data / "crts_css" / "lightcurves"), "--out", str(run)]
    args += ["--per-class", "8", "--epochs", "1", "--variants", "1", "--architectures"]
    args += ["hybrid", "--features", "survey-neutral", "--teacher", str(TEACHER)]
    assert main(args) == 0
    card = load_bundle(run / "candidates" / "hybrid").card
    assert (
        card.training_data["teacher"]["bundle"] == f"css-hybrid {load_bundle(TEACHER).card.version}"
    )
    assert card.training_data["teacher"]["distill_weight"] == 0.5
    assert list(card.feature_names) == list(SURVEY_NEUTRAL_FEATURES)
