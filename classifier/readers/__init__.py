"""File readers behind one interface: :func:`read_file` detects the format and reads it.

Formats: Rubin/LSST alerts (``lsst``: Confluent-framed or Avro containers), ZTF alert Avro
(``ztf``), EROS-1 (``eros``), Catalina CSS (``css``) and any CSV with named columns (``csv``).
Each yields :class:`Photometry` records, one per object.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path

from classifier.readers.base import Photometry, Reader, ReaderError, UpperLimits
from classifier.readers.css import CssReader
from classifier.readers.eros import ErosReader
from classifier.readers.generic_csv import GenericCsvReader
from classifier.readers.lsst import LsstAlert, LsstAvroReader, decode_lsst_alerts
from classifier.readers.lsst_schemas import SchemaCatalog, UnknownSchemaError
from classifier.readers.ztf import ZtfAlert, ZtfAvroReader, decode_alerts

__all__ = [
    "LsstAlert", "Photometry", "Reader", "ReaderError", "SchemaCatalog", "UnknownSchemaError",
    "UpperLimits", "ZtfAlert", "decode_alerts", "decode_lsst_alerts", "detect_reader",
    "light_curve_files", "read_file", "reader_names",
]  # fmt: skip

_HEAD_BYTES = 4096
SUFFIXES = (".csv", ".csv.gz", ".avro")  # what a folder is searched for


def _readers(lsst_schemas: SchemaCatalog | None = None) -> list[Reader]:
    # Most specific first: a CSS file is also a valid generic CSV, a Rubin container is Avro.
    return [
        LsstAvroReader(lsst_schemas),
        ZtfAvroReader(),
        ErosReader(),
        CssReader(),
        GenericCsvReader(),
    ]


def reader_names() -> list[str]:
    return [reader.name for reader in _readers()]


def _head(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read(_HEAD_BYTES)
        with open(path, "rb") as handle:
            return handle.read(_HEAD_BYTES)
    except (OSError, EOFError) as error:
        raise ReaderError(
            path, f"cannot open: {getattr(error, 'strerror', None) or error}"
        ) from None


def detect_reader(
    path: Path | str, format: str | None = None, lsst_schemas: SchemaCatalog | None = None
) -> Reader:
    """The reader for ``path``: the one named by ``format``, else the first that sniffs it
    (``lsst_schemas``: where Rubin alert schemas come from; default the installed package)."""
    path = Path(path)
    readers = _readers(lsst_schemas)
    if format is not None:
        for reader in readers:
            if reader.name == format:
                return reader
        raise ReaderError(path, f"unknown format {format!r}; choose one of {reader_names()}")
    if path.is_dir():
        raise ReaderError(path, "is a folder; give a light-curve file")
    if not path.is_file():
        raise ReaderError(path, "no such file")
    head = _head(path)
    for reader in readers:
        if reader.sniff(path, head):
            return reader
    raise ReaderError(path, f"unrecognised format; supported: {reader_names()}")


def read_file(
    path: Path | str, format: str | None = None, lsst_schemas: SchemaCatalog | None = None
) -> list[Photometry]:
    """Every object in ``path`` (format detected unless given)."""
    path = Path(path)
    return list(detect_reader(path, format, lsst_schemas).read(path))


def light_curve_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and every light-curve file (:data:`SUFFIXES`) below each folder,
    sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)
            )
        else:
            yield path
