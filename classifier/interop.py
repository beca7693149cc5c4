"""Light curves from the tables astronomers hold, and answers back as a table.

* :func:`curves_from_table`: a pandas ``DataFrame``, an astropy ``Table`` or ``TimeSeries``
  (its ``time`` column of ``astropy.time.Time`` is read as MJD) -> one :class:`LightCurve`
  per object and band, the column names configurable;
* :func:`verdicts_frame`: verdicts -> a pandas ``DataFrame``, one row each, a ``p_<class>``
  column per class.

pandas and astropy are optional (``pip install 'dmdt-stream[interop]'``): nothing here
imports them until a table of theirs is handed over.

Examples
--------
>>> from astropy.table import Table
>>> table = Table({"mjd": [1.0, 2.0, 3.5, 1.5], "mag": [15.0, 15.2, 15.1, 16.0],
...                "filter": ["g", "g", "g", "r"]})
>>> [(c.band, len(c)) for c in curves_from_table(table, time="mjd", band="filter")]
[('g', 3)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from classifier.lightcurve import DEFAULT_BAND, LightCurve, LightCurveError
from classifier.verdict import Verdict


def _column(table: Any, name: str) -> np.ndarray:
    """A column as a plain array: an astropy ``Time`` as MJD, a ``Quantity`` as its value,
    a masked value as NaN (refused later with its index)."""
    try:
        values = table[name]
    except (KeyError, ValueError):
        columns = list(getattr(table, "colnames", None) or getattr(table, "columns", []))
        raise LightCurveError(name, f"no such column; the table has {columns}") from None
    if hasattr(values, "mjd"):  # astropy.time.Time (a TimeSeries' time)
        return np.asarray(values.mjd, dtype=np.float64)
    values = getattr(values, "value", values)  # astropy Quantity / Column
    if np.ma.isMaskedArray(values):
        return np.ma.filled(values.astype(np.float64), np.nan)
    return np.asarray(values)


def _has(table: Any, name: str) -> bool:
    names = getattr(table, "colnames", None)
    return name in (names if names is not None else table.columns)


def curves_from_table(
    table: Any,
    time: str = "time",
    mag: str = "mag",
    err: str | None = "err",
    band: str | None = "band",
    object_id: str | None = None,
    min_points: int = 2,
) -> list[LightCurve]:
    """One light curve per object and band of ``table``.

    ``err``, ``band`` and ``object_id`` name optional columns (absent: no errors, one band
    ``single``, one object). Groups with fewer than ``min_points`` points are left out;
    invalid values raise :class:`LightCurveError` naming the column and row.
    """
    t = _column(table, time).astype(np.float64)
    m = _column(table, mag).astype(np.float64)
    e = _column(table, err).astype(np.float64) if err and _has(table, err) else None
    bands = (
        _column(table, band).astype(str)
        if band and _has(table, band)
        else np.full(len(t), DEFAULT_BAND)
    )
    ids = (
        _column(table, object_id).astype(str)
        if object_id and _has(table, object_id)
        else np.full(len(t), "")
    )
    curves = []
    for key in sorted(set(zip(ids, bands, strict=True))):
        rows = np.flatnonzero((ids == key[0]) & (bands == key[1]))
        if len(rows) < min_points:
            continue
        curves.append(
            LightCurve(
                t[rows],
                m[rows],
                None if e is None else e[rows],
                band=str(key[1]),
                object_id=str(key[0]) or None,
            )
        )
    return curves


def verdicts_frame(curves: Sequence[LightCurve], verdicts: Sequence[Verdict]) -> Any:
    """A pandas ``DataFrame``: object, band, points, label, confidence, unknown, model and a
    ``p_<class>`` column per class, one row per curve."""
    import pandas as pd  # noqa: PLC0415 (optional)

    rows = []
    for curve, verdict in zip(curves, verdicts, strict=True):
        rows.append(
            {
                "object_id": curve.object_id,
                "band": curve.band,
                "n_points": verdict.n_points,
                "label": verdict.label,
                "confidence": verdict.confidence,
                "unknown": verdict.unknown,
                "model": f"{verdict.model} {verdict.model_version}",
                **{f"p_{c}": p for c, p in verdict.probabilities.items()},
            }
        )
    return pd.DataFrame(rows)
