"""Rubin/LSST alert packets: schemas 9.0, 10.0 and 11.0, framed or in Avro containers.

Rubin streams each alert in the Confluent wire format: byte 0 = 0, a 4-byte big-endian schema
id (``major * 100 + minor``) and the schemaless Avro body, whose writer schema comes from a
:class:`~classifier.readers.lsst_schemas.SchemaCatalog`. Avro container files (Rubin's
sample alerts) carry their schema and need none.

Decoding:

* points come from ``diaSource`` (the new detection) and ``prvDiaSources`` (the history),
  deduplicated by ``diaSourceId``; ``prvDiaForcedSources`` are kept apart and used only when
  asked (``forced=True``), without the visits a detection already gives; their ids are stored
  negated (``-1 - diaForcedSourceId``) so that they can never equal a ``diaSourceId``;
* the magnitude is AB, ``m = -2.5 log10(flux / nJy) + 31.4``, with error
  ``2.5 / ln 10 * fluxErr / flux``; ``magnitude="dc"`` (the default, for periodic variables)
  reads ``scienceFlux`` (the star's flux on the visit image), ``"difference"`` reads
  ``psfFlux`` (the difference-image flux, positive detections only), as ``DMDT_MAGNITUDE``
  does for ZTF. A point whose flux or error is missing or not positive is skipped and counted
  (:meth:`LsstAlert.points`), never turned into a magnitude;
* bands are ``u g r i z y``; times are ``midpointMjdTai`` (MJD, TAI: 37 s from UTC, which no
  time difference of one object feels);
* an alert of a solar-system source (no ``diaObjectId``, an ``ssObjectId``) is not an error:
  :attr:`LsstAlert.skip_reason` says why it has no light curve. The object id is
  ``LSST:<diaObjectId>``, so it can never equal a ZTF ``objectId``.

A corrupt packet is a ``ValueError`` naming the first bad field: a wrong magic byte, an
unknown schema id, bytes cut short, a triggering ``diaSource`` without a finite ``psfFlux``
or time, a time in the future, or neither object id.
"""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from classifier.readers.avro_container import MAGIC as CONTAINER_MAGIC
from classifier.readers.avro_container import container_records
from classifier.readers.avro_plan import NULL_INT, FieldSpec, ReadPlan
from classifier.readers.base import (
    FUTURE_TOLERANCE_DAYS,
    BandColumns,
    BandPoint,
    Magnitude,
    Photometry,
    ReaderError,
    build_curves,
    now_mjd,
    plausible,
)
from classifier.readers.lsst_schemas import SchemaCatalog, schema_version

WIRE_MAGIC = 0
WIRE_HEADER = 5  # magic byte + 4-byte schema id
MIN_SCHEMA_ID, MAX_SCHEMA_ID = 300, 9_999  # what a file must name to be sniffed as Rubin's
AB_ZERO_POINT_NJY = 31.4
BANDS = ("u", "g", "r", "i", "z", "y")
OBJECT_PREFIX = "LSST:"
_MAG_PER_FLUX = 2.5 / math.log(10.0)

_ROW_FIELDS = frozenset(
    {
        "diaSourceId",
        "diaForcedSourceId",
        "diaObjectId",
        "ssObjectId",
        "midpointMjdTai",
        "band",
        "psfFlux",
        "psfFluxErr",
        "scienceFlux",
        "scienceFluxErr",
    }
)
_SPEC = FieldSpec(
    top=frozenset({"diaSourceId"}),
    nested=frozenset({"diaSource", "diaObject"}),  # diaObjectId: diaObject's when present
    row_arrays=frozenset({"prvDiaSources", "prvDiaForcedSources"}),
    row_fields=_ROW_FIELDS,
)


@dataclass(frozen=True)
class LsstSource:
    """One measurement: a ``diaSource`` (detection) or a ``diaForcedSource``; fluxes in nJy,
    ``None`` when null."""

    source_id: int  # diaSourceId, or -1 - diaForcedSourceId
    mjd: float
    band: str | None
    psf_flux: float | None
    psf_flux_err: float | None
    science_flux: float | None
    science_flux_err: float | None

    @property
    def forced(self) -> bool:
        return self.source_id < 0

    def magnitude(self, magnitude: Magnitude) -> tuple[float, float] | str:
        """``(mag, err)`` in AB, or the reason there is none."""
        name, flux, err = (
            ("scienceFlux", self.science_flux, self.science_flux_err)
            if magnitude == "dc"
            else ("psfFlux", self.psf_flux, self.psf_flux_err)
        )
        if self.band not in BANDS:
            return "band missing or unknown"
        if flux is None or err is None:
            return f"{name} missing"
        if not flux > 0.0 or not err > 0.0:
            return f"{name} not positive"
        return flux_to_ab(flux), _MAG_PER_FLUX * err / flux


def flux_to_ab(flux_njy: float) -> float:
    """AB magnitude of a flux in nJy.

    >>> round(flux_to_ab(1e9), 2), round(flux_to_ab(3631e9), 3) + 0  # 1 Jy; 3631 Jy, AB's zero
    (8.9, 0.0)
    """
    return -2.5 * math.log10(flux_njy) + AB_ZERO_POINT_NJY


@dataclass(frozen=True)
class LsstAlert:
    """One decoded alert: the object's detections and forced photometry, time-sorted."""

    dia_object_id: int | None
    ss_object_id: int | None
    dia_source_id: int
    schema_version: str
    detections: tuple[LsstSource, ...]
    forced_sources: tuple[LsstSource, ...]

    @property
    def object_id(self) -> str:
        """``LSST:<diaObjectId>`` (``LSST:ss<ssObjectId>`` for a solar-system source)."""
        if self.dia_object_id is None:
            return f"{OBJECT_PREFIX}ss{self.ss_object_id}"
        return f"{OBJECT_PREFIX}{self.dia_object_id}"

    @property
    def skip_reason(self) -> str | None:
        """Why this alert has no light curve to store (a solar-system source), or None."""
        if self.dia_object_id is None:
            return (
                f"solar-system source (ssObjectId {self.ss_object_id}, no diaObjectId): "
                "not a light curve to classify"
            )
        return None

    def sources(self, forced: bool = False) -> list[LsstSource]:
        """The detections, and with ``forced`` the forced sources of other visits."""
        chosen = list(self.detections)
        if forced:
            taken = {(s.band, s.mjd) for s in self.detections}
            chosen += [s for s in self.forced_sources if (s.band, s.mjd) not in taken]
        return sorted(chosen, key=lambda s: (s.mjd, s.source_id))

    def points(
        self, magnitude: Magnitude = "dc", forced: bool = False
    ) -> tuple[dict[str, list[BandPoint]], Counter[str]]:
        """Per band, ``(id, mjd, mag, err)`` of the usable points; and the skipped ones
        counted by reason (a missing or non-positive flux, an implausible magnitude)."""
        per_band: dict[str, list[BandPoint]] = {}
        skipped: Counter[str] = Counter()
        if self.dia_object_id is None:
            return per_band, skipped
        for source in self.sources(forced):
            value = source.magnitude(magnitude)
            if isinstance(value, str):
                skipped[value] += 1
                continue
            point = BandPoint(source.source_id, source.mjd, *value)
            if not plausible(point):
                skipped["magnitude or error out of range"] += 1
                continue
            assert source.band is not None  # a point has a band (magnitude() checked)
            per_band.setdefault(source.band, []).append(point)
        return per_band, skipped

    def band_points(
        self, magnitude: Magnitude = "dc", forced: bool = False
    ) -> dict[str, list[BandPoint]]:
        """:meth:`points` without the skip counts (what the stream stores)."""
        return self.points(magnitude, forced)[0]

    def photometry(self, magnitude: Magnitude = "dc", forced: bool = False) -> Photometry:
        """Per-band curves of AB magnitudes from ``scienceFlux`` (default) or ``psfFlux``."""
        per_band: dict[str, BandColumns] = {}
        usable, skipped = self.points(magnitude, forced)
        for band, points in usable.items():
            per_band[band] = (
                [p.mjd for p in points],
                [p.mag for p in points],
                [p.err for p in points],
                [_source_name(p.candid) for p in points],
            )
        curves, rejected = build_curves(self.object_id, per_band)
        notes = tuple(f"{n} point(s) skipped: {reason}" for reason, n in sorted(skipped.items()))
        return Photometry(
            object_id=self.object_id, survey="LSST", curves=curves, rejected=rejected + notes
        )


def _source_name(source_id: int) -> str:
    return f"diaForcedSourceId {-1 - source_id}" if source_id < 0 else f"diaSourceId {source_id}"


def _where(row: int) -> str:
    return "diaSource" if row == 0 else f"history row {row}"


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def _identifier(value: int) -> int | None:
    """An id, or None for null and 0 (Rubin writes ``ssObjectId`` 0 for "none")."""
    return None if value in (NULL_INT, 0) else value


class _Reading:
    """A compiled plan for one writer schema; builds alerts from its rows (row 0: the
    ``diaSource``; then one row per ``prvDiaSources`` and ``prvDiaForcedSources`` item)."""

    def __init__(self, plan: ReadPlan, version: str) -> None:
        self.plan = plan
        self.version = version
        self.slot = plan.slots

    def _text(self, name: str, floats: list, ints: list, data: bytes) -> str | None:
        at = ints[self.slot[name]]
        return None if at == NULL_INT else data[at : at + int(floats[self.slot[name]])].decode()

    def _source(self, row: int, floats: list, ints: list, data: bytes, latest: float) -> LsstSource:
        s = self.slot
        mjd = floats[s["midpointMjdTai"]]
        if not math.isfinite(mjd):
            raise ValueError(f"{_where(row)}.midpointMjdTai: missing or not finite")
        if mjd > latest:
            raise ValueError(f"{_where(row)}.midpointMjdTai: {mjd!r} is in the future")
        forced_id = ints[s["diaForcedSourceId"]]
        source_id = ints[s["diaSourceId"]] if forced_id == NULL_INT else -1 - forced_id
        return LsstSource(
            source_id,
            mjd,
            self._text("band", floats, ints, data),
            *(_optional(floats[s[name]]) for name in ("psfFlux", "psfFluxErr")),
            *(_optional(floats[s[name]]) for name in ("scienceFlux", "scienceFluxErr")),
        )

    def alert(self, floats: np.ndarray, ints: np.ndarray, data: bytes, latest: float) -> LsstAlert:
        """One alert from its rows; ``ValueError`` naming the first bad field."""
        float_rows, int_rows = floats.tolist(), ints.tolist()
        s = self.slot
        top_f, top_i = float_rows[0], int_rows[0]
        dia_object, ss_object = (_identifier(top_i[s[n]]) for n in ("diaObjectId", "ssObjectId"))
        if dia_object is None and ss_object is None:
            raise ValueError("diaSource: no diaObjectId and no ssObjectId (no object to file)")
        trigger = self._source(0, top_f, top_i, data, latest)
        if dia_object is not None:
            for name, value in (
                ("psfFlux", trigger.psf_flux),
                ("psfFluxErr", trigger.psf_flux_err),
            ):
                if value is None or not math.isfinite(value):
                    raise ValueError(f"diaSource.{name}: missing or not finite ({value!r})")
            if trigger.band not in BANDS:
                raise ValueError(f"diaSource.band: {trigger.band!r} is not one of {BANDS}")
        detections = {trigger.source_id: trigger}
        forced: dict[int, LsstSource] = {}
        for row in range(1, len(float_rows)):
            source = self._source(row, float_rows[row], int_rows[row], data, latest)
            (forced if source.forced else detections).setdefault(source.source_id, source)
        return LsstAlert(
            dia_object_id=dia_object,
            ss_object_id=ss_object,
            dia_source_id=trigger.source_id,
            schema_version=self.version,
            detections=tuple(sorted(detections.values(), key=lambda d: (d.mjd, d.source_id))),
            forced_sources=tuple(sorted(forced.values(), key=lambda d: (d.mjd, d.source_id))),
        )


def _compiled(schema: dict) -> _Reading:
    """The reading of a writer schema, its version taken from its name (lsst.vM_m.alert)."""
    name = schema.get("namespace", "") + "." + schema.get("name", "")
    version = name.split(".v", 1)[1].split(".")[0].replace("_", ".") if ".v" in name else "?"
    return _Reading(ReadPlan.compile(schema, _SPEC), version)


@lru_cache(maxsize=32)
def _reading(schema_text: bytes) -> _Reading:
    """The compiled reading of a container's writer schema, once per distinct schema."""
    return _compiled(json.loads(schema_text))


@lru_cache(maxsize=32)
def _catalog_reading(catalog: SchemaCatalog, identifier: int) -> _Reading:
    """The compiled reading of a wire-format schema id, once per catalog and id."""
    return _compiled(catalog.schema(identifier))


def wire_schema_id(data: bytes) -> int:
    """The schema id of a Confluent-framed message; ``ValueError`` if it is not framed."""
    if len(data) < WIRE_HEADER:
        raise ValueError(f"{len(data)} bytes: too short for the Confluent wire format header")
    if data[0] != WIRE_MAGIC:
        raise ValueError(
            f"not a Rubin alert: byte 0 is {data[0]:#04x}; the Confluent wire format starts "
            "with 0x00 (an Avro container file starts with 'Obj')"
        )
    return struct.unpack(">I", data[1:WIRE_HEADER])[0]


def decode_lsst_alerts(data: bytes, schemas: SchemaCatalog | None = None) -> list[LsstAlert]:
    """Every alert of one message (Confluent-framed) or container file; ``ValueError`` if
    bad. A framed alert's schema comes from ``schemas`` (default: the installed
    ``lsst-alert-packet``); an unknown id is an
    :class:`~classifier.readers.lsst_schemas.UnknownSchemaError` (a ``ValueError``)."""
    latest = now_mjd() + FUTURE_TOLERANCE_DAYS
    if data.startswith(CONTAINER_MAGIC):
        return _decode_container(data, latest)
    identifier = wire_schema_id(data)
    version = schema_version(identifier)
    reading = _catalog_reading(schemas or default_catalog(), identifier)
    try:
        floats, ints, end = reading.plan.read(np.frombuffer(data, dtype=np.uint8), WIRE_HEADER)
    except ValueError as error:
        raise ValueError(f"corrupt alert body (schema v{version}): {error}") from None
    if end != len(data):
        raise ValueError(f"{len(data) - end} bytes left after the alert: not schema v{version}")
    return [reading.alert(floats, ints, data, latest)]


def _decode_container(data: bytes, latest: float) -> list[LsstAlert]:
    reading, rows = container_records(data, _reading)
    return [reading.alert(*row, latest) for row in rows]


@lru_cache(maxsize=1)
def default_catalog() -> SchemaCatalog:
    """The schemas of the installed ``lsst-alert-packet``, if any."""
    return SchemaCatalog.configured()


def is_lsst_packet(head: bytes) -> bool:
    """A Rubin alert: Confluent-framed (byte 0 = 0, then a plausible schema id) or an Avro
    container whose schema is a Rubin one."""
    if head.startswith(CONTAINER_MAGIC):
        return b'"lsst.v' in head
    framed = len(head) >= WIRE_HEADER and head[0] == WIRE_MAGIC
    return framed and MIN_SCHEMA_ID <= wire_schema_id(head) <= MAX_SCHEMA_ID


class LsstAvroReader:
    """Rubin alert files: one Confluent-framed alert, or an Avro container of alerts."""

    name = "lsst"

    def __init__(
        self,
        schemas: SchemaCatalog | None = None,
        magnitude: Magnitude = "dc",
        forced: bool = False,
    ) -> None:
        self.schemas = schemas
        self.magnitude: Magnitude = magnitude
        self.forced = forced

    def sniff(self, path: Path, head: bytes) -> bool:
        return is_lsst_packet(head)

    def read(self, path: Path) -> Iterator[Photometry]:
        try:
            alerts = decode_lsst_alerts(path.read_bytes(), self.schemas)
        except OSError as error:
            raise ReaderError(path, f"cannot read: {error.strerror}") from None
        except ValueError as error:
            raise ReaderError(path, str(error)) from None
        for alert in alerts:
            if alert.skip_reason:
                where = f"diaSourceId {alert.dia_source_id}"
                raise ReaderError(path, alert.skip_reason, where=where)
            yield alert.photometry(self.magnitude, self.forced)
