"""Partial and noisier light curves for training.

Each training curve contributes its full form plus ``variants`` random views: the first
``k`` points in time order (``k`` log-uniform between 5 and n: short curves are common in a
stream) or a random subsample (30-100% of the points, a sparser cadence). Optionally a
share of those views also has every magnitude redrawn within its error bar: a noisier survey
than CSS (the experiments found this the perturbation that costs the most). The noise has
its own random stream, so the views themselves do not change with the share. Then, on
request, every other survey's view of each curve (:mod:`training.cadences`: real points
only, that survey's errors), half of them cut to their first k points; a third random
stream, so the partial views do not change with it either.
"""

from __future__ import annotations

import numpy as np

from classifier.lightcurve import LightCurve
from training.cadences import CADENCES, MIN_POINTS, view


def truncated(curve: LightCurve, rng: np.random.Generator) -> LightCurve:
    """The first ``k`` points, ``k`` log-uniform between :data:`MIN_POINTS` and ``n``."""
    k = int(np.exp(rng.uniform(np.log(MIN_POINTS), np.log(len(curve)))))
    return curve.first(max(k, MIN_POINTS))


def partial_view(curve: LightCurve, rng: np.random.Generator) -> LightCurve:
    """One random truncation (70%) or subsample (30%) of ``curve``."""
    n = len(curve)
    if n <= MIN_POINTS:
        return curve
    if rng.random() < 0.7:
        return truncated(curve, rng)
    keep = np.sort(rng.choice(n, max(MIN_POINTS, int(n * rng.uniform(0.3, 1.0))), replace=False))
    err = None if curve.err is None else curve.err[keep]
    return LightCurve(curve.t[keep], curve.mag[keep], err, curve.band, curve.object_id)


def resampled_within_errors(curve: LightCurve, rng: np.random.Generator) -> LightCurve:
    """Every magnitude moved by a Gaussian draw of its error (0.05 mag where none is known)."""
    err = np.full(len(curve), 0.05) if curve.err is None else curve.err
    return LightCurve(
        curve.t, curve.mag + rng.normal(0.0, err), curve.err, curve.band, curve.object_id
    )


def with_partial_views(
    curves: list[LightCurve],
    labels: list[str],
    variants: int,
    seed: int,
    noisy_share: float = 0.0,
    cadence_views: int = 0,
) -> tuple[list[LightCurve], list[str]]:
    """The curves, then ``variants`` partial views of each, with their labels; a
    ``noisy_share`` of the views (0..1) redrawn within their error bars; then
    ``cadence_views`` rounds of every other survey's view of each curve
    (:mod:`training.cadences`), half of them cut to their first k points."""
    if not 0.0 <= noisy_share <= 1.0:
        raise ValueError(f"noisy_share must be within 0..1, got {noisy_share}")
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])
    out_curves, out_labels = list(curves), list(labels)
    for _ in range(variants):
        for curve, label in zip(curves, labels, strict=True):
            partial = partial_view(curve, rng)
            if noise_rng.random() < noisy_share:
                partial = resampled_within_errors(partial, noise_rng)
            out_curves.append(partial)
            out_labels.append(label)
    cadence_rng = np.random.default_rng([seed, 2])
    for _ in range(cadence_views):
        for cadence in CADENCES.values():
            for curve, label in zip(curves, labels, strict=True):
                seen = view(curve, cadence, cadence_rng)
                if cadence_rng.random() < 0.5 and len(seen) > MIN_POINTS:
                    seen = truncated(seen, cadence_rng)
                out_curves.append(seen)
                out_labels.append(label)
    return out_curves, out_labels
