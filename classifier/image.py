"""A light curve's dm-dt image with everything needed to read it back: the result type that
the command line, the API and reports share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.normalise import Normalisation, n_pairs, normalise


@dataclass(frozen=True)
class DmDtImage:
    """Raw counts and normalised image of one band of one object."""

    object_id: str | None
    band: str
    grid: DmDtGrid
    norm: Normalisation
    counts: np.ndarray
    image: np.ndarray
    n_points: int

    @classmethod
    def of(cls, curve: LightCurve, grid: DmDtGrid, norm: Normalisation = "mahabal") -> DmDtImage:
        counts = grid.counts(curve)
        return cls(
            curve.object_id,
            curve.band,
            grid,
            norm,
            counts,
            normalise(counts, len(curve), norm),
            len(curve),
        )

    @property
    def n_pairs(self) -> int:
        """All pairs ``n(n-1)/2``, the normalisation (binned or not)."""
        return int(n_pairs(self.n_points))

    @property
    def n_binned(self) -> int:
        """Pairs that fell inside the grid (``dt > 0`` and within the edges)."""
        return int(self.counts.sum())

    def to_dict(self) -> dict[str, Any]:
        """JSON form: rows = dm bins from the most negative, columns = dt bins from the smallest."""
        return {
            "object_id": self.object_id,
            "band": self.band,
            "bins": self.grid.name,
            "norm": self.norm,
            "n_points": self.n_points,
            "n_pairs": self.n_pairs,
            "n_binned": self.n_binned,
            "dm_edges": self.grid.dm_edges.tolist(),
            "dt_edges": self.grid.dt_edges.tolist(),
            "counts": self.counts.tolist(),
            "image": self.image.tolist(),
        }
