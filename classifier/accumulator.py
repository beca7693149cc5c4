"""Incremental dm-dt counts: one band of one object, updated point by point in O(n).

The state is the raw integer counts plus the points (time-sorted, exact duplicates once, the
:mod:`classifier.lightcurve` rule). Adding a point bins its pairs with every stored point and
nothing else, in any arrival order (late points included); after any sequence of additions
the counts equal :meth:`classifier.grid.DmDtGrid.counts` of the same points, bin for bin.

Byte encoding (version 1, little-endian), the form the state takes in Redis::

    magic "DMDT" | version u8 | count width u8 (1, 2, 4 or 8) | flags u8 (bit 0: errors) | pad
    n_dm u16 | n_dt u16 | grid fingerprint 8 bytes | n_points u32
    counts: n_dm * n_dt unsigned integers of the count width, row-major (dm rows)
    t: n_points float64 | mag: n_points float64 | err: n_points float64 (if flag bit 0)

Examples
--------
>>> from classifier.grid import DmDtGrid
>>> acc = DmDtAccumulator(DmDtGrid.preset("crts"))
>>> acc.add_many([0.0, 2.0], [15.0, 15.3])
2
>>> acc.add(1.0, 15.1), acc.add(1.0, 15.1)   # a re-sent point changes nothing
(True, False)
>>> int(acc.counts.sum()), acc.n_points
(3, 3)
>>> DmDtAccumulator.from_bytes(acc.to_bytes(), acc.grid).n_points
3
"""

from __future__ import annotations

import math
import struct

import numpy as np

from classifier import _kernels
from classifier.grid import DmDtGrid
from classifier.lightcurve import (
    ERR_LIMITS,
    MAG_LIMITS,
    TIME_LIMITS,
    LightCurve,
    LightCurveError,
    check_values,
)
from classifier.normalise import Normalisation, n_pairs, normalise

MAGIC = b"DMDT"
VERSION = 1
_HEADER = struct.Struct("<4sBBBxHH8sI")
_FLAG_ERRORS = 1
_COUNT_TYPES = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")}


class EncodingError(ValueError):
    """Bytes that are not a valid accumulator encoding for the given grid."""


def _check_point(t: float, mag: float, err: float) -> None:
    for name, value, (low, high) in (("t", t, TIME_LIMITS), ("mag", mag, MAG_LIMITS)):
        if not (math.isfinite(value) and low <= value <= high):
            raise LightCurveError(name, f"{value!r} is not finite or outside [{low:g}, {high:g}]")
    if not (math.isnan(err) or ERR_LIMITS[0] <= err <= ERR_LIMITS[1]):
        raise LightCurveError("err", f"{err!r} is outside [{ERR_LIMITS[0]:g}, {ERR_LIMITS[1]:g}]")


class DmDtAccumulator:
    """Raw dm-dt counts of one band, kept up to date as points arrive."""

    __slots__ = ("_args", "_counts", "_err", "_m", "_n", "_t", "grid")

    def __init__(self, grid: DmDtGrid, capacity: int = 64) -> None:
        self.grid = grid
        self._args = grid.kernel_args
        self._counts = np.zeros(grid.shape, dtype=np.int64)
        self._t = np.empty(max(capacity, 2), dtype=np.float64)
        self._m = np.empty_like(self._t)
        self._err = np.empty_like(self._t)
        self._n = 0

    # -- reading -----------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        return self._n

    @property
    def counts(self) -> np.ndarray:
        """Raw pair counts (read-only view), rows = dm bins, columns = dt bins."""
        view = self._counts.view()
        view.flags.writeable = False
        return view

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the stored ``(t, mag, err)`` in time order (``err`` NaN where unknown)."""
        n = self._n
        return self._t[:n].copy(), self._m[:n].copy(), self._err[:n].copy()

    def image(self, method: Normalisation = "mahabal") -> np.ndarray:
        """The normalised dm-dt image of the points so far."""
        return normalise(self._counts, self._n, method)

    def light_curve(self, band: str = "single", object_id: str | None = None) -> LightCurve:
        """The stored points as a :class:`LightCurve` (needs at least 2 points)."""
        t, mag, err = self.points()
        return LightCurve(
            t, mag, None if np.isnan(err).all() else np.nan_to_num(err), band, object_id
        )

    # -- adding ------------------------------------------------------------------------
    def _reserve(self, extra: int) -> None:
        needed = self._n + extra
        if needed <= len(self._t):
            return
        size = max(needed, 2 * len(self._t))
        for name in ("_t", "_m", "_err"):
            grown = np.empty(size, dtype=np.float64)
            grown[: self._n] = getattr(self, name)[: self._n]
            setattr(self, name, grown)

    def add(self, t: float, mag: float, err: float = math.nan) -> bool:
        """Add one point in O(n); returns False when it was already stored (same t and mag)."""
        t, mag, err = float(t), float(mag), float(err)
        _check_point(t, mag, err)
        if self._n == len(self._t):
            self._reserve(1)
        added = _kernels.insert_point(
            self._t, self._m, self._err, self._n, t, mag, err, *self._args, self._counts
        )
        self._n += added
        return bool(added)

    def add_many(self, t: object, mag: object, err: object | None = None) -> int:
        """Add points in any order (O(n) each); returns how many were new."""
        times = check_values("t", t, TIME_LIMITS)
        mags = check_values("mag", mag, MAG_LIMITS)
        if len(mags) != len(times):
            raise LightCurveError("mag", f"length {len(mags)} does not match t ({len(times)})")
        if err is None:
            errs = np.full(len(times), np.nan)
        else:
            errs = check_values("err", err, ERR_LIMITS)
            if len(errs) != len(times):
                raise LightCurveError("err", f"length {len(errs)} does not match t ({len(times)})")
        self._reserve(len(times))
        added = _kernels.insert_points(
            self._t, self._m, self._err, self._n, times, mags, errs, *self._args, self._counts
        )
        self._n += added
        return int(added)

    # -- bytes -------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The versioned, compact encoding described in the module docstring."""
        n = self._n
        top = int(self._counts.max(initial=0))
        width = next(w for w, dt in _COUNT_TYPES.items() if top <= np.iinfo(dt).max)
        err = self._err[:n]
        has_err = bool(n) and not np.isnan(err).all()
        header = _HEADER.pack(
            MAGIC,
            VERSION,
            width,
            _FLAG_ERRORS if has_err else 0,
            *self.grid.shape,
            bytes.fromhex(self.grid.fingerprint),
            n,
        )
        parts = [
            header,
            self._counts.astype(_COUNT_TYPES[width]).tobytes(),
            self._t[:n].astype("<f8").tobytes(),
            self._m[:n].astype("<f8").tobytes(),
        ]
        if has_err:
            parts.append(err.astype("<f8").tobytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, grid: DmDtGrid) -> DmDtAccumulator:
        """Decode :meth:`to_bytes` output; the grid must be the one it was built on."""
        if len(data) < _HEADER.size:
            raise EncodingError(f"{len(data)} bytes is shorter than the {_HEADER.size}-byte header")
        magic, version, width, flags, n_dm, n_dt, fingerprint, n = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise EncodingError(f"bad magic {magic!r}, expected {MAGIC!r}")
        if version != VERSION:
            raise EncodingError(
                f"unsupported encoding version {version} (this code reads {VERSION})"
            )
        if width not in _COUNT_TYPES:
            raise EncodingError(f"bad count width {width}")
        if (n_dm, n_dt) != grid.shape or fingerprint.hex() != grid.fingerprint:
            raise EncodingError(
                f"counts were built on another grid ({n_dm}x{n_dt}, {fingerprint.hex()}), "
                f"not {grid.name} ({grid.shape[0]}x{grid.shape[1]}, {grid.fingerprint})"
            )
        n_values = 3 if flags & _FLAG_ERRORS else 2
        expected = _HEADER.size + n_dm * n_dt * width + 8 * n * n_values
        if len(data) != expected:
            raise EncodingError(f"length {len(data)} bytes, expected {expected} for {n} points")
        offset = _HEADER.size
        counts = np.frombuffer(data, _COUNT_TYPES[width], n_dm * n_dt, offset)
        offset += counts.nbytes
        values = np.frombuffer(data, "<f8", n * n_values, offset).reshape(n_values, n)
        if counts.sum(dtype=np.uint64) > n_pairs(n):
            raise EncodingError(f"counts hold more pairs than {n} points can make")
        if n and not (np.isfinite(values[:2]).all() and np.all(np.diff(values[0]) >= 0)):
            raise EncodingError("stored times must be finite and sorted")
        acc = cls(grid, capacity=max(2 * n, 64))
        acc._counts[:] = counts.reshape(n_dm, n_dt)
        acc._t[:n], acc._m[:n] = values[0], values[1]
        acc._err[:n] = values[2] if n_values == 3 else np.nan
        acc._n = n
        return acc
