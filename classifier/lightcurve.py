"""Single-band light curves: validation, time ordering and the repeated-time rule.

A :class:`LightCurve` holds times (days; MJD for every survey reader except EROS, whose
times are days from the survey epoch), magnitudes, optional errors and a band name.
Construction validates every value and rejects bad input with a :class:`LightCurveError`
that names the field, the index and the reason.

Repeated times
--------------
Real Catalina files list the same MJD more than once (712 of 5,757 CSS files). The rule:

* an **exact duplicate** (same time *and* same magnitude) is one observation listed twice:
  it is kept once, so a re-sent point never counts twice;
* the **same time with different magnitudes** is two measurements: both are kept and each
  pairs with every other point as usual, but the pair they form with each other has
  ``dt = 0`` -- no time lag and no defined sign of ``dm`` -- and is not binned
  (dm-dt uses pairs with ``dt > 0`` only). It still counts in ``p = n(n-1)/2``.

The rule depends only on the set of points, never on their order of arrival, which is what
lets the incremental accumulator agree exactly with a batch recomputation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Bounds that no real photometry crosses. Times are days: MJD for modern surveys, or days
# from a survey epoch (EROS); a Julian Date (~2.4e6) given as MJD is the usual mistake.
TIME_LIMITS = (-100_000.0, 100_000.0)
MAG_LIMITS = (-30.0, 40.0)
ERR_LIMITS = (0.0, 10.0)
DEFAULT_BAND = "single"
_JD_HINT = " (days; a Julian Date? use MJD = JD - 2400000.5)"


class LightCurveError(ValueError):
    """Invalid light-curve input; ``field`` names the offending input (e.g. ``mag[3]``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _as_float_array(name: str, values: object) -> np.ndarray:
    """Convert ``values`` to a 1-D float64 array, naming the first non-numeric element."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        array = values.astype(np.float64, copy=False)
    else:
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            raise LightCurveError(
                name, f"expected a sequence of numbers, got {type(values).__name__}"
            )
        converted = []
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise LightCurveError(f"{name}[{i}]", f"{value!r} is not a number")
            converted.append(float(value))
        array = np.asarray(converted, dtype=np.float64)
    if array.ndim != 1:
        raise LightCurveError(name, f"expected a 1-D array, got shape {array.shape}")
    return array


def _check_range(name: str, array: np.ndarray, limits: tuple[float, float], hint: str = "") -> None:
    """Reject NaN, infinities and values outside ``limits``, naming the first bad index."""
    bad = ~np.isfinite(array)
    if bad.any():
        i = int(np.argmax(bad))
        raise LightCurveError(f"{name}[{i}]", f"{array[i]} is not finite")
    low, high = limits
    outside = (array < low) | (array > high)
    if outside.any():
        i = int(np.argmax(outside))
        raise LightCurveError(
            f"{name}[{i}]", f"{array[i]:g} is outside the plausible range [{low:g}, {high:g}]{hint}"
        )


def check_values(
    name: str, values: object, limits: tuple[float, float], hint: str = ""
) -> np.ndarray:
    """``values`` as a validated 1-D float64 array: numeric, finite, within ``limits``."""
    array = _as_float_array(name, values)
    _check_range(name, array, limits, hint)
    return array


def invalid_points(
    t: np.ndarray, mag: np.ndarray, err: np.ndarray | None = None
) -> list[tuple[int, str]]:
    """``(index, reason)`` for every point that :class:`LightCurve` would reject."""
    checks = [("t", t, TIME_LIMITS), ("mag", mag, MAG_LIMITS)]
    if err is not None:
        checks.append(("err", err, ERR_LIMITS))
    problems: dict[int, str] = {}
    for name, values, (low, high) in checks:
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
        for i in np.flatnonzero(bad):
            problems.setdefault(
                int(i), f"{name}={values[i]:.12g} is not finite or outside [{low:g}, {high:g}]"
            )
    return sorted(problems.items())


def canonical_order(t: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Indices that sort points by (time, magnitude) and keep one of each exact duplicate."""
    order = np.lexsort((m, t))
    if len(order) < 2:
        return order
    ts, ms = t[order], m[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (ts[1:] != ts[:-1]) | (ms[1:] != ms[:-1])
    return order[keep]


@dataclass(frozen=True, eq=False, init=False, repr=False)
class LightCurve:
    """A validated single-band light curve, sorted by time, exact duplicates removed.

    Parameters
    ----------
    t : times in days (MJD), any order.
    mag : magnitudes, same length as ``t``.
    err : optional magnitude errors (non-negative), same length as ``t``.
    band : band name (``"g"``, ``"r"``, ``"V"``...).
    object_id : optional identifier carried along for reports and pictures.

    Examples
    --------
    >>> lc = LightCurve([3.0, 1.0, 2.0, 2.0], [15.1, 15.0, 15.4, 15.4])
    >>> lc.t.tolist(), lc.n_duplicates_dropped
    ([1.0, 2.0, 3.0], 1)
    """

    t: np.ndarray
    mag: np.ndarray
    err: np.ndarray | None = None
    band: str = DEFAULT_BAND
    object_id: str | None = None
    n_duplicates_dropped: int = field(default=0)

    def __init__(
        self,
        t: object,
        mag: object,
        err: object | None = None,
        band: str = DEFAULT_BAND,
        object_id: str | None = None,
        *,
        min_points: int = 2,
    ) -> None:
        times = check_values("t", t, TIME_LIMITS, _JD_HINT)
        mags = check_values("mag", mag, MAG_LIMITS)
        if len(mags) != len(times):
            raise LightCurveError(
                "mag", f"length {len(mags)} does not match t (length {len(times)})"
            )
        errs = None
        if err is not None:
            errs = check_values("err", err, ERR_LIMITS)
            if len(errs) != len(times):
                raise LightCurveError("err", f"length {len(errs)} does not match t ({len(times)})")
        if len(times) < min_points:
            raise LightCurveError("t", f"needs at least {min_points} points, got {len(times)}")
        if not isinstance(band, str) or not band:
            raise LightCurveError("band", f"expected a non-empty string, got {band!r}")

        order = canonical_order(times, mags)
        object.__setattr__(self, "t", times[order])
        object.__setattr__(self, "mag", mags[order])
        object.__setattr__(self, "err", None if errs is None else errs[order])
        object.__setattr__(self, "band", band)
        object.__setattr__(self, "object_id", object_id)
        object.__setattr__(self, "n_duplicates_dropped", len(times) - len(order))
        for array in (self.t, self.mag, self.err):
            if array is not None:
                array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.t)

    def __repr__(self) -> str:
        name = f"{self.object_id} " if self.object_id else ""
        return f"<LightCurve {name}band={self.band} n={len(self)} baseline={self.baseline:.1f} d>"

    @property
    def n_pairs(self) -> int:
        """Number of point pairs ``n(n-1)/2``: the normalisation of a dm-dt image."""
        return len(self) * (len(self) - 1) // 2

    @property
    def baseline(self) -> float:
        """Time span covered, in days."""
        return float(self.t[-1] - self.t[0]) if len(self) else math.nan

    def first(self, k: int) -> LightCurve:
        """The first ``k`` points in time order (a partial light curve as a stream sees it)."""
        return LightCurve(
            self.t[:k],
            self.mag[:k],
            None if self.err is None else self.err[:k],
            band=self.band,
            object_id=self.object_id,
        )
