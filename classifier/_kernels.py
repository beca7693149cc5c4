"""Compiled (numba) loops behind :mod:`classifier.grid` and :mod:`classifier.accumulator`.

Binning semantics are numpy's ``histogram2d``: bin ``b`` holds ``edges[b] <= x < edges[b+1]``,
the last bin also holds ``x == edges[-1]``, values outside are dropped. Pairs with ``dt == 0``
(repeated times) are never binned.

Three tricks keep the pair loop at a few nanoseconds and exact:

* **dt by runs**: walking a point's partners away from it in time makes ``dt``
  non-decreasing, so the partners fall into consecutive runs, one per dt bin; a short scan
  finds where each run ends and the run is then binned on dm alone. The walk stops once
  ``dt`` passes the last edge.
* **dt > 0 folded into the first edge**: the kernels get ``dt_edges`` with a first edge of 0
  raised to the smallest positive double, so ``dt == 0`` simply falls below the grid.
* **dm by a lookup table**: a uniform table over the dm range with cells of 1/32 of the
  narrowest bin. A cell whose neighbourhood (one cell either side, more than any rounding of
  the cell index) holds no edge stores its bin; the few others store ``-1 - guess`` and are
  settled by comparing against the bin's real edges.

The grid reaches the kernels as five arrays (see :func:`kernel_tables`). Scalars are read into
locals before the loops: the compiler cannot prove that they do not alias ``counts``.
Compiled code is cached on disk (``cache=True``), so only the first start pays the compile.
"""

from __future__ import annotations

import numba as nb
import numpy as np

LUT_CELLS_PER_NARROWEST_BIN = 32
MAX_LUT_CELLS = 1 << 22


@nb.njit(cache=True, inline="always")
def _pair_walk(
    t0, m0, t, m, start, count, step, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
):
    """Count the pairs of point ``(t0, m0)`` with ``count`` stored points from ``start``.

    ``step = 1`` walks later points (``dt = t - t0``), ``step = -1`` earlier ones
    (``dt = t0 - t``); either way ``dt`` grows along the walk. Multiplying by the sign is
    exact, so both directions give bit-identical ``dt`` and ``dm`` to a batch count.
    The walk is cut into dt bins first (a scan for each bin's end), then each run of
    partners is binned on dm alone.
    """
    dm_lo = dm_scale[0]
    dm_hi = dm_scale[1]
    inv_cell = dm_scale[2]
    n_dt = dt_edges.shape[0] - 1
    sign = float(step)
    q = 0  # partners done; the next one is t[start + step * q]
    edge = dt_edges[0]
    while q < count and sign * (t[start + step * q] - t0) < edge:
        q += 1
    for kb in range(n_dt):
        if q >= count:
            break
        edge = dt_edges[kb + 1]
        end = q
        if kb < n_dt - 1:
            while end < count and sign * (t[start + step * end] - t0) < edge:
                end += 1
        else:  # the last bin is closed on the right
            while end < count and sign * (t[start + step * end] - t0) <= edge:
                end += 1
        idx = start + step * q
        for _ in range(end - q):
            dm = sign * (m[idx] - m0)
            idx += step
            if dm < dm_lo or dm > dm_hi:
                continue
            b = dm_lut[int((dm - dm_lo) * inv_cell)]
            if b < 0:
                b = -1 - b
                b += 1 if dm >= dm_upper[b] else 0
                b -= 1 if dm < dm_lower[b] else 0
            counts[b, kb] += 1
        q = end


@nb.njit(cache=True)
def count_sorted(t, m, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts):
    """Add the pair counts of one time-sorted curve to ``counts`` (shape n_dm x n_dt)."""
    n = t.shape[0]
    for i in range(n - 1):
        _pair_walk(
            t[i],
            m[i],
            t,
            m,
            i + 1,
            n - 1 - i,
            1,
            dt_edges,
            dm_lut,
            dm_lower,
            dm_upper,
            dm_scale,
            counts,
        )


@nb.njit(cache=True, parallel=True)
def count_many_sorted(t, m, offsets, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts):
    """``count_sorted`` for curve ``c`` = ``t[offsets[c]:offsets[c+1]]``, curves in parallel."""
    for c in nb.prange(offsets.shape[0] - 1):
        lo = offsets[c]
        hi = offsets[c + 1]
        count_sorted(t[lo:hi], m[lo:hi], dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts[c])


@nb.njit(cache=True, inline="always")
def _insert_one(
    t, m, err, n, t_new, m_new, err_new, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
):
    """Insert one point into the sorted store (capacity > n) and count its pairs.

    Points stay in (time, magnitude) order, as :func:`classifier.lightcurve.canonical_order`
    leaves them. Returns 1 when inserted, 0 for an exact duplicate (same time and magnitude).
    """
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
    _pair_walk(
        t_new, m_new, t, m, pos - 1, pos, -1, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
    )
    _pair_walk(
        t_new, m_new, t, m, pos, n - pos, 1, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
    )
    t[pos + 1 : n + 1] = t[pos:n].copy()
    m[pos + 1 : n + 1] = m[pos:n].copy()
    err[pos + 1 : n + 1] = err[pos:n].copy()
    t[pos] = t_new
    m[pos] = m_new
    err[pos] = err_new
    return 1


@nb.njit(cache=True)
def insert_points(
    t, m, err, n, new_t, new_m, new_err, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
):
    """Insert points one by one (O(n) each) into a store with room; returns how many were new."""
    added = 0
    for i in range(new_t.shape[0]):
        added += _insert_one(
            t,
            m,
            err,
            n + added,
            new_t[i],
            new_m[i],
            new_err[i],
            dt_edges,
            dm_lut,
            dm_lower,
            dm_upper,
            dm_scale,
            counts,
        )
    return added


@nb.njit(cache=True)
def insert_point(
    t, m, err, n, t_new, m_new, err_new, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
):
    """Insert a single point (the streaming hot path); returns 1 if new, 0 if a duplicate."""
    return _insert_one(
        t, m, err, n, t_new, m_new, err_new, dt_edges, dm_lut, dm_lower, dm_upper, dm_scale, counts
    )


def kernel_tables(dm_edges: np.ndarray, dt_edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(dt_edges, dm_lut, dm_lower, dm_upper, dm_scale)`` as the kernels take them.

    Raises ``ValueError`` when the narrowest dm bin is too fine for a table of
    :data:`MAX_LUT_CELLS` cells.
    """
    kernel_dt = dt_edges.copy()
    kernel_dt[0] = max(kernel_dt[0], np.nextafter(0.0, 1.0))  # dt == 0 is never binned

    n_bins = len(dm_edges) - 1
    span = float(dm_edges[-1] - dm_edges[0])
    width = float(np.min(np.diff(dm_edges))) / LUT_CELLS_PER_NARROWEST_BIN
    n_cells = int(np.ceil(span / width)) + 3  # the top edge, rounding, and a neighbour
    if n_cells > MAX_LUT_CELLS:
        raise ValueError(f"the narrowest dm bin ({np.min(np.diff(dm_edges)):g}) is too fine")
    left = dm_edges[0] + width * np.arange(n_cells)
    guess = np.clip(np.searchsorted(dm_edges, left, side="right") - 1, 0, n_bins - 1)
    before = np.concatenate([guess[:1], guess[:-1]])  # bin at the left of cell c - 1
    after = np.concatenate([guess[2:], guess[-1:], guess[-1:]])  # at the left of cell c + 2
    lut = np.where(before == after, guess, -1 - guess)
    lut_type = np.int8 if n_bins < 128 else np.int32

    lower = dm_edges[:-1].copy()
    upper = dm_edges[1:].copy()
    lower[0] = -np.inf
    upper[-1] = np.inf
    scale = np.array([dm_edges[0], dm_edges[-1], 1.0 / width], dtype=np.float64)
    return kernel_dt, lut.astype(lut_type), lower, upper, scale
