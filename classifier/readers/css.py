"""Catalina Sky Survey (CRTS) light curves: ``ID,MJD,mag,magerr,RA,Dec``, one object a file.

Files named ``<CSS_ID>-<CLASS>.csv`` (the Drake et al. 2014 periodic-variable sample) carry
their class in the name; it becomes :attr:`Photometry.label`. CSS magnitudes are unfiltered,
calibrated to V: the band is called ``V``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from classifier.readers._text import csv_rows, to_float
from classifier.readers.base import Photometry, ReaderError, build_curves

HEADER = ("ID", "MJD", "mag", "magerr", "RA", "Dec")
BAND = "V"


class CssReader:
    name = "css"

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").replace('"', "").strip()
        return tuple(first.split(",")) == HEADER

    def read(self, path: Path) -> Iterator[Photometry]:
        rows = csv_rows(path)
        next(rows, None)  # header, checked by sniff
        object_id, t, mag, err, where = None, [], [], [], []
        for line, row in rows:
            if len(row) != len(HEADER):
                raise ReaderError(
                    path, f"expected {len(HEADER)} columns, got {len(row)}", where=f"line {line}"
                )
            row_id = row[0].strip()
            if object_id is None:
                object_id = row_id
            elif row_id != object_id:
                raise ReaderError(
                    path, f"second object {row_id!r} in a one-object file", where=f"line {line}"
                )
            t.append(to_float(path, row[1], f"line {line}, MJD"))
            mag.append(to_float(path, row[2], f"line {line}, mag"))
            err.append(to_float(path, row[3], f"line {line}, magerr"))
            where.append(f"line {line}")
        if object_id is None:
            raise ReaderError(path, "no data rows")
        stem = path.name.split(".", 1)[0]
        label = stem.split("-", 1)[1] if "-" in stem else None
        curves, rejected = build_curves(object_id, {BAND: (t, mag, err, where)})
        yield Photometry(
            object_id=object_id, survey="CSS", curves=curves, label=label, rejected=rejected
        )
