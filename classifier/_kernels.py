"""Compiled (numba) loops behind :mod:`classifier.grid` and :mod:`classifier.accumulator`.

Binning semantics are numpy's ``histogram2d``: bin ``b`` holds ``edges[b] <= x < edges[b+1]``,
the last bin also holds ``x == edges[-1]``, values outside are dropped. Pairs with ``dt == 0``
(repeated times) are never binned.

Three tricks keep the pair loop at a few nanoseconds and exact:

* **dt by runs**: walking a point's partners away from it in time makes ``dt``
  non-decreasing (floating-point subtraction is monotone), so the partners fall into
  consecutive runs, one per dt bin; a binary search finds where each run ends and the run is
  then binned on dm alone. The walk stops once ``dt`` passes the last edge.
* **dt > 0 folded into the first edge**: the kernels get dt edges with a first edge of 0
  raised to the smallest positive double, so ``dt == 0`` simply falls below the grid.
* **dm by a lookup table**: a uniform table over the dm range with cells of at most a quarter
  of the narrowest bin (1/128 for the presets, as far as a 32 KiB cache allows). A cell whose
  neighbourhood (one cell either side, more than any rounding of the cell index) holds no
  edge stores its bin; the few others (~2% of real pairs) store ``-1 - guess`` and are
  settled by comparing against the bin's real edges.

A grid reaches the kernels as two arrays from :func:`kernel_tables`: ``lut`` (the dm table)
and ``tables``, the float64 concatenation ``dt_edges | dm_lower | dm_upper | dm_scale`` that
:func:`_grid_views` slices back using the shape of ``counts``. Kernels count into the
*transposed* layout ``(n_dt, n_dm)``, so that a run of one dt bin increments one contiguous
row; callers present the transpose. A stored curve is one ``points`` array of shape
``(3, capacity)``: rows t, mag, err. Few arguments keep the per-call dispatch of the streaming
hot path short.
Compiled code is cached on disk (``cache=True``), so only the first start pays the compile.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from classifier.lightcurve import ERR_LIMITS, MAG_LIMITS, TIME_LIMITS

LUT_CELLS_PER_NARROWEST_BIN = 128  # fewer cells near an edge: fewer exact comparisons
LUT_CELLS_IN_CACHE = 1 << 15  # int8 cells: the table stays in a 32 KiB L1 data cache
MAX_LUT_CELLS = 1 << 22
BAD_TIME, BAD_MAG, BAD_ERR = -1, -2, -3  # insert_point's refusals


@nb.njit(cache=True, inline="always")
def _grid_views(tables, counts):
    """``(dt_edges, dm_lower, dm_upper, dm_scale)`` views of the packed float tables."""
    n_dm = counts.shape[1]
    n_dt_edges = counts.shape[0] + 1
    dt_edges = tables[:n_dt_edges]
    dm_lower = tables[n_dt_edges : n_dt_edges + n_dm]
    dm_upper = tables[n_dt_edges + n_dm : n_dt_edges + 2 * n_dm]
    dm_scale = tables[n_dt_edges + 2 * n_dm :]
    return dt_edges, dm_lower, dm_upper, dm_scale


@nb.njit(cache=True, inline="always")
def _first_at_or_past(t0, t, start, step, lo, hi, edge, closed):
    """Smallest walk position p in [lo, hi) whose partner ``t[start + step * p]`` has
    ``dt >= edge`` (``dt > edge`` when ``closed``); ``hi`` if none. dt grows with p.

    Galloping from ``lo`` (1, 2, 4... steps, then bisection): runs of the short dt bins hold
    few partners, so most searches end after a comparison or two.
    """
    sign = float(step)
    width = 1
    while lo < hi:
        probe = min(lo + width - 1, hi - 1)
        dt = sign * (t[start + step * probe] - t0)
        past = dt > edge if closed else dt >= edge  # one test a step: no short-circuit branch
        if past:
            hi = probe
            break
        lo = probe + 1
        width *= 2
    while lo < hi:
        mid = (lo + hi) >> 1
        dt = sign * (t[start + step * mid] - t0)
        past = dt > edge if closed else dt >= edge
        if past:
            hi = mid
        else:
            lo = mid + 1
    return lo


@nb.njit(cache=True, inline="always")
def _pair_walk(t0, m0, t, m, start, count, step, lut, tables, counts):
    """Count the pairs of point ``(t0, m0)`` with ``count`` stored points from ``start``.

    ``step = 1`` walks later points (``dt = t - t0``), ``step = -1`` earlier ones
    (``dt = t0 - t``); either way ``dt`` grows along the walk. Multiplying by the sign is
    exact, so both directions give bit-identical ``dt`` and ``dm`` to a batch count.
    The walk is cut into runs, one per dt bin, by binary search; each run is then binned on
    dm alone.
    """
    dt_edges, dm_lower, dm_upper, dm_scale = _grid_views(tables, counts)
    dm_lo = dm_scale[0]
    dm_hi = dm_scale[1]
    inv_cell = dm_scale[2]
    n_dt = dt_edges.shape[0] - 1
    sign = float(step)
    p = _first_at_or_past(t0, t, start, step, 0, count, dt_edges[0], False)
    for kb in range(n_dt):
        if p >= count:
            break
        end = _first_at_or_past(t0, t, start, step, p, count, dt_edges[kb + 1], kb == n_dt - 1)
        # The run's stored indices, in ascending order whichever way the walk goes.
        first = start + p if step > 0 else start - end + 1
        row = counts[kb]
        for idx in range(first, first + end - p):
            dm = sign * (m[idx] - m0)
            if dm < dm_lo or dm > dm_hi:
                continue
            b = lut[int((dm - dm_lo) * inv_cell)]
            if b < 0:
                b = -1 - b
                b += 1 if dm >= dm_upper[b] else 0
                b -= 1 if dm < dm_lower[b] else 0
            row[b] += 1
        p = end


@nb.njit(cache=True)
def count_sorted(t, m, lut, tables, counts):
    """Add the pair counts of one time-sorted curve to ``counts`` (shape n_dt x n_dm)."""
    n = t.shape[0]
    for i in range(n - 1):
        _pair_walk(t[i], m[i], t, m, i + 1, n - 1 - i, 1, lut, tables, counts)


@nb.njit(cache=True, parallel=True)
def count_many_sorted(t, m, offsets, lut, tables, counts):
    """``count_sorted`` for curve ``c`` = ``t[offsets[c]:offsets[c+1]]``, curves in parallel."""
    for c in nb.prange(offsets.shape[0] - 1):
        lo = offsets[c]
        hi = offsets[c + 1]
        count_sorted(t[lo:hi], m[lo:hi], lut, tables, counts[c])


@nb.njit(cache=True, inline="always")
def _insert_one(points, n, t_new, m_new, err_new, lut, tables, counts):
    """Insert one point into the sorted store (capacity > n) and count its pairs.

    Points stay in (time, magnitude) order, as :func:`classifier.lightcurve.canonical_order`
    leaves them. Returns 1 when inserted, 0 for an exact duplicate (same time and magnitude).
    """
    t = points[0]
    m = points[1]
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if t[mid] < t_new:
            lo = mid + 1
        else:
            hi = mid
    pos = lo
    while pos < n and t[pos] == t_new and m[pos] <= m_new:
        if m[pos] == m_new:
            return 0
        pos += 1
    _pair_walk(t_new, m_new, t, m, pos - 1, pos, -1, lut, tables, counts)
    if pos < n:  # a late point: count its later partners, make room
        _pair_walk(t_new, m_new, t, m, pos, n - pos, 1, lut, tables, counts)
        for row in range(3):
            values = points[row]
            for i in range(n, pos, -1):
                values[i] = values[i - 1]
    points[0, pos] = t_new
    points[1, pos] = m_new
    points[2, pos] = err_new
    return 1


@nb.njit(cache=True)
def insert_points(points, n, new_t, new_m, new_err, lut, tables, counts, added):
    """Insert points one by one (O(n) each) into a store with room, setting ``added[i]``
    when point ``i`` was new; returns how many were."""
    total = 0
    for i in range(new_t.shape[0]):
        flag = _insert_one(points, n + total, new_t[i], new_m[i], new_err[i], lut, tables, counts)
        added[i] = flag == 1
        total += flag
    return total


@nb.njit(cache=True, inline="always")
def _refusal(t, m, err):
    """:data:`BAD_TIME`, :data:`BAD_MAG` or :data:`BAD_ERR` for a value not finite or outside
    the light-curve limits (an error may be NaN: unknown), else 0."""
    if not (TIME_LIMITS[0] <= t <= TIME_LIMITS[1]):  # NaN fails every comparison
        return BAD_TIME
    if not (MAG_LIMITS[0] <= m <= MAG_LIMITS[1]):
        return BAD_MAG
    if not (np.isnan(err) or ERR_LIMITS[0] <= err <= ERR_LIMITS[1]):
        return BAD_ERR
    return 0


@nb.njit(cache=True)
def first_invalid(t, m, err):
    """The index of the first point with a value outside the light-curve limits (NaN and
    infinities included, errors too), or -1 when every point is valid."""
    for i in range(t.shape[0]):
        if np.isnan(err[i]) or _refusal(t[i], m[i], err[i]) != 0:
            return i
    return -1


@nb.njit(cache=True)
def insert_point(points, n, t_new, m_new, err_new, lut, tables, counts):
    """Validate and insert a single point (the streaming hot path).

    Returns 1 if new, 0 if a duplicate, or :data:`BAD_TIME`, :data:`BAD_MAG`, :data:`BAD_ERR`
    (nothing changed) when a value is not finite or outside the light-curve limits.
    """
    refusal = _refusal(t_new, m_new, err_new)
    if refusal != 0:
        return refusal
    return _insert_one(points, n, t_new, m_new, err_new, lut, tables, counts)


def kernel_tables(dm_edges: np.ndarray, dt_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lut, tables)``: a grid as the kernels take it (see the module docstring).

    Raises ``ValueError`` when the narrowest dm bin is too fine for a table of
    :data:`MAX_LUT_CELLS` cells.
    """
    kernel_dt = dt_edges.copy()
    kernel_dt[0] = max(kernel_dt[0], np.nextafter(0.0, 1.0))  # dt == 0 is never binned

    n_bins = len(dm_edges) - 1
    span = float(dm_edges[-1] - dm_edges[0])
    gap = float(np.min(np.diff(dm_edges)))
    # At most a quarter of the narrowest bin (the guess is then within one bin), and as fine
    # as the cache allows up to LUT_CELLS_PER_NARROWEST_BIN.
    width = min(gap / 4, max(gap / LUT_CELLS_PER_NARROWEST_BIN, span / LUT_CELLS_IN_CACHE))
    n_cells = int(np.ceil(span / width)) + 3  # the top edge, rounding, and a neighbour
    if n_cells > MAX_LUT_CELLS:
        raise ValueError(f"the narrowest dm bin ({gap:g}) is too fine")
    left = dm_edges[0] + width * np.arange(n_cells)
    guess = np.clip(np.searchsorted(dm_edges, left, side="right") - 1, 0, n_bins - 1)
    before = np.concatenate([guess[:1], guess[:-1]])  # bin at the left of cell c - 1
    after = np.concatenate([guess[2:], guess[-1:], guess[-1:]])  # at the left of cell c + 2
    lut = np.where(before == after, guess, -1 - guess).astype(np.int8 if n_bins < 128 else np.int32)

    lower = dm_edges[:-1].copy()
    upper = dm_edges[1:].copy()
    lower[0] = -np.inf
    upper[-1] = np.inf
    scale = np.array([dm_edges[0], dm_edges[-1], 1.0 / width])
    return lut, np.concatenate([kernel_dt, lower, upper, scale])
