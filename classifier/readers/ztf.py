"""ZTF alert packets: Avro containers, one per Kafka message, schema 3.x and 4.x.

Each alert holds the new detection (``candidate``) and up to 30 days of history
(``prv_candidates``: detections and non-detections). Decoding:

* fields are read by name and may be missing (schemas differ between versions);
* detections are deduplicated by ``candid``; non-detections (null ``candid``/``magpsf``,
  only ``diffmaglim``) are kept apart as upper limits, deduplicated by ``(jd, fid)``;
* ``fid`` 1, 2, 3 are the bands ``g``, ``r``, ``i``; times are MJD = ``jd`` - 2400000.5;
* the apparent (DC) magnitude of a variable star is rebuilt from the reference source,
  ``m = -2.5 log10(10^(-0.4 magnr) + s 10^(-0.4 magpsf))`` with ``s = +1`` when ``isdiffpos``
  is ``t``/``1`` and ``-1`` otherwise; it is valid when a reference source lies within
  ``distnr < 1.4`` pixels and the flux sum is positive. Its error propagates ``sigmapsf`` and
  ``sigmagnr`` through the fluxes.

:meth:`ZtfAlert.photometry` gives per-band curves of DC magnitudes (for variable stars, the
default) or of difference magnitudes of positive detections (``magnitude="difference"``).
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from classifier.lightcurve import ERR_LIMITS, MAG_LIMITS, TIME_LIMITS
from classifier.readers.avro_plan import NULL_INT, FieldSpec, ReadPlan
from classifier.readers.base import (
    BandColumns,
    Photometry,
    ReaderError,
    UpperLimits,
    build_curves,
)

AVRO_MAGIC = b"Obj\x01"
JD_TO_MJD = 2_400_000.5
FILTERS = {1: "g", 2: "r", 3: "i"}
MAX_DISTNR = 1.4
_FLUX = 0.4 * math.log(10.0)  # d(flux)/flux per magnitude

Magnitude = Literal["dc", "difference"]


@dataclass(frozen=True)
class ZtfDetection:
    """One detection with both magnitudes (``dc_mag`` is None when it is not valid)."""

    candid: int
    mjd: float
    band: str
    magpsf: float
    sigmapsf: float
    positive: bool
    magnr: float | None
    sigmagnr: float | None
    distnr: float | None
    dc_mag: float | None
    dc_err: float | None


class BandPoint(NamedTuple):
    """One usable detection of a band: what the stream stores."""

    candid: int
    mjd: float
    mag: float
    err: float


@dataclass(frozen=True)
class ZtfUpperLimit:
    mjd: float
    band: str
    diffmaglim: float


def dc_magnitude(
    magpsf: float,
    sigmapsf: float,
    positive: bool,
    magnr: float | None,
    sigmagnr: float | None,
    distnr: float | None,
) -> tuple[float | None, float | None]:
    """Apparent magnitude and error from a difference detection and its reference source.

    Examples
    --------
    >>> m, e = dc_magnitude(18.0, 0.1, True, 16.0, 0.02, 0.3)
    >>> round(m, 4), round(e, 4)
    (15.8403, 0.022)
    """
    if magnr is None or distnr is None or not distnr < MAX_DISTNR or not math.isfinite(magnr):
        return None, None
    ref = 10.0 ** (-0.4 * magnr)
    diff = (1.0 if positive else -1.0) * 10.0 ** (-0.4 * magpsf)
    total = ref + diff
    if total <= 0.0:
        return None, None
    ref_sigma = _FLUX * ref * (sigmagnr if sigmagnr is not None and sigmagnr > 0 else 0.0)
    diff_sigma = _FLUX * abs(diff) * sigmapsf
    error = math.hypot(ref_sigma, diff_sigma) / (_FLUX * total)
    return -2.5 * math.log10(total), error


def _plausible(point: BandPoint) -> bool:
    return all(
        low <= value <= high
        for value, (low, high) in (
            (point.mjd, TIME_LIMITS),
            (point.mag, MAG_LIMITS),
            (point.err, ERR_LIMITS),
        )
    )


def _grouped(points: Iterator[tuple[str, BandPoint]]) -> dict[str, list[BandPoint]]:
    per_band: dict[str, list[BandPoint]] = {}
    for band, point in points:
        per_band.setdefault(band, []).append(point)
    return per_band


def _number(record: dict[str, Any], name: str, where: str) -> float | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.{name}: {value!r} is not a number")
    return float(value)


def _required(record: dict[str, Any], name: str, where: str) -> float:
    value = _number(record, name, where)
    if value is None or not math.isfinite(value):
        raise ValueError(f"{where}.{name}: missing or not finite ({record.get(name)!r})")
    return value


def _band(record: dict[str, Any], where: str) -> str:
    fid = record.get("fid")
    if fid not in FILTERS:
        raise ValueError(f"{where}.fid: {fid!r} is not a ZTF filter id {sorted(FILTERS)}")
    return FILTERS[fid]


def _detection(record: dict[str, Any], where: str) -> ZtfDetection:
    magpsf = _required(record, "magpsf", where)
    sigmapsf = _required(record, "sigmapsf", where)
    positive = str(record.get("isdiffpos", "t")).lower() in ("t", "1", "true")
    magnr = _number(record, "magnr", where)
    sigmagnr = _number(record, "sigmagnr", where)
    distnr = _number(record, "distnr", where)
    dc_mag, dc_err = dc_magnitude(magpsf, sigmapsf, positive, magnr, sigmagnr, distnr)
    return ZtfDetection(
        candid=int(record["candid"]),
        mjd=_required(record, "jd", where) - JD_TO_MJD,
        band=_band(record, where),
        magpsf=magpsf,
        sigmapsf=sigmapsf,
        positive=positive,
        magnr=magnr,
        sigmagnr=sigmagnr,
        distnr=distnr,
        dc_mag=dc_mag,
        dc_err=dc_err,
    )


@dataclass(frozen=True)
class ZtfAlert:
    """One decoded alert: the object's detections (new one included) and upper limits."""

    object_id: str
    candid: int
    schema_version: str
    detections: tuple[ZtfDetection, ...]
    upper_limits: tuple[ZtfUpperLimit, ...]

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ZtfAlert:
        """Build from a decoded Avro record; raises ``ValueError`` naming the bad field."""
        object_id = record.get("objectId")
        candidate = record.get("candidate")
        if not isinstance(object_id, str) or not object_id:
            raise ValueError(f"objectId: missing or not a string ({object_id!r})")
        if not isinstance(candidate, dict) or candidate.get("candid") is None:
            raise ValueError("candidate: missing, or without a candid")
        detections = {candidate["candid"]: _detection(candidate, "candidate")}
        limits = {}
        for i, previous in enumerate(record.get("prv_candidates") or []):
            where = f"prv_candidates[{i}]"
            if previous.get("candid") is not None and previous.get("magpsf") is not None:
                detections.setdefault(previous["candid"], _detection(previous, where))
            else:
                limit = _number(previous, "diffmaglim", where)
                if limit is None or not math.isfinite(limit):
                    continue  # a non-detection without a limit says nothing
                mjd = _required(previous, "jd", where) - JD_TO_MJD
                band = _band(previous, where)
                limits.setdefault((mjd, band), ZtfUpperLimit(mjd, band, limit))
        return cls(
            object_id=object_id,
            candid=int(candidate["candid"]),
            schema_version=str(record.get("schemavsn", "unknown")),
            detections=tuple(sorted(detections.values(), key=lambda d: (d.mjd, d.candid))),
            upper_limits=tuple(sorted(limits.values(), key=lambda u: (u.mjd, u.band))),
        )

    def _points(self, magnitude: Magnitude) -> Iterator[tuple[str, BandPoint]]:
        for d in self.detections:
            if magnitude == "dc":
                if d.dc_mag is not None and d.dc_err is not None:
                    yield d.band, BandPoint(d.candid, d.mjd, d.dc_mag, d.dc_err)
            elif d.positive:
                yield d.band, BandPoint(d.candid, d.mjd, d.magpsf, d.sigmapsf)

    def band_points(self, magnitude: Magnitude = "dc") -> dict[str, list[BandPoint]]:
        """Per band, ``(candid, mjd, mag, err)`` of the detections usable as ``magnitude``:
        DC magnitudes where valid (default), or difference magnitudes of positive detections.
        A point a light curve would reject (e.g. a DC error above 10 mag when the difference
        flux nearly cancels the reference) is left out."""
        return _grouped((b, p) for b, p in self._points(magnitude) if _plausible(p))

    def photometry(self, magnitude: Magnitude = "dc") -> Photometry:
        """Per-band curves of DC magnitudes (default) or positive difference magnitudes."""
        per_band: dict[str, BandColumns] = {
            band: (
                [p.mjd for p in points],
                [p.mag for p in points],
                [p.err for p in points],
                [f"candid {p.candid}" for p in points],
            )
            for band, points in _grouped(self._points(magnitude)).items()
        }
        limits = {}
        for band in sorted({u.band for u in self.upper_limits}):
            chosen = [u for u in self.upper_limits if u.band == band]
            limits[band] = UpperLimits(
                np.array([u.mjd for u in chosen]), np.array([u.diffmaglim for u in chosen])
            )
        curves, rejected = build_curves(self.object_id, per_band)
        return Photometry(
            object_id=self.object_id,
            survey="ZTF",
            curves=curves,
            limits=limits,
            rejected=rejected,
        )


_POINT_FIELDS = frozenset(
    {
        "jd",
        "fid",
        "magpsf",
        "sigmapsf",
        "isdiffpos",
        "magnr",
        "sigmagnr",
        "distnr",
        "candid",
        "diffmaglim",
    }
)


def _zigzag(data: bytes, i: int) -> tuple[int, int]:
    """An Avro long at ``data[i:]``: (value, next index)."""
    shift = result = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), i
        shift += 7


def _container(data: bytes) -> tuple[dict[str, bytes], list[tuple[int, bytes]]]:
    """Header metadata and ``(record count, block bytes)`` of an Avro object container."""
    i, meta = 4, {}
    while True:
        n, i = _zigzag(data, i)
        if n == 0:
            break
        if n < 0:  # a block given with its byte size
            n = -n
            _, i = _zigzag(data, i)
        for _ in range(n):
            size, i = _zigzag(data, i)
            key = data[i : i + size].decode()
            i += size
            size, i = _zigzag(data, i)
            meta[key] = data[i : i + size]
            i += size
    sync = data[i : i + 16]
    i += 16
    blocks = []
    while i < len(data):
        count, i = _zigzag(data, i)
        size, i = _zigzag(data, i)
        blocks.append((count, data[i : i + size]))
        i += size
        if data[i : i + 16] != sync:
            raise ValueError("a block does not end with the file's sync marker")
        i += 16
    return meta, blocks


_SPEC = FieldSpec(
    top=frozenset({"objectId", "schemavsn"}),
    nested=frozenset({"candidate"}),
    row_arrays=frozenset({"prv_candidates"}),
    row_fields=_POINT_FIELDS,
)
_STRINGS = frozenset({"objectId", "schemavsn", "isdiffpos"})


@dataclass(frozen=True)
class _Reading:
    """A compiled plan and, per record part, its fields as (name, slot, is a string)."""

    plan: ReadPlan
    top: tuple[tuple[str, int, bool], ...]
    point: tuple[tuple[str, int, bool], ...]

    def values(self, fields, floats: list, ints: list, data: bytes) -> dict[str, Any]:
        """One output row as a record dict (a null or absent field is left out)."""
        values: dict[str, Any] = {}
        for name, slot, is_string in fields:
            number = ints[slot]
            if number != NULL_INT:
                values[name] = (
                    data[number : number + int(floats[slot])].decode() if is_string else number
                )
            elif floats[slot] == floats[slot]:  # not NaN
                values[name] = floats[slot]
        return values

    def record(self, floats: np.ndarray, ints: np.ndarray, data: bytes) -> dict[str, Any]:
        """The fields used here of one alert, as fastavro would give them."""
        float_rows, int_rows = floats.tolist(), ints.tolist()
        record = self.values(self.top, float_rows[0], int_rows[0], data)
        record["candidate"] = self.values(self.point, float_rows[0], int_rows[0], data)
        record["prv_candidates"] = [
            self.values(self.point, f, i, data)
            for f, i in zip(float_rows[1:], int_rows[1:], strict=True)
        ]
        return record


@lru_cache(maxsize=32)
def _reading(schema_text: bytes) -> _Reading:
    """The compiled reading of a writer schema, once per distinct schema."""
    plan = ReadPlan.compile(json.loads(schema_text), _SPEC)

    def fields(names: frozenset[str]) -> tuple[tuple[str, int, bool], ...]:
        return tuple((name, plan.slots[name], name in _STRINGS) for name in sorted(names))

    return _Reading(plan, fields(_SPEC.top), fields(_POINT_FIELDS))


def decode_alerts(data: bytes) -> list[ZtfAlert]:
    """Every alert in one Avro container (a Kafka message holds one); ``ValueError`` if bad.

    The writer schema in the header is compiled once per distinct schema into a plan that
    reads only the fields used here and jumps over the rest (cutouts, most candidate
    fields): see :mod:`classifier.readers.avro_plan`.
    """
    if not data.startswith(AVRO_MAGIC):
        raise ValueError("not an Avro container file (bad magic bytes)")
    try:
        meta, blocks = _container(data)
        reading = _reading(meta["avro.schema"])
        codec = meta.get("avro.codec", b"null")
        if codec not in (b"null", b"deflate"):
            raise ValueError(f"unsupported codec {codec.decode()!r}")
        records = []
        for count, block in blocks:
            body = zlib.decompress(block, -15) if codec == b"deflate" else block
            array = np.frombuffer(body, dtype=np.uint8)
            position = 0
            for _ in range(count):
                floats, ints, position = reading.plan.read(array, position)
                records.append(reading.record(floats, ints, body))
    except Exception as error:  # truncated or corrupt input fails in many ways
        raise ValueError(f"corrupt Avro container: {type(error).__name__}: {error}") from None
    if not records:
        raise ValueError("Avro container holds no alert")
    return [ZtfAlert.from_record(record) for record in records]


class ZtfAvroReader:
    name = "ztf"

    def __init__(self, magnitude: Magnitude = "dc") -> None:
        self.magnitude = magnitude

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(AVRO_MAGIC)

    def read(self, path: Path) -> Iterator[Photometry]:
        try:
            alerts = decode_alerts(path.read_bytes())
        except OSError as error:
            raise ReaderError(path, f"cannot read: {error.strerror}") from None
        except ValueError as error:
            raise ReaderError(path, str(error)) from None
        for alert in alerts:
            yield alert.photometry(self.magnitude)
