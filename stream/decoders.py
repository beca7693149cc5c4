"""What ingest takes from an alert message: one decoder per survey, chosen per topic.

A decoder turns one Kafka message into :class:`DecodedAlert` records (object id, points per
band, the points it skipped by reason), or raises ``ValueError`` for a message that cannot be
decoded (it is dead-lettered). An alert with nothing to store for a known reason (a Rubin
solar-system source) is not an error: it comes back with ``skipped_alert`` set.

Object ids never collide between surveys: LSST objects are ``LSST:<diaObjectId>``, and a
ZTF ``objectId`` containing ``:`` is refused. An id is checked at this boundary
(:func:`checked_object_id`): at most :data:`MAX_OBJECT_ID_CHARS` characters of a small
alphabet, so no sender can make keys, results or log lines of any size.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from classifier.readers.base import BandPoint, Magnitude
from classifier.readers.lsst import decode_lsst_alerts
from classifier.readers.lsst_schemas import SchemaCatalog
from classifier.readers.ztf import decode_alerts
from stream.defaults import MAGNITUDE

SURVEY_SEPARATOR = ":"
MAX_OBJECT_ID_CHARS = 64  # ZTF ids have 12, LSST:<int64> at most 25
_ID_CHARACTERS = re.compile(r"[A-Za-z0-9_.+\-]+")


def survey_of(object_id: str) -> str:
    """The survey an object id of the stream belongs to: its prefix, else ZTF.

    >>> survey_of("ZTF18adljlvp"), survey_of("LSST:170028203829608450")
    ('ztf', 'lsst')
    """
    prefix, separator, _ = object_id.partition(SURVEY_SEPARATOR)
    return prefix.lower() if separator else ZtfDecoder.survey


def checked_object_id(object_id: str) -> str:
    """``object_id`` if a sender may name an object so, else ``ValueError`` saying why.

    Examples
    --------
    >>> checked_object_id("ZTF18adljlvp")
    'ZTF18adljlvp'
    >>> checked_object_id("x" * 70)
    Traceback (most recent call last):
    ...
    ValueError: objectId 'xxxxxxxxxxxxxxxxxxxxxxxx...': 70 characters (at most 64)
    >>> checked_object_id("a b")
    Traceback (most recent call last):
    ...
    ValueError: objectId 'a b': only letters, digits and _ . + - are allowed
    """
    shown = object_id if len(object_id) <= 24 else object_id[:24] + "..."
    if len(object_id) > MAX_OBJECT_ID_CHARS:
        raise ValueError(
            f"objectId {shown!r}: {len(object_id)} characters (at most {MAX_OBJECT_ID_CHARS})"
        )
    if SURVEY_SEPARATOR in object_id:
        raise ValueError(
            f"objectId {shown!r}: ':' is reserved for survey prefixes "
            "(LSST objects are LSST:<diaObjectId>)"
        )
    if not _ID_CHARACTERS.fullmatch(object_id):
        raise ValueError(f"objectId {shown!r}: only letters, digits and _ . + - are allowed")
    return object_id


@dataclass(frozen=True)
class DecodedAlert:
    """One alert's object and usable points (``skipped_alert``: why there are none)."""

    object_id: str
    band_points: dict[str, list[BandPoint]]
    skipped_points: Counter[str] = field(default_factory=Counter)
    skipped_alert: str | None = None


class AlertDecoder(Protocol):
    survey: ClassVar[str]

    def __call__(self, data: bytes) -> list[DecodedAlert]: ...


@dataclass(frozen=True)
class ZtfDecoder:
    """ZTF Avro containers (:mod:`classifier.readers.ztf`)."""

    magnitude: Magnitude = MAGNITUDE
    survey: ClassVar[str] = "ztf"

    def __call__(self, data: bytes) -> list[DecodedAlert]:
        decoded = []
        for alert in decode_alerts(data):
            object_id = checked_object_id(alert.object_id)
            decoded.append(DecodedAlert(object_id, alert.band_points(self.magnitude)))
        return decoded


@dataclass(frozen=True)
class LsstDecoder:
    """Rubin alerts (:mod:`classifier.readers.lsst`): ``scienceFlux`` for ``dc``, ``psfFlux``
    for ``difference``; ``forced`` adds ``prvDiaForcedSources``."""

    schemas: SchemaCatalog
    magnitude: Magnitude = MAGNITUDE
    forced: bool = False
    survey: ClassVar[str] = "lsst"

    def __call__(self, data: bytes) -> list[DecodedAlert]:
        decoded = []
        for alert in decode_lsst_alerts(data, self.schemas):
            if alert.skip_reason is not None:
                decoded.append(DecodedAlert(alert.object_id, {}, skipped_alert="solar-system"))
                continue
            points, skipped = alert.points(self.magnitude, self.forced)
            decoded.append(DecodedAlert(alert.object_id, points, skipped))
        return decoded
