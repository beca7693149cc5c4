"""Partial light curves for training: what a stream sees before a curve is complete.

Each training curve contributes its full form plus ``variants`` random views: the first
``k`` points in time order (``k`` log-uniform between 5 and n: short curves are common in a
stream) or a random subsample (30-100% of the points, a sparser cadence).
"""

from __future__ import annotations

import numpy as np

from classifier.lightcurve import LightCurve

MIN_POINTS = 5


def partial_view(curve: LightCurve, rng: np.random.Generator) -> LightCurve:
    """One random truncation (70%) or subsample (30%) of ``curve``."""
    n = len(curve)
    if n <= MIN_POINTS:
        return curve
    if rng.random() < 0.7:
        k = int(np.exp(rng.uniform(np.log(MIN_POINTS), np.log(n))))
        return curve.first(max(k, MIN_POINTS))
    keep = np.sort(rng.choice(n, max(MIN_POINTS, int(n * rng.uniform(0.3, 1.0))), replace=False))
    err = None if curve.err is None else curve.err[keep]
    return LightCurve(curve.t[keep], curve.mag[keep], err, curve.band, curve.object_id)


def with_partial_views(
    curves: list[LightCurve], labels: list[str], variants: int, seed: int
) -> tuple[list[LightCurve], list[str]]:
    """The curves, then ``variants`` partial views of each, with their labels."""
    rng = np.random.default_rng(seed)
    out_curves, out_labels = list(curves), list(labels)
    for _ in range(variants):
        for curve, label in zip(curves, labels, strict=True):
            out_curves.append(partial_view(curve, rng))
            out_labels.append(label)
    return out_curves, out_labels
