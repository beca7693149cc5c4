"""Light-curve features (the paper's random-forest comparison, and the hybrid model's second
input), computed with the ``light-curve`` package (Malanchev et al.).

One fixed vector per curve: amplitude and shape statistics, variability indices, and a
Lomb-Scargle periodogram (two best periods, log10 of days, with their significance, plus
statistics of the curve folded at the best period). Curves too short for a feature give NaN
for it; :func:`feature_matrix` turns NaN into 0 and adds the point count, so every curve
(even 2 points) gets a finite vector of :data:`FEATURE_NAMES`, or of the named subset a model
was trained on.

:data:`SURVEY_ENCODING_FEATURES` are the features the leakage audit (``dmdt experiments
--only leakage``) found to tell which survey sampled a star rather than what it is (the
point count, the baseline, the mean magnitude, and statistics that scale with the number of
points or with the gaps between them): a model meant for every survey leaves them out
(:data:`SURVEY_NEUTRAL_FEATURES`). The amplitudes also separate the surveys (fewer points
catch fewer extremes) but measure the star, so they are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal, get_args

import light_curve as lcf
import numpy as np

from classifier import periodogram as pg
from classifier.lightcurve import LightCurve

Periodogram = Literal["fixed", "refined"]
PERIODOGRAMS: tuple[str, ...] = get_args(Periodogram)
NEW_MODELS_PERIODOGRAM: Periodogram = "refined"
EARLIER_MODELS_PERIODOGRAM: Periodogram = "fixed"  # cards and runs that do not name one
_MIN_ERR = 1e-3  # light-curve weights by 1/err^2: a zero error would be an infinite weight


def basic_features() -> list:
    """The light-curve features before the periodogram's, in the vector's order."""
    return [
        lcf.Amplitude(),
        lcf.BeyondNStd(1.0),
        lcf.Cusum(),
        lcf.Eta(),
        lcf.InterPercentileRange(0.1),
        lcf.Kurtosis(),
        lcf.LinearTrend(),
        lcf.MedianAbsoluteDeviation(),
        lcf.MedianBufferRangePercentage(0.1),
        lcf.PercentAmplitude(),
        lcf.PercentDifferenceMagnitudePercentile(0.1),
        lcf.ReducedChi2(),
        lcf.Skew(),
        lcf.StandardDeviation(),
        lcf.StetsonK(),
        lcf.Mean(),
    ]


@lru_cache(maxsize=1)
def _basic() -> lcf.Extractor:
    return lcf.Extractor(*basic_features())


@lru_cache(maxsize=1)
def _fixed() -> lcf.Extractor:
    """Every feature with the fixed-grid periodogram, in one extractor as the 1.x models had
    them (light-curve shares one time series among them, which matters for repeated times)."""
    return lcf.Extractor(*basic_features(), pg.fixed_periodogram())


_PERIOD_NAMES = ("periodogram_period_0", "periodogram_period_1")
FEATURE_NAMES: tuple[str, ...] = (
    *(
        name.replace("periodogram_period_", "log10_period_") if name in _PERIOD_NAMES else name
        for name in (*_basic().names, *pg.NAMES)
    ),
    "log10_n_points",
    "log10_baseline",
)


SURVEY_ENCODING_FEATURES: tuple[str, ...] = (
    "cusum",
    "eta",
    "linear_trend_sigma",
    "mean",
    "periodogram_period_s_to_n_0",
    "periodogram_period_s_to_n_1",
    "period_folded_maximum_slope",
    "log10_n_points",
    "log10_baseline",
)
SURVEY_NEUTRAL_FEATURES: tuple[str, ...] = tuple(
    name for name in FEATURE_NAMES if name not in SURVEY_ENCODING_FEATURES
)


def feature_columns(names: Sequence[str]) -> list[int]:
    """The columns of ``names`` in the full feature vector; ``ValueError`` for a name this
    code does not compute."""
    unknown = [name for name in names if name not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"features this code does not compute: {unknown}")
    return [FEATURE_NAMES.index(name) for name in names]


def feature_matrix(
    curves: Sequence[LightCurve],
    n_jobs: int = -1,
    names: Sequence[str] = FEATURE_NAMES,
    periodogram: Periodogram = NEW_MODELS_PERIODOGRAM,
    passes: list[pg.CoarsePass | None] | None = None,
) -> np.ndarray:
    """``float32`` matrix ``(len(curves), len(names))``, NaN and infinities as 0.

    ``periodogram``: ``fixed``, light-curve's fast periodogram on the fixed 2**17 grid (the
    1.x models); ``refined``, :func:`classifier.periodogram.refined_periodograms`. It is run
    only when ``names`` has a periodogram feature; ``passes``: the curves' last coarse passes
    for the refined one to reuse, updated (:func:`~classifier.periodogram.refined_periodograms`).
    ``n_jobs`` threads (``-1``: one per core) share the curves of the light-curve extractors.

    Examples
    --------
    >>> lc = LightCurve(np.arange(40.0) * 0.37, 15 + 0.3 * np.sin(np.arange(40.0)))
    >>> feature_matrix([lc]).shape == (1, len(FEATURE_NAMES))
    True
    """
    if periodogram not in PERIODOGRAMS:
        raise ValueError(f"periodogram must be one of {PERIODOGRAMS}, got {periodogram!r}")
    columns = feature_columns(names)
    if not curves:
        return np.zeros((0, len(columns)), dtype=np.float32)
    series = [_series(curve) for curve in curves]
    n_basic = len(_basic().names)
    with_periodogram = any(n_basic <= c < n_basic + len(pg.NAMES) for c in columns)
    if with_periodogram and periodogram == "fixed":
        values = pg.extract(_fixed(), series, n_jobs, pg.PARALLEL_FROM)
    else:
        values = np.full((len(curves), n_basic + len(pg.NAMES)), np.nan)
        values[:, :n_basic] = pg.extract(_basic(), series, n_jobs, pg.PARALLEL_FROM)
        if with_periodogram:
            values[:, n_basic:] = pg.refined_periodograms(series, n_jobs, passes)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in _PERIOD_NAMES:
            column = n_basic + pg.NAMES.index(name)
            values[:, column] = np.log10(values[:, column])
        extra = np.column_stack(
            [
                np.log10([len(curve) for curve in curves]),
                np.log10([max(curve.baseline, 1e-3) for curve in curves]),
            ]
        )
    rows = np.concatenate([values, extra], axis=1)[:, columns]
    return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _series(curve: LightCurve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What light-curve takes: times, magnitudes, errors (0.1 where unknown)."""
    err = np.full(len(curve), 0.1) if curve.err is None else np.maximum(curve.err, _MIN_ERR)
    return curve.t, curve.mag, err
