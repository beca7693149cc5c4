"""The periodogram features at stream cost: a coarse pass on a grid that follows the curve's
baseline, then the exact Lomb-Scargle power around the best coarse peaks.

The 1.x models computed the periodogram with light-curve's fast (FFT) method on one fixed grid
of 2**17 + 1 angular frequencies up to 2*pi*12 rad/day, sized for an 8-year baseline: ~12 ms a
curve whatever its length, 99% of the features' cost. A peak of a curve spanning ``T`` days is
``2*pi/T`` wide, so:

1. **coarse**: light-curve's fast periodogram on ``2**k + 1`` frequencies over the same range,
   ``k`` the smallest putting :data:`COARSE_SAMPLES_PER_PEAK` samples across a peak
   (:func:`grid_power`; 2**17 at most, as before): its :data:`CANDIDATES` best peaks, each
   with light-curve's signal-to-noise on that grid (the peak's height over the mean power,
   in standard deviations of the power);
2. **refined**: around each of the :data:`CANDIDATES` highest coarse local maxima, the exact
   Lomb-Scargle power (the classic normalisation: by twice the sample variance) on
   :data:`REFINE_POINTS` frequencies spanning one coarse step either side, ~32 samples a peak;
   each window's maximum is a peak, the two highest are reported with their coarse S/N;
3. **folded**: the curve folded at the best period (phase ``(t mod P) / P`` in [0, 1), as
   light-curve folds) and described by the same five statistics.

A stream rescoring an object reuses its last coarse pass (:class:`CoarsePass`, kept beside
the object) while the curve's points and baseline have grown by at most
:data:`REUSE_GROWTH` (curves of :data:`REUSE_MIN_POINTS` points or more: on fewer, a point
moves the peaks, and the pass is cheap): only the exact refinement (on every point, within
one step of the pass's grid around its peaks) and the folding run again. The S/N and the
candidate peaks are then those of the pass.

The output has light-curve's names and order (:data:`NAMES`), so models choose the method by
their card (``periodogram``: ``fixed`` or ``refined``) and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import light_curve as lcf
import numba as nb
import numpy as np

MAX_ANGULAR_FREQUENCY = 2.0 * np.pi * 12.0  # periods down to 2 hours
MIN_GRID_POWER, MAX_GRID_POWER = 10, 17
COARSE_SAMPLES_PER_PEAK = 2.0
CANDIDATES = 8
REFINE_POINTS = 33  # across two coarse steps: 16 samples a coarse step
PEAKS = 2
MIN_POINTS = 3
REUSE_GROWTH = 0.1  # a coarse pass serves until the curve has 10% more points
REUSE_MIN_POINTS = 100  # below, the pass is cheap and a point moves the peaks: never reused
_PASS_FORMAT = 1.0  # the first value of a serialised pass
# Curves from which light-curve's ``many`` (a thread pool set up at each call, ~50-75 µs)
# pays: for the cheap features (a few µs a young curve), and for a coarse periodogram pass.
PARALLEL_FROM = 8
PERIODOGRAM_PARALLEL_FROM = 2


def extract(
    extractor: lcf.Extractor, series: Sequence, n_jobs: int, parallel_from: int
) -> np.ndarray:
    """``(len(series), n)``: ``extractor`` on each time-sorted ``(t, mag, err)`` curve (NaN
    where it cannot be computed), on ``n_jobs`` threads (``-1``: one per core) from
    ``parallel_from`` curves on; fewer are done one by one, since ``many`` costs ~50-75 µs a
    call before any curve."""
    options = {"sorted": True, "check": False, "fill_value": np.nan}
    if len(series) >= parallel_from and n_jobs != 1:
        found = extractor.many(list(series), n_jobs=n_jobs, **options)
    else:
        found = [extractor(*curve, **options) for curve in series]
    return np.asarray(found, dtype=np.float64).reshape(len(series), -1)


def folded_features() -> list:
    """The statistics of the folded curve, in light-curve's order."""
    return [
        lcf.Amplitude(),
        lcf.Skew(),
        lcf.Kurtosis(),
        lcf.InterPercentileRange(0.25),
        lcf.MaximumSlope(),
    ]


def fixed_periodogram(power: int = MAX_GRID_POWER) -> lcf.Periodogram:
    """light-curve's fast periodogram (with the folded features) on ``2**power + 1``
    frequencies."""
    return lcf.Periodogram(
        peaks=PEAKS,
        freqs=np.linspace(0.0, MAX_ANGULAR_FREQUENCY, 2**power + 1),
        fast=True,
        phase_features=folded_features(),
    )


NAMES: tuple[str, ...] = tuple(fixed_periodogram(MIN_GRID_POWER).names)


def grid_power(baseline: float, samples_per_peak: float = COARSE_SAMPLES_PER_PEAK) -> int:
    """``k`` such that ``2**k`` steps up to the highest frequency put ``samples_per_peak``
    samples across a peak of a curve spanning ``baseline`` days (within 2**10..2**17).

    >>> grid_power(30.0), grid_power(365.0), grid_power(3000.0)
    (10, 14, 17)
    """
    needed = samples_per_peak * MAX_ANGULAR_FREQUENCY / (2.0 * np.pi) * max(baseline, 1e-3)
    return min(max(int(np.ceil(np.log2(needed))), MIN_GRID_POWER), MAX_GRID_POWER)


@dataclass(frozen=True)
class CoarsePass:
    """A curve's coarse peaks (``CANDIDATES`` period, S/N pairs; NaN where fewer) on the grid
    of ``2**power`` steps, found when it had ``n_points`` points over ``baseline`` days."""

    power: int
    n_points: int
    baseline: float
    peaks: np.ndarray

    def serves(self, n_points: int, baseline: float) -> bool:
        """Whether the curve, now of ``n_points`` over ``baseline`` days, may reuse it: the
        pass was of at least :data:`REUSE_MIN_POINTS` points, and both grew by at most
        :data:`REUSE_GROWTH` since (its peaks, up to a tenth narrower, still have 1.8
        samples of the pass's grid across them).

        >>> found = CoarsePass(14, 100, 365.0, np.full(2 * CANDIDATES, np.nan))
        >>> found.serves(110, 400.0), found.serves(111, 400.0), found.serves(99, 365.0)
        (True, False, False)
        >>> CoarsePass(14, 99, 365.0, found.peaks).serves(100, 365.0)  # too few points
        False
        >>> found.serves(105, 410.0)  # a longer baseline: its peaks are too narrow
        False
        """
        if self.n_points < REUSE_MIN_POINTS:
            return False
        grown = self.n_points <= n_points <= self.n_points * (1.0 + REUSE_GROWTH)
        return grown and self.baseline <= baseline <= self.baseline * (1.0 + REUSE_GROWTH)

    def to_bytes(self) -> bytes:
        head = [_PASS_FORMAT, self.power, self.n_points, self.baseline]
        return np.concatenate([head, self.peaks]).astype("<f8").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> CoarsePass | None:
        """The pass, or None for bytes that are not one of this version (recomputed)."""
        if len(blob) != 8 * (4 + 2 * CANDIDATES):
            return None
        values = np.frombuffer(blob, "<f8")
        if values[0] != _PASS_FORMAT:
            return None
        return cls(int(values[1]), int(values[2]), float(values[3]), values[4:].copy())


@lru_cache(maxsize=MAX_GRID_POWER + 1)
def _coarse(power: int) -> lcf.Extractor:
    """The coarse pass: the :data:`CANDIDATES` best peaks (period, S/N) of light-curve's fast
    periodogram on ``2**power + 1`` frequencies."""
    return lcf.Extractor(
        lcf.Periodogram(
            peaks=CANDIDATES,
            freqs=np.linspace(0.0, MAX_ANGULAR_FREQUENCY, 2**power + 1),
            fast=True,
        )
    )


@lru_cache(maxsize=1)
def _folded() -> lcf.Extractor:
    return lcf.Extractor(*folded_features())


@nb.njit(cache=True, nogil=True)
def _window_power(t, y, start, step, count, out):  # pragma: no cover - compiled
    """Lomb-Scargle sums at ``count`` angular frequencies ``start + i * step`` into ``out``;
    cos and sin of each ``omega * t`` advance by rotation (no trigonometry inside the loop)."""
    n = t.shape[0]
    cos_w = np.cos(start * t)
    sin_w = np.sin(start * t)
    cos_d = np.cos(step * t)
    sin_d = np.sin(step * t)
    for i in range(count):
        yc = ys = cc = ss = cs = 0.0
        for j in range(n):
            c = cos_w[j]
            s = sin_w[j]
            yc += y[j] * c
            ys += y[j] * s
            cc += c * c
            ss += s * s
            cs += c * s
            cos_w[j] = c * cos_d[j] - s * sin_d[j]
            sin_w[j] = s * cos_d[j] + c * sin_d[j]
        two_tau = np.arctan2(2.0 * cs, cc - ss)  # 2 * omega * tau
        ct = np.cos(0.5 * two_tau)
        st = np.sin(0.5 * two_tau)
        y_cos = ct * yc + st * ys
        y_sin = ct * ys - st * yc
        cos2 = ct * ct * cc + 2.0 * ct * st * cs + st * st * ss
        sin2 = ct * ct * ss - 2.0 * ct * st * cs + st * st * cc
        out[i] = (y_cos * y_cos / cos2 if cos2 > 0 else 0.0) + (
            y_sin * y_sin / sin2 if sin2 > 0 else 0.0
        )


def lomb_scargle(
    t: np.ndarray, m: np.ndarray, starts: np.ndarray, step: float, count: int
) -> np.ndarray:
    """Exact Lomb-Scargle power, ``(len(starts), count)``: row ``r`` at the angular
    frequencies ``starts[r] + i * step`` (all > 0), normalised by twice the sample variance
    (as light-curve's direct method)."""
    y = m - m.mean()
    shifted = t - t[0]
    out = np.empty((len(starts), count))
    for row, start in enumerate(starts):
        _window_power(shifted, y, start, step, count, out[row])
    return out / (2.0 * y.var(ddof=1))


def refined_periodograms(
    series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_jobs: int = -1,
    passes: list[CoarsePass | None] | None = None,
) -> np.ndarray:
    """``(len(series), len(NAMES))``: the features of time-sorted ``(t, mag, err)`` curves;
    NaN where a curve is too short, flat or instantaneous for them. The coarse pass runs on
    ``n_jobs`` threads (``-1``: one per core), curves of one grid together.

    ``passes``: each curve's last coarse pass (None: none), reused where it serves; the
    others are replaced in the list by the pass computed now."""
    out = np.full((len(series), len(NAMES)), np.nan)
    usable = [
        i
        for i, (t, m, _) in enumerate(series)
        if len(t) >= MIN_POINTS and t[-1] > t[0] and np.ptp(m) > 0
    ]
    baselines = {i: float(series[i][0][-1] - series[i][0][0]) for i in usable}
    found: dict[int, CoarsePass] = {}
    for i in usable:
        kept = None if passes is None else passes[i]
        if kept is not None and kept.serves(len(series[i][0]), baselines[i]):
            found[i] = kept
    powers = {i: grid_power(baselines[i]) for i in usable if i not in found}
    for power in sorted(set(powers.values())):
        rows = [i for i in powers if powers[i] == power]
        coarse = extract(
            _coarse(power), [series[i] for i in rows], n_jobs, PERIODOGRAM_PARALLEL_FROM
        )
        for row, peaks in zip(rows, coarse, strict=True):
            found[row] = CoarsePass(power, len(series[row][0]), baselines[row], peaks)
            if passes is not None:
                passes[row] = found[row]
    for i, coarse_pass in found.items():
        step = MAX_ANGULAR_FREQUENCY / 2**coarse_pass.power
        out[i] = _refined(*series[i], coarse_pass.peaks, step)
    return out


def _refined(
    t: np.ndarray, m: np.ndarray, err: np.ndarray, coarse: np.ndarray, step: float
) -> np.ndarray:
    """One curve's features from its coarse peaks (period, S/N pairs) on a grid of
    ``step``: each peak's exact power within one step either side, the two best kept with
    the coarse S/N of their peak; the folded statistics at the best period."""
    out = np.full(len(NAMES), np.nan)
    periods, significance = coarse[0::2], coarse[1::2]
    found = np.flatnonzero(np.isfinite(periods) & (periods > 0) & np.isfinite(significance))
    if not len(found):
        return out
    fine_step = 2.0 * step / (REFINE_POINTS - 1)
    starts = np.maximum(2.0 * np.pi / periods[found] - step, fine_step)
    fine = lomb_scargle(t, m, starts, fine_step, REFINE_POINTS)
    best = fine.argmax(axis=1)
    peak_power = fine[np.arange(len(found)), best]
    for i, window in enumerate(np.argsort(peak_power, kind="stable")[::-1][:PEAKS]):
        out[2 * i] = 2.0 * np.pi / (starts[window] + best[window] * fine_step)
        out[2 * i + 1] = significance[found[window]]
    period = out[0]
    phase = np.mod(t, period) / period
    folded = np.argsort(phase, kind="stable")
    out[2 * PEAKS :] = _folded()(
        phase[folded], m[folded], err[folded], sorted=True, check=False, fill_value=np.nan
    )
    return out
