"""Any CSV with a header naming its columns (any case):

* time: ``time``, ``mjd`` or ``jd`` (Julian Date, converted to MJD = JD - 2400000.5);
* magnitude: ``mag`` or ``magnitude``; error (optional): ``magerr``, ``mag_err`` or ``err``;
* band (optional): ``band``, ``filter`` or ``fid`` (ZTF filter ids 1, 2, 3 become g, r, i);
  object (optional): ``id``, ``objectid``, ``object_id`` or ``oid`` -- a file may then hold
  several objects.

Without an object column, the object id is the file name; without a band column every
point is in one band called ``single``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from classifier.lightcurve import DEFAULT_BAND
from classifier.readers._text import csv_rows, to_float
from classifier.readers.base import (
    JD_OFFSET,
    BandColumns,
    Photometry,
    ReaderError,
    build_curves,
)

ZTF_FILTERS = {"1": "g", "2": "r", "3": "i"}
ALIASES = {
    "time": ("time", "mjd", "jd"),
    "mag": ("mag", "magnitude"),
    "err": ("magerr", "mag_err", "err"),
    "band": ("band", "filter", "fid"),
    "id": ("id", "objectid", "object_id", "oid"),
}


def _find_columns(path: Path, header: list[str]) -> dict[str, tuple[int, str]]:
    names = [name.strip().lower() for name in header]
    found = {}
    for role, aliases in ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[role] = (names.index(alias), alias)
                break
    for role in ("time", "mag"):
        if role not in found:
            raise ReaderError(
                path, f"no {role} column: expected one of {list(ALIASES[role])}, got {header}"
            )
    return found


class GenericCsvReader:
    name = "csv"

    def sniff(self, path: Path, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
        names = {name.strip().strip('"') for name in first.split(",")}
        return bool(names & set(ALIASES["time"])) and bool(names & set(ALIASES["mag"]))

    def read(self, path: Path) -> Iterator[Photometry]:
        rows = csv_rows(path)
        _, header = next(rows, (0, []))
        columns = _find_columns(path, header)
        time_index, time_name = columns["time"]
        offset = JD_OFFSET if time_name == "jd" else 0.0
        objects: dict[str, dict[str, BandColumns]] = {}
        for line, row in rows:
            if len(row) != len(header):
                raise ReaderError(
                    path, f"expected {len(header)} columns, got {len(row)}", where=f"line {line}"
                )
            object_id = row[columns["id"][0]].strip() if "id" in columns else path.stem
            band = row[columns["band"][0]].strip() if "band" in columns else DEFAULT_BAND
            if columns.get("band", (0, ""))[1] == "fid":
                band = ZTF_FILTERS.get(band, band)
            if not band:
                raise ReaderError(path, "empty band", where=f"line {line}")
            t, mag, err, where = objects.setdefault(object_id, {}).setdefault(
                band, ([], [], [] if "err" in columns else None, [])
            )
            where.append(f"line {line}")
            t.append(to_float(path, row[time_index], f"line {line}, {time_name}") - offset)
            mag.append(to_float(path, row[columns["mag"][0]], f"line {line}, mag"))
            if err is not None:
                err.append(to_float(path, row[columns["err"][0]], f"line {line}, err"))
        if not objects:
            raise ReaderError(path, "no data rows")
        for object_id, per_band in objects.items():
            curves, rejected = build_curves(object_id, per_band)
            yield Photometry(object_id=object_id, survey="CSV", curves=curves, rejected=rejected)
