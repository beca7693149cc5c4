"""The shipped ``survey-hybrid`` bundle (for survey streams; ``css-hybrid`` stays the default):
what its card says, and that on real held-out transients and quasars it answers ``other`` or
unknown where the CSS-only default answers a class."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from classifier.bundle import load_bundle
from classifier.inference import OnnxClassifier
from classifier.registry import DEFAULT_MODELS_DIR

SURVEY = DEFAULT_MODELS_DIR / "survey-hybrid"
HELD_OUT = 60  # curves of each set


def test_the_survey_bundle_answers_other_and_says_how_it_was_made():
    bundle = load_bundle(SURVEY)
    card = bundle.card
    assert card.classes[-1] == "other" and card.architecture == "hybrid-ensemble"
    assert card.periodogram == "refined" and "n_points" not in (card.feature_names or [])
    members = card.training_data["ensemble"]
    assert len(members) >= 2 and len({m["run"] for m in members}) == len(members)
    test = card.metrics["test"]
    assert set(test["macro_f1_by_cadence"]) == {"ztf", "lsst", "sparse", "gaia", "eros"}
    assert test["macro_f1"] > 0.8


def _shares_refused(model: OnnxClassifier, curves) -> float:
    predictions = model.predict_curves(curves)
    refused = [
        label == "other" or unknown
        for label, unknown in zip(predictions.labels, predictions.unknown, strict=True)
    ]
    return float(np.mean(refused))


@pytest.mark.parametrize("kind", ["transients", "quasars"])
def test_held_out_transients_and_quasars_are_not_given_a_class(shared_data, kind):
    pytest.importorskip("pyarrow")
    from training.nonmembers import quasars, transients  # noqa: PLC0415

    found = (
        transients(shared_data / "transients_osc", "test")
        if kind == "transients"
        else (quasars(shared_data / "gaia_qso", "test"))
    )
    curves = [m.curve for m in itertools.islice((m for m in found if len(m.curve) >= 5), HELD_OUT)]
    assert len(curves) == HELD_OUT
    survey = _shares_refused(OnnxClassifier(load_bundle(SURVEY)), curves)
    default = _shares_refused(
        OnnxClassifier(load_bundle(DEFAULT_MODELS_DIR / "css-hybrid")), curves
    )
    assert survey >= 0.9 and default < 0.5
