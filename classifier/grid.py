"""dm-dt grids: bin edges as data, and the pair counts of one curve or of many.

A :class:`DmDtGrid` is built once from its edges (a preset or custom ones) and then used on
one curve (:meth:`DmDtGrid.counts`), on many (:meth:`DmDtGrid.counts_many`), or point by
point through :class:`classifier.accumulator.DmDtAccumulator` -- with identical results.

Layout of every count array: rows are dm bins from the most negative, columns are dt bins
from the smallest. ``dm = m_j - m_i`` for ``t_j > t_i`` (positive = fainter later).

Examples
--------
>>> grid = DmDtGrid.preset("crts")
>>> grid.shape
(22, 24)
>>> counts = grid.counts([0.0, 0.5, 3.0], [15.0, 15.2, 14.9])
>>> int(counts.sum())
3
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classifier import _kernels
from classifier.lightcurve import LightCurve, canonical_order

PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # Mahabal et al. (2017) code: 22 dm x 24 dt bins.
    "crts": (
        (-8, -5, -3, -2.5, -2, -1.5, -1, -0.5, -0.3, -0.2, -0.1, 0,
         0.1, 0.2, 0.3, 0.5, 1, 1.5, 2, 2.5, 3, 5, 8),
        (0, 1 / 145, 2 / 145, 3 / 145, 4 / 145, 1 / 25, 2 / 25, 3 / 25, 1.5, 2.5, 3.5, 4.5,
         5.5, 7, 10, 20, 30, 60, 90, 120, 240, 600, 960, 2000, 4000),
    ),
    # crts with every dm bin inside +/-1 mag split in two: 32 x 24 (the experiments' "finer
    # dm", which beat crts in every seed).
    "crts-fine-dm": (
        (-8, -5, -3, -2.5, -2, -1.5, -1, -0.75, -0.5, -0.4, -0.3, -0.25, -0.2, -0.15, -0.1,
         -0.05, 0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5, 8),
        (0, 1 / 145, 2 / 145, 3 / 145, 4 / 145, 1 / 25, 2 / 25, 3 / 25, 1.5, 2.5, 3.5, 4.5,
         5.5, 7, 10, 20, 30, 60, 90, 120, 240, 600, 960, 2000, 4000),
    ),
    # ZTF SCoPe / Kowalski: 26 x 26.
    "scope": (
        (-8, -4.5, -3, -2.5, -2, -1.5, -1.25, -0.75, -0.5, -0.3, -0.2, -0.1, -0.05, 0,
         0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.25, 1.5, 2, 2.5, 3, 4.5, 8),
        (0, 0.02759, 0.04, 0.08, 0.12, 0.3, 0.75, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 7, 10, 20, 30,
         45, 60, 90, 120, 180, 240, 360, 500, 650, 2000),
    ),
}  # fmt: skip


class GridError(ValueError):
    """Invalid bin edges or an unknown preset."""


CurveLike = LightCurve | tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]


def _check_edges(name: str, edges: object) -> np.ndarray:
    array = np.asarray(edges, dtype=np.float64)
    if array.ndim != 1 or len(array) < 2:
        raise GridError(f"{name}: need a 1-D list of at least 2 edges, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise GridError(f"{name}: edges must be finite")
    if not np.all(np.diff(array) > 0):
        raise GridError(f"{name}: edges must be strictly increasing")
    array.flags.writeable = False
    return array


def _sorted_points(t: object, m: object) -> tuple[np.ndarray, np.ndarray]:
    """Time-sorted float64 copies with exact duplicates removed (the light-curve rule)."""
    if m is None:
        raise GridError("magnitudes are missing: pass t and m, or a LightCurve alone")
    times = np.ascontiguousarray(t, dtype=np.float64)
    mags = np.ascontiguousarray(m, dtype=np.float64)
    if times.shape != mags.shape or times.ndim != 1:
        raise GridError(f"t and m must be 1-D of equal length, got {times.shape} and {mags.shape}")
    order = canonical_order(times, mags)
    return times[order], mags[order]


@dataclass(frozen=True, eq=False)
class DmDtGrid:
    """Bin edges of a dm-dt image and the counting built on them."""

    dm_edges: np.ndarray
    dt_edges: np.ndarray
    name: str = "custom"
    _kernel_args: tuple[np.ndarray, ...] = field(init=False, repr=False)
    _fingerprint: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        dm = _check_edges("dm_edges", self.dm_edges)
        dt = _check_edges("dt_edges", self.dt_edges)
        if dt[0] < 0:
            raise GridError("dt_edges: dt is a positive time lag, the first edge must be >= 0")
        try:
            tables = _kernels.kernel_tables(dm, dt)
        except ValueError as error:
            raise GridError(f"dm_edges: {error}") from None
        object.__setattr__(self, "dm_edges", dm)
        object.__setattr__(self, "dt_edges", dt)
        object.__setattr__(self, "_kernel_args", tables)
        digest = hashlib.sha256(dm.tobytes() + b"|" + dt.tobytes()).digest()[:8]
        object.__setattr__(self, "_fingerprint", digest)

    @classmethod
    def preset(cls, name: str) -> DmDtGrid:
        """One of :data:`PRESETS` (``crts``: 22 x 24, ``scope``: 26 x 26)."""
        if name not in PRESETS:
            raise GridError(f"unknown bins preset {name!r}; choose one of {sorted(PRESETS)}")
        dm, dt = PRESETS[name]
        return cls(np.array(dm, dtype=np.float64), np.array(dt, dtype=np.float64), name=name)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DmDtGrid:
        """Inverse of :meth:`to_dict` (as stored in a model card)."""
        try:
            return cls(data["dm_edges"], data["dt_edges"], name=str(data.get("name", "custom")))
        except KeyError as missing:
            raise GridError(f"grid description lacks {missing}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dm_edges": self.dm_edges.tolist(),
            "dt_edges": self.dt_edges.tolist(),
        }

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_dm_bins, n_dt_bins)``."""
        return len(self.dm_edges) - 1, len(self.dt_edges) - 1

    @property
    def fingerprint(self) -> str:
        """Short hash of the edges: counts from different grids must never be mixed."""
        return self._fingerprint.hex()

    @property
    def fingerprint_bytes(self) -> bytes:
        """:attr:`fingerprint` as the 8 bytes the stored encodings carry."""
        return self._fingerprint

    @property
    def kernel_args(self) -> tuple[np.ndarray, ...]:
        """``(lut, tables)``: the grid as the compiled kernels take it (see ``_kernels``)."""
        return self._kernel_args

    def counts(self, t: object, m: object | None = None) -> np.ndarray:
        """Raw pair counts of one curve, ``int64`` of :attr:`shape`.

        ``t`` and ``m`` may be in any order; pass a :class:`LightCurve` alone as ``t``.
        """
        times, mags = (t.t, t.mag) if isinstance(t, LightCurve) else _sorted_points(t, m)
        out = np.zeros(self.shape[::-1], dtype=np.int64)  # kernels count (dt, dm)
        # numba's Dispatcher type does not know the jitted signature
        _kernels.count_sorted(times, mags, *self.kernel_args, out)  # type: ignore[call-arg]
        return np.ascontiguousarray(out.T)

    def counts_many(self, curves: Iterable[CurveLike]) -> np.ndarray:
        """Pair counts of many curves at once (in parallel), ``int64`` of ``(N, *shape)``."""
        times, mags = [], []
        for curve in curves:
            tc, mc = (
                (curve.t, curve.mag) if isinstance(curve, LightCurve) else _sorted_points(*curve)
            )
            times.append(tc)
            mags.append(mc)
        offsets = np.zeros(len(times) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(tc) for tc in times])
        out = np.zeros((len(times), *self.shape[::-1]), dtype=np.int64)  # kernels count (dt, dm)
        if times:
            _kernels.count_many_sorted(  # type: ignore[call-arg]
                np.concatenate(times), np.concatenate(mags), offsets, *self.kernel_args, out
            )
        return np.ascontiguousarray(out.transpose(0, 2, 1))
