"""A teacher's answers for ``dmdt train --teacher``: a bundle (for example ``mixed-hybrid``,
two hybrids in one graph) scores every training view, and the network is trained on its
probabilities as well as on the labels (:func:`training.fit.fit`), so that one network learns
what the larger bundle knows at one network's cost in the stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from classifier.bundle import ModelBundle, load_bundle
from classifier.features import Periodogram
from classifier.grid import DmDtGrid
from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve
from classifier.model_input import model_inputs, select_features

BATCH = 1024  # rows a teacher call


class TeacherError(ValueError):
    """A teacher that cannot teach this run, and why."""


def checked_teacher(folder: Path, classes: Sequence[str]) -> ModelBundle:
    """The bundle in ``folder`` if it answers ``classes`` (:class:`TeacherError` if not,
    :class:`~classifier.bundle.BundleError` if it is not a bundle)."""
    bundle = load_bundle(folder)
    if tuple(bundle.card.classes) != tuple(classes):
        raise TeacherError(
            f"{folder}: the teacher answers {list(bundle.card.classes)}, the run trains "
            f"{list(classes)}"
        )
    return bundle


def teacher_answers(
    folder: Path,
    classes: Sequence[str],
    curves: Sequence[LightCurve],
    built: dict[str, np.ndarray] | None = None,
    grid: DmDtGrid | None = None,
    periodogram: Periodogram | None = None,
) -> tuple[np.ndarray, str]:
    """The bundle's probabilities (its temperature applied) for ``curves``, float32
    ``(len(curves), len(classes))``, and its name and version. ``built``: the curves' inputs
    with every feature on ``grid`` with ``periodogram``, reused when the bundle takes those."""
    bundle = checked_teacher(folder, classes)
    card = bundle.card
    if (
        built is not None
        and grid is not None
        and bundle.grid.fingerprint == grid.fingerprint
        and bundle.periodogram == periodogram
    ):
        inputs = select_features(built, bundle.feature_names)
    else:
        inputs = model_inputs(
            curves, bundle.grid, bundle.feature_names, periodogram=bundle.periodogram
        )
    classifier = OnnxClassifier(bundle)
    answers = [
        classifier.predict_inputs({k: v[i : i + BATCH] for k, v in inputs.items()}).probabilities
        for i in tqdm(range(0, len(curves), BATCH), desc="teacher", unit="batch", leave=False)
    ]
    found = np.concatenate(answers) if answers else np.zeros((0, len(classes)))
    return found.astype(np.float32), f"{card.name} {card.version}"
