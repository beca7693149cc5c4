"""Helpers shared by the text (CSV) readers: opening, and numbers with precise errors."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

from classifier.readers.base import ReaderError

csv.field_size_limit(1 << 30)  # EROS rows hold whole light curves in one field


def open_text(path: Path) -> io.TextIOBase:
    """The file as text, gunzipped when its name ends in ``.gz``."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` for every non-blank row, header included."""
    try:
        with open_text(path) as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if row and any(cell.strip() for cell in row):
                    yield number, row
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as error:
        raise ReaderError(path, f"cannot read as CSV text: {error}") from None


def to_float(path: Path, value: str, where: str) -> float:
    """``float(value)`` or a :class:`ReaderError` that names the line and column."""
    try:
        return float(value)
    except ValueError:
        raise ReaderError(path, f"{value.strip()!r} is not a number", where=where) from None
