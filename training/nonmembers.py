"""Real light curves that are *not* one of the 7 periodic classes, for training and
validating the answer "not one of mine": supernovae and other transients (Open Supernova
Catalog) and quasars (Gaia DR3 epoch photometry).

* transients (``transients_osc/``): one CSV a transient, ``time,mag,magerr,band,telescope``
  with bands and telescopes mixed; the light curve is the (band, telescope) group with the
  most points (a magnitude from one instrument in one filter), errors of 0 or none read as
  unknown;
* quasars (``gaia_qso/``): Gaia G-band epochs; times are Gaia time (BJD - 2455197.5),
  read as MJD (``+ 55197.0``, BJD and MJD differ by under 10 minutes, nothing a dm-dt image
  feels).

Each set is split by a seeded hash of the object's name into train / validation / test
(:data:`FRACTIONS`), so an object never moves between parts when the set grows.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.lightcurve import LightCurve, LightCurveError
from training.cadences import MIN_POINTS

GAIA_TO_MJD = 55197.0
FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
PARTS = tuple(FRACTIONS)


@dataclass(frozen=True)
class NonMember:
    """One real light curve of something outside the 7 classes."""

    name: str
    kind: str  # "transient" or "quasar"
    subtype: str  # e.g. "Ia", "II P", "" when unknown; "QSO"
    curve: LightCurve


def part_of(name: str, seed: int = 2017) -> str:
    """The part an object belongs to, from a hash of its name (stable as sets grow).

    >>> part_of("SN2011fe") in PARTS
    True
    """
    u = zlib.crc32(f"{seed}:{name}".encode()) / 2**32
    edge = 0.0
    for part, share in FRACTIONS.items():
        edge += share
        if u < edge:
            return part
    return PARTS[-1]


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value


def transient_curve(path: Path) -> LightCurve | None:
    """The (band, telescope) group of a transient with the most valid points (None: no
    group of :data:`~training.cadences.MIN_POINTS`)."""
    groups: dict[tuple[str, str], list[tuple[float, float, float | None]]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            t, mag, err = (
                _number(row.get("time")),
                _number(row.get("mag")),
                _number(row.get("magerr")),
            )
            if t is None or mag is None:
                continue
            key = (row.get("band") or "", row.get("telescope") or "")
            groups.setdefault(key, []).append((t, mag, err if err and err > 0 else None))
    best = max(groups.values(), key=len, default=[])
    if len(best) < MIN_POINTS:
        return None
    points = sorted(set(best), key=lambda p: p[0])
    errors = [p[2] for p in points]
    sigma = None if any(e is None for e in errors) else np.array(errors, dtype=np.float64)
    try:
        return LightCurve(
            np.array([p[0] for p in points]),
            np.array([p[1] for p in points]),
            sigma,
            object_id=path.stem,
        )
    except LightCurveError:
        return None


def transients(folder: Path, part: str | None = None, seed: int = 2017) -> Iterator[NonMember]:
    """The transients of ``folder`` (``labels.csv`` and ``light-curves/``), of one part or
    all."""
    with (folder / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        name = row["file"]
        if part is not None and part_of(name, seed) != part:
            continue
        curve = transient_curve(folder / "light-curves" / f"{name}.csv")
        if curve is not None:
            yield NonMember(name, "transient", row.get("type") or "", curve)


def quasars(folder: Path, part: str | None = None, seed: int = 2017) -> Iterator[NonMember]:
    """The quasars of ``folder`` (Gaia DR3 parquet files), of one part or all."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - the training extra

    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path, columns=["sourceid", "g_obstimes", "g_val", "g_valerr"])
        for row in table.to_pylist():
            name = f"Gaia DR3 {row['sourceid']}"
            if part is not None and part_of(name, seed) != part:
                continue
            t = np.asarray(row["g_obstimes"], dtype=np.float64) + GAIA_TO_MJD
            mag = np.asarray(row["g_val"], dtype=np.float64)
            err = np.asarray(row["g_valerr"], dtype=np.float64)
            good = np.isfinite(t) & np.isfinite(mag) & np.isfinite(err) & (err > 0)
            if good.sum() < MIN_POINTS:
                continue
            try:
                curve = LightCurve(t[good], mag[good], err[good], band="G", object_id=name)
            except LightCurveError:
                continue
            yield NonMember(name, "quasar", "QSO", curve)
