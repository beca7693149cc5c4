"""The shipped bundles that answer ``other`` (``survey-hybrid``, and ``mixed-two``, the
default): what their cards say, and that on real held-out transients and quasars they answer
``other`` or unknown where the CSS-only ``css-hybrid`` answers a class."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from classifier.bundle import load_bundle
from classifier.defaults import DEFAULT_MODEL
from classifier.inference import OnnxClassifier
from classifier.registry import DEFAULT_MODELS_DIR

SURVEY = DEFAULT_MODELS_DIR / "survey-hybrid"
ANSWERING_OTHER = ("survey-hybrid", DEFAULT_MODEL)
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


def test_the_default_mixes_the_css_specialist_with_a_generalist_that_answers_other():
    card = load_bundle(DEFAULT_MODELS_DIR / DEFAULT_MODEL).card
    assert card.classes[-1] == "other" and card.architecture == "hybrid-mixture"
    mixture = card.training_data["mixture"]
    assert mixture["specialist"]["name"] == "css-hybrid"
    assert "other" in mixture["generalist"]["training_data"]["train_per_class"]
    test = card.metrics["test"]
    assert test["macro_f1"] >= 0.84  # issue 15's ship rule on the CSS test split
    assert set(test["at_first_points"]) == {"first_20", "first_50"}


def _shares_refused(model: OnnxClassifier, curves) -> float:
    predictions = model.predict_curves(curves)
    refused = [
        label == "other" or unknown
        for label, unknown in zip(predictions.labels, predictions.unknown, strict=True)
    ]
    return float(np.mean(refused))


@pytest.mark.parametrize("kind", ["transients", "quasars"])
@pytest.mark.parametrize("bundle", ANSWERING_OTHER)
def test_held_out_transients_and_quasars_are_not_given_a_class(shared_data, kind, bundle):
    pytest.importorskip("pyarrow")
    from training.nonmembers import quasars, transients  # noqa: PLC0415

    found = (
        transients(shared_data / "transients_osc", "test")
        if kind == "transients"
        else (quasars(shared_data / "gaia_qso", "test"))
    )
    curves = [m.curve for m in itertools.islice((m for m in found if len(m.curve) >= 5), HELD_OUT)]
    assert len(curves) == HELD_OUT
    answering_other = _shares_refused(
        OnnxClassifier(load_bundle(DEFAULT_MODELS_DIR / bundle)), curves
    )
    css_only = _shares_refused(
        OnnxClassifier(load_bundle(DEFAULT_MODELS_DIR / "css-hybrid")), curves
    )
    assert answering_other >= 0.9 and css_only < 0.5
