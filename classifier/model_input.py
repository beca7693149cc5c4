"""Model inputs from light curves or stored counts: the one definition shared by training,
``dmdt predict`` and the stream worker, so that a model sees at run time exactly what it saw
in training.

* ``image``: ``(N, 1, n_dm, n_dt)`` float32, the ``mahabal`` image scaled by 1/255, i.e. the
  fraction of all pairs ``n(n-1)/2`` that fall in each bin;
* ``features``: ``(N, F)`` float32 from :func:`classifier.features.feature_matrix`, the
  features a model's card names (``features=None``: no features input).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier.accumulator import DmDtAccumulator
from classifier.features import (
    NEW_MODELS_PERIODOGRAM,
    Periodogram,
    feature_columns,
    feature_matrix,
)
from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.normalise import Normalisation, normalise
from classifier.periodogram import CoarsePass

IMAGE_NORMALISATION: Normalisation = "mahabal"
IMAGE_SCALE = 1.0 / 255.0


def images_from_counts(counts: np.ndarray, n_points: np.ndarray | int) -> np.ndarray:
    """``(N, 1, n_dm, n_dt)`` model images from a stack of raw counts."""
    stack = counts if counts.ndim == 3 else counts[None]
    images = normalise(stack, n_points, IMAGE_NORMALISATION) * np.float32(IMAGE_SCALE)
    return images[:, None].astype(np.float32)


def model_inputs(
    curves: Sequence[LightCurve],
    grid: DmDtGrid,
    features: Sequence[str] | None,
    counts: np.ndarray | None = None,
    periodogram: Periodogram = NEW_MODELS_PERIODOGRAM,
) -> dict[str, np.ndarray]:
    """``{"image": ..., ["features": ...]}`` for a batch of curves (``features``: the names,
    None for none; ``periodogram``: how a model's card says they are computed); ``counts``:
    their raw counts on ``grid`` when the caller has binned them already
    (``(N, n_dm, n_dt)``)."""
    counts = grid.counts_many(curves) if counts is None else counts
    inputs = {"image": images_from_counts(counts, np.array([len(c) for c in curves]))}
    if features is not None:
        inputs["features"] = feature_matrix(curves, names=features, periodogram=periodogram)
    return inputs


def accumulator_inputs(
    accumulators: Sequence[DmDtAccumulator],
    features: Sequence[str] | None,
    periodogram: Periodogram = NEW_MODELS_PERIODOGRAM,
    passes: list[CoarsePass | None] | None = None,
) -> dict[str, np.ndarray]:
    """The same inputs from incrementally kept counts (the stream): no pair is re-binned;
    ``passes``: the curves' last coarse periodogram passes, reused and updated
    (:func:`classifier.periodogram.refined_periodograms`)."""
    counts = np.stack([acc.counts for acc in accumulators])
    inputs = {"image": images_from_counts(counts, np.array([a.n_points for a in accumulators]))}
    if features is not None:
        curves = [acc.light_curve() for acc in accumulators]
        inputs["features"] = feature_matrix(
            curves, names=features, periodogram=periodogram, passes=passes
        )
    return inputs


def select_features(
    inputs: dict[str, np.ndarray], features: Sequence[str] | None
) -> dict[str, np.ndarray]:
    """Inputs built with every feature (``FEATURE_NAMES``) cut to a model's ``features``
    (evaluations build them once for models trained on different subsets)."""
    out = {"image": inputs["image"]}
    if features is not None:
        out["features"] = inputs["features"][:, feature_columns(features)]
    return out
