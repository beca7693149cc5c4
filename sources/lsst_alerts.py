"""Rubin/LSST alert packets made from a survey light curve, one per point (demos, replays).

Each point ``i`` becomes one Confluent-framed alert (byte 0 = 0, the schema id, the
schemaless body) of an official Rubin schema (10.0 or 11.0, from a
:class:`~classifier.readers.lsst_schemas.SchemaCatalog`) whose ``diaSource`` is point ``i``
and whose ``prvDiaSources`` are the earlier points within ``history_days`` (Rubin sends 12
months). Magnitudes become fluxes the way Rubin measures a variable star: ``scienceFlux`` is
the star's flux, ``f = 10^(-0.4 (m - 31.4))`` nJy, with error ``f * err * ln 10 / 2.5``;
``psfFlux`` is the difference from a template holding the median flux (either sign). The
fields this project does not fill are null, or zero where the schema requires a value.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import fastavro
import numpy as np

from classifier.lightcurve import LightCurve
from classifier.readers.lsst import AB_ZERO_POINT_NJY, WIRE_MAGIC
from classifier.readers.lsst_schemas import SchemaCatalog, schema_id
from sources.ztf_alerts import SurveyAlert, candid_base, css_digits

SCHEMA_VERSIONS = ("10.0", "11.0")
DEFAULT_SCHEMA = "11.0"
HISTORY_DAYS = 365.0
_FLUX_PER_MAG = math.log(10.0) / 2.5
_ZERO = {"long": 0, "int": 0, "float": 0.0, "double": 0.0, "boolean": False, "string": ""}


def _blank(node: Any, named: dict[str, Any], namespace: str = "") -> Any:
    """A value of the type ``node``: null where allowed, zero or empty where not."""
    if isinstance(node, list):
        return None if "null" in node else _blank(node[0], named, namespace)
    if isinstance(node, str):
        if node in _ZERO:
            return _ZERO[node]
        return _blank(named.get(node) or named[f"{namespace}.{node}"], named, namespace)
    kind = node["type"]
    if kind == "record":
        space = node.get("namespace", namespace)
        named[node["name"] if "." in node["name"] else f"{space}.{node['name']}"] = node
        return {
            f["name"]: f["default"] if "default" in f else _blank(f["type"], named, space)
            for f in node["fields"]
        }
    if kind in ("array", "map"):
        return [] if kind == "array" else {}
    if kind in ("bytes", "fixed"):
        return b"\0" * node.get("size", 0)
    if kind == "enum":
        return node["symbols"][0]
    return _blank(kind, named, namespace)


def diaobject_id(object_id: str) -> int:
    """A positive ``diaObjectId`` for a stream object: the numeric id itself (a CSS id),
    else a CRC32 of the id.

    >>> diaobject_id("1001006006382"), diaobject_id("CSS1001006006382")
    (1001006006382, 1001006006382)
    """
    digits = css_digits(object_id)
    if digits.isdigit() and 0 < int(digits) < 2**62:
        return int(digits)
    return zlib.crc32(digits.encode()) + 1


class LsstAlertWriter:
    """Encodes alerts of one schema version (its parsed schema and a blank ``diaSource``)."""

    def __init__(self, catalog: SchemaCatalog, version: str = DEFAULT_SCHEMA) -> None:
        if version not in SCHEMA_VERSIONS:
            raise ValueError(f"LSST schema {version!r}: choose one of {list(SCHEMA_VERSIONS)}")
        self.catalog = catalog
        self.identifier = schema_id(version)
        schema = catalog.schema(self.identifier)
        self.parsed = fastavro.parse_schema(schema)
        source = next(f["type"] for f in schema["fields"] if f["name"] == "diaSource")
        self.blank_alert = _blank(schema, {})
        self.blank_source = _blank(source, {})

    def source(
        self, source_id: int, object_id: int, mjd: float, band: str, mag: float, err: float,
        template_flux: float,
    ) -> dict[str, Any]:  # fmt: skip
        """One ``diaSource`` record of a point."""
        flux = 10.0 ** (-0.4 * (mag - AB_ZERO_POINT_NJY))
        flux_err = flux * err * _FLUX_PER_MAG
        return {
            **self.blank_source,
            "diaSourceId": source_id,
            "diaObjectId": object_id,
            "midpointMjdTai": mjd,
            "timeProcessedMjdTai": mjd,
            "band": band,
            "scienceFlux": flux,
            "scienceFluxErr": flux_err,
            "psfFlux": flux - template_flux,
            "psfFluxErr": flux_err,
        }

    def encode(self, source: dict[str, Any], history: list[dict[str, Any]]) -> bytes:
        """One framed alert: ``source`` new, ``history`` in ``prvDiaSources``."""
        alert = {
            **self.blank_alert,
            "diaSourceId": source["diaSourceId"],
            "diaSource": source,
            "prvDiaSources": history or None,
        }
        buffer = io.BytesIO()
        buffer.write(struct.pack(">bI", WIRE_MAGIC, self.identifier))
        fastavro.schemaless_writer(buffer, self.parsed, alert)
        return buffer.getvalue()


def curve_alerts(
    curve: LightCurve,
    object_id: str,
    writer: LsstAlertWriter,
    band: str = "r",
    history_days: float = HISTORY_DAYS,
) -> Iterator[SurveyAlert]:
    """One LSST alert per point of ``curve`` in time order; the stream object is
    ``LSST:<diaObjectId>`` (:func:`diaobject_id` of ``object_id``).

    Examples
    --------
    >>> from classifier.readers.lsst import decode_lsst_alerts
    >>> catalog = SchemaCatalog.configured()  # the installed lsst-alert-packet's schemas
    >>> curve = LightCurve([1.0, 2.0, 400.0], [15.0, 15.4, 15.1], [0.02, 0.03, 0.02])
    >>> alerts = list(curve_alerts(curve, "CSS1", LsstAlertWriter(catalog)))
    >>> [len(decode_lsst_alerts(a.packet, catalog)[0].detections) for a in alerts]
    [1, 2, 1]
    >>> points = decode_lsst_alerts(alerts[1].packet, catalog)[0].band_points()["r"]
    >>> [(round(p.mjd, 4), round(p.mag, 4), round(p.err, 4)) for p in points]
    [(1.0, 15.0, 0.02), (2.0, 15.4, 0.03)]
    """
    err = np.full(len(curve), 0.05) if curve.err is None else curve.err
    dia_object = diaobject_id(object_id)
    template = float(np.median(10.0 ** (-0.4 * (curve.mag - AB_ZERO_POINT_NJY))))
    base = candid_base(object_id)
    sources = [
        writer.source(base + i, dia_object, float(t), band, float(m), float(e), template)
        for i, (t, m, e) in enumerate(zip(curve.t, curve.mag, err, strict=True))
    ]
    first = 0
    for i, source in enumerate(sources):
        while curve.t[first] < curve.t[i] - history_days:
            first += 1
        packet = writer.encode(source, sources[first:i])
        yield SurveyAlert(float(curve.t[i]), f"LSST:{dia_object}", packet)
