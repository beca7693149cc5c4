"""The leakage audit: how much each model input tells which survey sampled a star.

The same objects are taken at CSS cadence (as they are) and at each other survey's cadence
(:mod:`training.cadences`). For every feature and for the dm-dt image:

* **separability**, ``|2 AUC - 1|``: how well the input alone tells the CSS curves from the
  other survey's (0: not at all; 1: always). For a feature, the AUC of its values
  (Mann-Whitney); for the image, the cross-validated AUC of a logistic regression on its
  pixels. An input that separates the surveys encodes the sampling, not the star, and a model
  that leans on it will not travel;
* **shift**: the median over objects of how far the input moves between the two samplings of
  the same object, in units of its spread between CSS objects (the interquartile range; for
  the image, the median L1 distance between two CSS objects).

The image is also measured minus its survey background (:data:`IMAGE_MINUS_BACKGROUND`), as
the stream subtracts one (:mod:`classifier.survey_background`): the mean image of the same
sampling's *other* objects (two halves of the objects, each background taken from the other
half). What the subtraction removes is the part of the survey's signature every object shares.

Inputs whose separability exceeds :data:`LEAK_THRESHOLD` at some cadence are flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from classifier.features import FEATURE_NAMES, feature_matrix
from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.normalise import Normalisation, normalise

LEAK_THRESHOLD = 0.5
IMAGE = "dm-dt image"
IMAGE_MINUS_BACKGROUND = "dm-dt image - survey background"
_FOLDS = 5


@dataclass(frozen=True)
class Leakage:
    """Per input (features, then the image) and cadence: separability and shift."""

    inputs: tuple[str, ...]
    cadences: tuple[str, ...]
    separability: np.ndarray  # (inputs, cadences)
    shift: np.ndarray  # (inputs, cadences)
    n_objects: int

    def leaking(self) -> list[str]:
        """The inputs that separate the surveys beyond :data:`LEAK_THRESHOLD` somewhere."""
        worst = self.separability.max(axis=1)
        return [name for name, s in zip(self.inputs, worst, strict=True) if s > LEAK_THRESHOLD]


def separability(css: np.ndarray, other: np.ndarray) -> float:
    """``|2 AUC - 1|`` of one input's values at two samplings.

    >>> separability(np.arange(10.0), np.arange(10.0)), separability(np.zeros(5), np.ones(5))
    (0.0, 1.0)
    """
    scores = np.concatenate([css, other])
    truth = np.r_[np.zeros(len(css)), np.ones(len(other))]
    if np.ptp(scores) == 0:
        return 0.0
    return abs(2.0 * float(roc_auc_score(truth, scores)) - 1.0)


def _image_separability(css: np.ndarray, other: np.ndarray) -> float:
    pixels = np.concatenate([css, other]).reshape(len(css) + len(other), -1)
    truth = np.r_[np.zeros(len(css)), np.ones(len(other))]
    model = LogisticRegression(C=1.0, max_iter=2000)
    folds = min(_FOLDS, len(css))
    scores = cross_val_predict(model, pixels, truth, cv=folds, method="predict_proba")[:, 1]
    return separability(scores[: len(css)], scores[len(css) :])


def _spread(values: np.ndarray) -> float:
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1) or float(np.std(values)) or 1.0


def _images(curves: Sequence[LightCurve], grid: DmDtGrid, norm: Normalisation) -> np.ndarray:
    counts = grid.counts_many(curves)
    return normalise(counts, np.array([len(c) for c in curves]), norm)


def minus_background(images: np.ndarray) -> np.ndarray:
    """Each image minus the mean image of the other half of the objects (even and odd
    positions), so that no object is in its own background.

    >>> minus_background(np.array([[[1.0]], [[3.0]], [[5.0]], [[7.0]]]))[:, 0, 0].tolist()
    [-4.0, 0.0, 0.0, 4.0]
    """
    half = np.arange(len(images)) % 2
    out = images.astype(np.float64)
    for h in (0, 1):
        out[half == h] -= images[half != h].mean(axis=0)
    return out


def audit(
    curves: Sequence[LightCurve],
    views: Mapping[str, Sequence[LightCurve]],
    grid: DmDtGrid,
    norm: Normalisation = "mahabal",
    seed: int = 2017,
) -> Leakage:
    """The leakage of every feature and of the image between ``curves`` (CSS cadence) and
    each cadence's views of them (``views[name][i]`` is a view of ``curves[i]``; see
    :func:`training.cadences.view`)."""
    base_features = feature_matrix(curves).astype(np.float64)
    base_images = _images(curves, grid, norm)
    rng = np.random.default_rng(seed)
    pairs = rng.integers(len(curves), size=(len(curves), 2))
    image_spread = float(
        np.median(np.abs(base_images[pairs[:, 0]] - base_images[pairs[:, 1]]).sum(axis=(1, 2)))
    )
    base_minus = minus_background(base_images)
    inputs = (*FEATURE_NAMES, IMAGE, IMAGE_MINUS_BACKGROUND)
    sep = np.zeros((len(inputs), len(views)))
    shift = np.zeros_like(sep)
    for k, seen in enumerate(views.values()):
        features = feature_matrix(seen).astype(np.float64)
        for j in range(len(FEATURE_NAMES)):
            sep[j, k] = separability(base_features[:, j], features[:, j])
            moved = np.abs(features[:, j] - base_features[:, j])
            shift[j, k] = float(np.median(moved)) / _spread(base_features[:, j])
        images = _images(seen, grid, norm)
        for row, (base, other) in enumerate(
            ((base_images, images), (base_minus, minus_background(images))), start=-2
        ):
            sep[row, k] = _image_separability(base, other)
            moved_images = np.abs(other - base).sum(axis=(1, 2))
            shift[row, k] = float(np.median(moved_images)) / (image_spread or 1.0)
    return Leakage(inputs, tuple(views), sep, shift, len(curves))
