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

The stream stores a band in two parts instead, so that an alert moves only what it changes
(:mod:`stream.store`): the points as 24-byte records ``t | mag | err`` (float64, little-endian)
in the order they were added (:func:`points_bytes`; new points are appended), and the counts
(:meth:`DmDtAccumulator.counts_bytes`)::

    magic "DMDC" | version u8 | count width u8 (1, 2 or 4; 0, as first written: 4)
    n_dm u16 | n_dt u16 | grid fingerprint 8 bytes | n_points u32
    counts: n_dm * n_dt unsigned integers of the count width, row-major (dm rows)

The width is the narrowest that holds the largest count (a young object's counts take a
byte each: 768 bytes on a 32 x 24 grid instead of 3,072).

:meth:`DmDtAccumulator.from_parts` reads them back.

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
from collections.abc import Iterable

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
_COUNT_TYPES: dict[int, np.dtype[np.unsignedinteger]] = {
    1: np.dtype("<u1"),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
    8: np.dtype("<u8"),
}

_COUNT_MAX = {width: int(np.iinfo(dtype).max) for width, dtype in _COUNT_TYPES.items()}

COUNTS_MAGIC = b"DMDC"
_COUNTS_HEADER = struct.Struct("<4sBBHH8sI")
_COUNTS_WIDTHS = (1, 2, 4)  # 0 in the header: 4 (the first counts written had no width)
POINT_RECORD = np.dtype([("t", "<f8"), ("mag", "<f8"), ("err", "<f8")])


def points_bytes(t: np.ndarray, mag: np.ndarray, err: np.ndarray) -> bytes:
    """Points as :data:`POINT_RECORD` records, in the given order."""
    records = np.empty(len(t), POINT_RECORD)
    records["t"], records["mag"], records["err"] = t, mag, err
    return records.tobytes()


class EncodingError(ValueError):
    """Bytes that are not a valid accumulator encoding for the given grid."""


def _same_grid(grid: DmDtGrid, n_dm: int, n_dt: int, fingerprint: bytes, rebin: bool) -> bool:
    """Whether stored counts were built on ``grid``; counts of another grid are an error
    unless they are to be rebuilt (``rebin``)."""
    same = (n_dm, n_dt) == grid.shape and fingerprint.hex() == grid.fingerprint
    if not (same or rebin):
        raise EncodingError(
            f"counts were built on another grid ({n_dm}x{n_dt}, {fingerprint.hex()}), "
            f"not {grid.name} ({grid.shape[0]}x{grid.shape[1]}, {grid.fingerprint})"
        )
    return same


_REFUSALS = {
    _kernels.BAD_TIME: ("t", TIME_LIMITS),
    _kernels.BAD_MAG: ("mag", MAG_LIMITS),
    _kernels.BAD_ERR: ("err", ERR_LIMITS),
}


def _as_float(name: str, value: object) -> float:
    if isinstance(value, bool | str | bytes):
        raise LightCurveError(name, f"{value!r} is not a number")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LightCurveError(name, f"{value!r} is not a number") from None


def _valid_float_arrays(
    t: object, mag: object, err: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(t, mag, err)`` when they are float64 arrays of one length with every value within
    the light-curve limits (checked in compiled code: the stream's case), else None (the
    slower check then names the first bad value)."""
    if not (isinstance(t, np.ndarray) and isinstance(mag, np.ndarray)):
        return None
    if not isinstance(err, np.ndarray):
        return None
    arrays = (t, mag, err)
    if any(a.dtype != np.float64 or a.ndim != 1 or len(a) != len(t) for a in arrays):
        return None
    return arrays if _kernels.first_invalid(t, mag, err) < 0 else None


class DmDtAccumulator:
    """Raw dm-dt counts of one band, kept up to date as points arrive."""

    __slots__ = ("_counts", "_lut", "_n", "_points", "_tables", "grid")

    def __init__(self, grid: DmDtGrid, capacity: int = 64) -> None:
        self.grid = grid
        self._lut, self._tables = grid.kernel_args
        self._counts = np.zeros(grid.shape[::-1], dtype=np.int64)  # kernels count (dt, dm)
        self._points = np.empty((3, max(capacity, 2)), dtype=np.float64)  # rows: t, mag, err
        self._n = 0

    # -- reading -----------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        return self._n

    @property
    def counts(self) -> np.ndarray:
        """Raw pair counts (read-only view), rows = dm bins, columns = dt bins."""
        view = self._counts.T
        view.flags.writeable = False
        return view

    @property
    def nbytes(self) -> int:
        """Memory held by its arrays."""
        return self._points.nbytes + self._counts.nbytes

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the stored ``(t, mag, err)`` in time order (``err`` NaN where unknown)."""
        t, mag, err = self._points[:, : self._n].copy()
        return t, mag, err

    def image(self, method: Normalisation = "mahabal") -> np.ndarray:
        """The normalised dm-dt image of the points so far."""
        return normalise(self.counts, self._n, method)

    def light_curve(self, band: str = "single", object_id: str | None = None) -> LightCurve:
        """The stored points as a :class:`LightCurve` (needs at least 2 points); errors are
        kept only when every point has one."""
        t, mag, err = self.points()
        return LightCurve(t, mag, None if np.isnan(err).any() else err, band, object_id)

    # -- adding ------------------------------------------------------------------------
    def _reserve(self, extra: int) -> None:
        needed = self._n + extra
        capacity = self._points.shape[1]
        if needed > capacity:
            grown = np.empty((3, max(needed, 2 * capacity)), dtype=np.float64)
            grown[:, : self._n] = self._points[:, : self._n]
            self._points = grown

    def add(self, t: float, mag: float, err: float = math.nan) -> bool:
        """Add one point in O(n); returns False when it was already stored (same t and mag)."""
        # Only floats reach the compiled code (another type would compile a new version).
        t = t if type(t) is float else _as_float("t", t)
        mag = mag if type(mag) is float else _as_float("mag", mag)
        err = err if type(err) is float else _as_float("err", err)
        if self._n == self._points.shape[1]:
            self._reserve(1)
        status = _kernels.insert_point(
            self._points, self._n, t, mag, err, self._lut, self._tables, self._counts
        )
        if status < 0:
            name, (low, high) = _REFUSALS[status]
            value = {"t": t, "mag": mag, "err": err}[name]
            raise LightCurveError(name, f"{value!r} is not finite or outside [{low:g}, {high:g}]")
        self._n += status
        return status == 1

    @staticmethod
    def _checked(
        t: object, mag: object, err: object | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validated float arrays of equal length (errors NaN where none are given)."""
        times = check_values("t", t, TIME_LIMITS)
        mags = check_values("mag", mag, MAG_LIMITS)
        if len(mags) != len(times):
            raise LightCurveError("mag", f"length {len(mags)} does not match t ({len(times)})")
        if err is None:
            return times, mags, np.full(len(times), np.nan)
        errs = check_values("err", err, ERR_LIMITS)
        if len(errs) != len(times):
            raise LightCurveError("err", f"length {len(errs)} does not match t ({len(times)})")
        return times, mags, errs

    def add_many(self, t: object, mag: object, err: object | None = None) -> int:
        """Add points in any order (O(n) each); returns how many were new."""
        return int(self.add_new(t, mag, err).sum())

    def add_new(self, t: object, mag: object, err: object | None = None) -> np.ndarray:
        """Add points in any order (O(n) each); returns which were new (a boolean each)."""
        times, mags, errs = _valid_float_arrays(t, mag, err) or self._checked(t, mag, err)
        self._reserve(len(times))
        added = np.zeros(len(times), dtype=np.bool_)
        self._n += int(
            _kernels.insert_points(
                self._points,
                self._n,
                times,
                mags,
                errs,
                self._lut,
                self._tables,
                self._counts,
                added,
            )
        )
        return added

    # -- bytes -------------------------------------------------------------------------
    def _count_width(self, widths: Iterable[int]) -> int:
        """The narrowest of ``widths`` (bytes, ascending) that holds every count."""
        top = int(self._counts.max(initial=0))
        return next(w for w in widths if top <= _COUNT_MAX[w])

    def to_bytes(self) -> bytes:
        """The versioned, compact encoding described in the module docstring."""
        n = self._n
        width = self._count_width(_COUNT_TYPES)
        t, mag, err = self._points[:, :n]
        has_err = bool(n) and not np.isnan(err).all()
        header = _HEADER.pack(
            MAGIC,
            VERSION,
            width,
            _FLAG_ERRORS if has_err else 0,
            *self.grid.shape,
            self.grid.fingerprint_bytes,
            n,
        )
        parts = [
            header,
            self.counts.astype(_COUNT_TYPES[width]).tobytes(),
            t.astype("<f8").tobytes(),
            mag.astype("<f8").tobytes(),
        ]
        if has_err:
            parts.append(err.astype("<f8").tobytes())
        return b"".join(parts)

    def counts_bytes(self) -> bytes:
        """The counts part of the stream's two-part encoding (module docstring), in the
        narrowest width that holds them."""
        width = self._count_width(_COUNTS_WIDTHS)
        header = _COUNTS_HEADER.pack(
            COUNTS_MAGIC,
            VERSION,
            width,
            *self.grid.shape,
            self.grid.fingerprint_bytes,
            self._n,
        )
        return header + self.counts.astype(_COUNT_TYPES[width]).tobytes()

    @classmethod
    def from_parts(
        cls, points: bytes, counts: bytes | None, grid: DmDtGrid, rebin: bool = False
    ) -> DmDtAccumulator:
        """Read the two-part encoding: :func:`points_bytes` records in any order and
        :meth:`counts_bytes`. Counts of another grid are an error or, with ``rebin``, are
        rebuilt from the points, as are missing counts."""
        if len(points) % POINT_RECORD.itemsize:
            raise EncodingError(f"{len(points)} bytes of points is not a whole number of records")
        records = np.frombuffer(points, POINT_RECORD)
        n = len(records)
        if not (np.isfinite(records["t"]).all() and np.isfinite(records["mag"]).all()):
            raise EncodingError("stored times and magnitudes must be finite")
        order = np.lexsort((records["mag"], records["t"]))
        values = np.stack([records["t"][order], records["mag"][order], records["err"][order]])
        same_grid = False
        if counts is not None:
            if len(counts) < _COUNTS_HEADER.size:
                raise EncodingError(f"{len(counts)} bytes is shorter than the counts header")
            magic, version, width, n_dm, n_dt, fingerprint, n_counted = _COUNTS_HEADER.unpack_from(
                counts
            )
            if magic != COUNTS_MAGIC or version != VERSION:
                raise EncodingError(f"bad counts magic {magic!r} or version {version}")
            width = width or 4
            if width not in _COUNTS_WIDTHS:
                raise EncodingError(f"count width {width}, expected one of {_COUNTS_WIDTHS}")
            same_grid = _same_grid(grid, n_dm, n_dt, fingerprint, rebin)
            if n_counted != n:
                raise EncodingError(f"counts of {n_counted} points beside {n} stored points")
        elif not rebin:
            raise EncodingError("no counts stored beside the points")
        acc = cls(grid, capacity=max(2 * n, 64))
        if not same_grid:  # the points are the state, the counts follow from them
            if n:
                acc.add_many(*values)
            return acc
        assert counts is not None
        table = np.frombuffer(counts, _COUNT_TYPES[width], offset=_COUNTS_HEADER.size)
        if len(table) != n_dm * n_dt:
            raise EncodingError(f"{len(table)} counts, expected {n_dm * n_dt}")
        if table.sum(dtype=np.uint64) > n_pairs(n):
            raise EncodingError(f"counts hold more pairs than {n} points can make")
        acc._counts[:] = table.reshape(n_dm, n_dt).T
        acc._points[:, :n] = values
        acc._n = n
        return acc

    @classmethod
    def from_bytes(cls, data: bytes, grid: DmDtGrid, rebin: bool = False) -> DmDtAccumulator:
        """Decode :meth:`to_bytes` output. Counts built on another grid are an error, or,
        with ``rebin``, are rebuilt on ``grid`` from the stored points (a model whose grid
        changed reads the state its predecessor wrote)."""
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
        same_grid = _same_grid(grid, n_dm, n_dt, fingerprint, rebin)
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
        if not same_grid:  # rebin: the points are the state, the counts follow from them
            if n:
                acc.add_many(*values)
            return acc
        acc._counts[:] = counts.reshape(n_dm, n_dt).T
        acc._points[:n_values, :n] = values
        if n_values == 2:
            acc._points[2, :n] = np.nan
        acc._n = n
        return acc


def load_kernels(grid: DmDtGrid) -> None:
    """Load the compiled kernels an update runs (from numba's disk cache; compiled on a first
    start), so that a process's first alert does not wait for them (~0.3 s)."""
    warm = DmDtAccumulator(grid)
    warm.add_new(np.array([0.0, 1.0]), np.array([15.0, 15.1]), np.array([0.1, 0.1]))
    DmDtAccumulator.from_parts(points_bytes(*warm.points()), warm.counts_bytes(), grid)
