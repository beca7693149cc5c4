"""What every reader returns, and how a reader is declared.

A reader turns one file into :class:`Photometry` records: one per object, with one
:class:`~classifier.lightcurve.LightCurve` per band and, where the survey reports them,
upper limits (non-detections) kept apart -- a limit is never a magnitude.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple, Protocol

import numpy as np

from classifier.lightcurve import (
    ERR_LIMITS,
    MAG_LIMITS,
    TIME_LIMITS,
    LightCurve,
    LightCurveError,
    invalid_points,
)
from classifier.selection import scoring_band

UNIX_EPOCH_MJD = 40587.0
FUTURE_TOLERANCE_DAYS = 1.0  # a point later than now + this is refused (a clock or unit error)

# Which magnitude an alert gives: the star's ("dc": ZTF's rebuilt DC magnitude, LSST's
# scienceFlux) or the difference image's (ZTF's magpsf, LSST's psfFlux; positive only).
Magnitude = Literal["dc", "difference"]


class BandPoint(NamedTuple):
    """One usable detection of a band: what the stream stores (``candid``: the survey's
    detection id)."""

    candid: int
    mjd: float
    mag: float
    err: float


def plausible(point: BandPoint) -> bool:
    """Whether a light curve would accept the point (time, magnitude and error in range)."""
    return (
        TIME_LIMITS[0] <= point.mjd <= TIME_LIMITS[1]
        and MAG_LIMITS[0] <= point.mag <= MAG_LIMITS[1]
        and ERR_LIMITS[0] <= point.err <= ERR_LIMITS[1]
    )


def now_mjd() -> float:
    """The current time as MJD."""
    return time.time() / 86400.0 + UNIX_EPOCH_MJD


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


JD_OFFSET = 2_400_000.5  # MJD = JD - 2400000.5
JD_THRESHOLD = 2_400_000.0  # a time above this is a Julian Date, not an MJD
SHOWN_POINTS = 3  # points left out that a note names one by one, per band


def _from_julian_dates(band: str, times: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``times`` as MJD: a band whose median time is above 2,400,000 holds Julian Dates
    (as ASAS-SN and many archives publish), converted with a note."""
    finite = times[np.isfinite(times)]
    if not len(finite) or np.median(finite) <= JD_THRESHOLD:
        return times, []
    note = (
        f"band {band}: times read as Julian Dates (median {np.median(finite):.1f} > "
        f"{JD_THRESHOLD:,.0f}) and converted to MJD = JD - {JD_OFFSET}"
    )
    return times - JD_OFFSET, [note]


def _left_out(band: str, n: int, bad: list[tuple[int, str]], where: list[str]) -> list[str]:
    """A band's points left out: how many and by which rule, then the first few."""
    rules: dict[str, int] = {}
    for _, reason in bad:
        rule = reason.split("=", 1)[0] + " " + reason.split(" is ", 1)[1]
        rules[rule] = rules.get(rule, 0) + 1
    summary = ", ".join(f"{rule}: {count}" for rule, count in rules.items())
    lines = [f"band {band}: {len(bad)} of {n} points left out ({summary})"]
    lines += [f"band {band}, {where[i]}: {reason}" for i, reason in bad[:SHOWN_POINTS]]
    return lines


def build_curves(
    object_id: str, rows: dict[str, BandColumns]
) -> tuple[dict[str, LightCurve], tuple[str, ...]]:
    """Validated curves from per-band columns ``(t, mag, err or None, where)``.

    Times that are Julian Dates are converted to MJD, with a note. Points with a non-finite
    or implausible value (real files carry sentinels such as CSS's ``MJD = -2409998.5``) are
    left out and reported: how many of how many, by rule, then the first few with ``where``
    (line number, candid...) and the reason; bands with fewer than 2 points left are left out
    (a band of 1 point is reported too).
    Returns ``(curves, notes)``.
    """
    curves: dict[str, LightCurve] = {}
    rejected: list[str] = []
    for band, (t, mag, err, where) in rows.items():
        times, mags = np.asarray(t, dtype=np.float64), np.asarray(mag, dtype=np.float64)
        times, converted = _from_julian_dates(band, times)
        rejected.extend(converted)
        errs = None if err is None else np.asarray(err, dtype=np.float64)
        bad = invalid_points(times, mags, errs)
        if bad:
            rejected.extend(_left_out(band, len(times), bad, where))
            keep = np.ones(len(times), dtype=bool)
            keep[[i for i, _ in bad]] = False
            times, mags = times[keep], mags[keep]
            errs = None if errs is None else errs[keep]
        if len(times) >= 2:
            curves[band] = LightCurve(times, mags, errs, band=band, object_id=object_id)
        elif len(times) == 1:
            rejected.append(f"band {band}: 1 valid point; a light curve needs 2 or more")
    return curves, tuple(rejected)
