"""What every reader returns, and how a reader is declared.

A reader turns one file into :class:`Photometry` records: one per object, with one
:class:`~classifier.lightcurve.LightCurve` per band and, where the survey reports them,
upper limits (non-detections) kept apart -- a limit is never a magnitude.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from classifier.lightcurve import LightCurve, LightCurveError, invalid_points
from classifier.selection import scoring_band


class ReaderError(ValueError):
    """A file that cannot be read: names the file, where (if known) and why."""

    def __init__(self, path: Path | str, reason: str, where: str | None = None) -> None:
        location = f"{path}" + (f" ({where})" if where else "")
        super().__init__(f"{location}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.where = where


@dataclass(frozen=True)
class UpperLimits:
    """Non-detections of one band: times (MJD) and limiting magnitudes."""

    t: np.ndarray
    limit: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Photometry:
    """One object's light curves, per band, as read from a file."""

    object_id: str
    survey: str
    curves: dict[str, LightCurve]
    limits: dict[str, UpperLimits] = field(default_factory=dict)
    label: str | None = None
    rejected: tuple[str, ...] = ()

    @property
    def bands(self) -> list[str]:
        return sorted(self.curves)

    def curve(self, band: str | None = None) -> LightCurve:
        """The curve of ``band``; without a band, the one the band rule picks
        (:func:`classifier.selection.scoring_band`: most points, ties r > g > i)."""
        if not self.curves:
            raise LightCurveError("band", f"{self.object_id} has no band with 2 or more points")
        if band is None:
            chosen = scoring_band({b: len(c) for b, c in self.curves.items()}, min_points=0)
            assert chosen is not None  # every band is eligible, and there is one
            return self.curves[chosen]
        if band not in self.curves:
            raise LightCurveError(
                "band", f"{self.object_id} has no usable band {band!r}; it has {self.bands}"
            )
        return self.curves[band]


class Reader(Protocol):
    """A file format: recognises its files and reads them."""

    name: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when the file (``head``: its first bytes, decompressed) is in this format."""
        ...

    def read(self, path: Path) -> Iterator[Photometry]:
        """The objects in the file; raises :class:`ReaderError` on malformed input."""
        ...


BandColumns = tuple[list[float], list[float], list[float] | None, list[str]]


def build_curves(
    object_id: str, rows: dict[str, BandColumns]
) -> tuple[dict[str, LightCurve], tuple[str, ...]]:
    """Validated curves from per-band columns ``(t, mag, err or None, where)``.

    Points with a non-finite or implausible value (real files carry sentinels such as
    CSS's ``MJD = -2409998.5``) are left out and reported, one line each, with ``where``
    (line number, candid...) and the reason; bands with fewer than 2 points left are left out.
    Returns ``(curves, rejected)``.
    """
    curves: dict[str, LightCurve] = {}
    rejected: list[str] = []
    for band, (t, mag, err, where) in rows.items():
        times, mags = np.asarray(t, dtype=np.float64), np.asarray(mag, dtype=np.float64)
        errs = None if err is None else np.asarray(err, dtype=np.float64)
        bad = invalid_points(times, mags, errs)
        if bad:
            rejected.extend(f"band {band}, {where[i]}: {reason}" for i, reason in bad)
            keep = np.ones(len(times), dtype=bool)
            keep[[i for i, _ in bad]] = False
            times, mags = times[keep], mags[keep]
            errs = None if errs is None else errs[keep]
        if len(times) >= 2:
            curves[band] = LightCurve(times, mags, errs, band=band, object_id=object_id)
    return curves, tuple(rejected)
