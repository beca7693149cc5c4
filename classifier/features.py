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

import light_curve as lcf
import numpy as np

from classifier.lightcurve import LightCurve

# Angular frequencies up to 2*pi*12 rad/day (periods down to 2 hours); 2**17 steps resolve a
# peak over an 8-year baseline (width 2*pi/3000 ~ 0.0021 rad/day) with ~3.6 samples.
_FREQUENCIES = np.linspace(0.0, 2.0 * np.pi * 12.0, 2**17 + 1)
_MIN_ERR = 1e-3  # light-curve weights by 1/err^2: a zero error would be an infinite weight


@lru_cache(maxsize=1)
def _extractor() -> lcf.Extractor:
    periodogram = lcf.Periodogram(
        peaks=2,
        freqs=_FREQUENCIES,
        fast=True,
        phase_features=[
            lcf.Amplitude(),
            lcf.Skew(),
            lcf.Kurtosis(),
            lcf.InterPercentileRange(0.25),
            lcf.MaximumSlope(),
        ],
    )
    return lcf.Extractor(
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
        periodogram,
    )


_PERIOD_NAMES = ("periodogram_period_0", "periodogram_period_1")
FEATURE_NAMES: tuple[str, ...] = (
    *(
        name.replace("periodogram_period_", "log10_period_") if name in _PERIOD_NAMES else name
        for name in _extractor().names
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
    curves: Sequence[LightCurve], n_jobs: int = -1, names: Sequence[str] = FEATURE_NAMES
) -> np.ndarray:
    """``float32`` matrix ``(len(curves), len(names))``, NaN and infinities as 0.

    ``n_jobs`` threads (``-1``: one per core) share the curves.

    Examples
    --------
    >>> lc = LightCurve(np.arange(40.0) * 0.37, 15 + 0.3 * np.sin(np.arange(40.0)))
    >>> feature_matrix([lc]).shape == (1, len(FEATURE_NAMES))
    True
    """
    columns = feature_columns(names)
    if not curves:
        return np.zeros((0, len(columns)), dtype=np.float32)
    series = [
        (
            curve.t,
            curve.mag,
            np.full(len(curve), 0.1) if curve.err is None else np.maximum(curve.err, _MIN_ERR),
        )
        for curve in curves
    ]
    values = np.asarray(
        _extractor().many(series, sorted=True, check=False, fill_value=np.nan, n_jobs=n_jobs),
        dtype=np.float64,
    ).reshape(len(curves), -1)
    names = _extractor().names
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in _PERIOD_NAMES:
            column = names.index(name)
            values[:, column] = np.log10(values[:, column])
        extra = np.column_stack(
            [
                np.log10([len(curve) for curve in curves]),
                np.log10([max(curve.baseline, 1e-3) for curve in curves]),
            ]
        )
    rows = np.concatenate([values, extra], axis=1)[:, columns]
    return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
