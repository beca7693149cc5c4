"""EROS-1 LMC light curves (ramp-kits ``*_varlength_features.csv[.gz]``), two bands a row.

Each row is one object: an id in the first column, then ``time_points_b/r``,
``light_points_b/r`` and ``error_points_b/r`` as JSON lists. Bands are ``B`` and ``R``
(EROS blue and red). Times are days from the survey epoch, not MJD: dm-dt uses only
differences, so that does not matter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from classifier.readers._text import csv_rows
from classifier.readers.base import BandColumns, Photometry, ReaderError, build_curves

BANDS = {"B": "b", "R": "r"}
_COLUMNS = ("time_points", "light_points", "error_points")


def _parse_list(path: Path, text: str, where: str) -> list[float]:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReaderError(path, f"not a JSON list of numbers: {error.msg}", where=where) from None
    if not isinstance(values, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise ReaderError(path, "not a JSON list of numbers", where=where)
    return values


class ErosReader:
    name = "eros"

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0]
        return b"time_points_b" in first and b"light_points_r" in first

    def read(self, path: Path) -> Iterator[Photometry]:
        rows = csv_rows(path)
        _, header = next(rows, (0, []))
        try:
            columns = {
                (kind, band): header.index(f"{kind}_{suffix}")
                for kind in _COLUMNS
                for band, suffix in BANDS.items()
            }
        except ValueError as missing:
            raise ReaderError(path, f"header lacks a column: {missing}") from None
        for line, row in rows:
            if len(row) != len(header):
                raise ReaderError(
                    path, f"expected {len(header)} columns, got {len(row)}", where=f"line {line}"
                )
            object_id = row[0].strip()
            per_band: dict[str, BandColumns] = {}
            for band in BANDS:
                t, mag, err = (
                    _parse_list(path, row[columns[kind, band]], f"line {line}, {kind} {band}")
                    for kind in _COLUMNS
                )
                if not len(t) == len(mag) == len(err):
                    raise ReaderError(
                        path,
                        f"band {band}: {len(t)} times, {len(mag)} magnitudes, {len(err)} errors",
                        where=f"line {line}",
                    )
                per_band[band] = (t, mag, err, [f"line {line}, point {i}" for i in range(len(t))])
            curves, rejected = build_curves(object_id, per_band)
            yield Photometry(object_id=object_id, survey="EROS", curves=curves, rejected=rejected)
