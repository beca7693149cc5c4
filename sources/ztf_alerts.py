"""ZTF-like alert packets made from a survey light curve, one per point (demos, benchmarks).

A periodic variable of known class streamed point by point exercises the whole service with
labels known. Each point ``i`` becomes one Avro container whose ``candidate`` is point ``i``
and whose ``prv_candidates`` are the earlier points within ``history_days`` (ZTF sends 30
days). The magnitudes are encoded the way ZTF encodes a variable star: a reference source
``magnr`` (0.5 mag brighter than the brightest point, at ``distnr`` = 0.1 px) and a negative
difference ``magpsf``, so :func:`classifier.readers.ztf.dc_magnitude` gives back the original
magnitude and error. The schema is a ZTF 4.x subset with ``schemavsn`` ``dmdt-css-1``; the
cutouts and the other candidate fields are left out.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import fastavro
import numpy as np

from classifier.lightcurve import LightCurve
from classifier.readers.ztf import JD_TO_MJD

SCHEMA_VERSION = "dmdt-css-1"
FIDS = {"g": 1, "r": 2, "i": 3}
_DISTNR = 0.1
_REFERENCE_OFFSET = 0.5

_POINT_FIELDS = [
    {"name": "jd", "type": "double"},
    {"name": "fid", "type": "int"},
    {"name": "candid", "type": ["null", "long"], "default": None},
    {"name": "isdiffpos", "type": ["null", "string"], "default": None},
    {"name": "magpsf", "type": ["null", "float"], "default": None},
    {"name": "sigmapsf", "type": ["null", "float"], "default": None},
    {"name": "diffmaglim", "type": ["null", "float"], "default": None},
    {"name": "magnr", "type": ["null", "float"], "default": None},
    {"name": "sigmagnr", "type": ["null", "float"], "default": None},
    {"name": "distnr", "type": ["null", "float"], "default": None},
]
SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "alert",
        "namespace": "ztf",
        "fields": [
            {"name": "schemavsn", "type": "string"},
            {"name": "publisher", "type": "string"},
            {"name": "objectId", "type": "string"},
            {"name": "candid", "type": "long"},
            {
                "name": "candidate",
                "type": {"type": "record", "name": "candidate", "fields": _POINT_FIELDS},
            },
            {
                "name": "prv_candidates",
                "type": ["null", {"type": "array", "items": "ztf.candidate"}],
                "default": None,
            },
        ],
    }
)


@dataclass(frozen=True)
class SurveyAlert:
    """One alert packet and when it happened (MJD of its new point)."""

    mjd: float
    object_id: str
    packet: bytes


def css_digits(object_id: str) -> str:
    """The id without a ``CSS`` prefix (Catalina ids are numbers)."""
    return object_id[3:] if object_id.upper().startswith("CSS") else object_id


def candid_base(object_id: str) -> int:
    """A per-object base for detection ids: the numeric CSS id, else a CRC32 of the id."""
    digits = css_digits(object_id)
    base = int(digits) if digits.isdigit() and len(digits) <= 13 else zlib.crc32(digits.encode())
    return base * 100_000


def _point_record(t: float, mag: float, err: float, band: str, candid: int, ref: float) -> dict:
    total = 10.0 ** (-0.4 * mag)
    reference = 10.0 ** (-0.4 * ref)
    difference = reference - total  # > 0: the reference is brighter than every point
    return {
        "jd": t + JD_TO_MJD,
        "fid": FIDS.get(band, 2),
        "candid": candid,
        "isdiffpos": "f",
        "magpsf": -2.5 * math.log10(difference),
        "sigmapsf": err * total / difference,
        "diffmaglim": 21.0,
        "magnr": ref,
        "sigmagnr": 0.0,
        "distnr": _DISTNR,
    }


def encode(record: dict) -> bytes:
    """One record as an Avro object container (the body of one Kafka message)."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, SCHEMA, [record], codec="null")
    return buffer.getvalue()


def curve_alerts(
    curve: LightCurve, object_id: str, band: str = "r", history_days: float = 30.0
) -> Iterator[SurveyAlert]:
    """One alert per point of ``curve`` in time order (``object_id`` names the stream object).

    Examples
    --------
    >>> from classifier.readers.ztf import decode_alerts
    >>> curve = LightCurve([1.0, 2.0, 40.0], [15.0, 15.4, 15.1], [0.02, 0.03, 0.02])
    >>> alerts = list(curve_alerts(curve, "CSS1"))
    >>> [len(decode_alerts(a.packet)[0].detections) for a in alerts]  # 30-day history
    [1, 2, 1]
    >>> points = decode_alerts(alerts[1].packet)[0].band_points()["r"]
    >>> [(round(p.mjd, 4), round(p.mag, 4), round(p.err, 4)) for p in points]
    [(1.0, 15.0, 0.02), (2.0, 15.4, 0.03)]
    """
    err = np.full(len(curve), 0.05) if curve.err is None else curve.err
    reference = float(curve.mag.min()) - _REFERENCE_OFFSET
    base = candid_base(object_id)
    records = [
        _point_record(float(t), float(m), float(e), band, base + i, reference)
        for i, (t, m, e) in enumerate(zip(curve.t, curve.mag, err, strict=True))
    ]
    first = 0
    for i, record in enumerate(records):
        while curve.t[first] < curve.t[i] - history_days:
            first += 1
        alert = {
            "schemavsn": SCHEMA_VERSION,
            "publisher": "dmdt-stream",
            "objectId": object_id,
            "candid": record["candid"],
            "candidate": record,
            "prv_candidates": records[first:i] or None,
        }
        yield SurveyAlert(float(curve.t[i]), object_id, encode(alert))
