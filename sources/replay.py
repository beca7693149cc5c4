"""Produce alerts to Kafka: alert files as they are, survey light curves as alert streams.

Used by ``dmdt replay`` (tests, demos, backfills) and by the demo. Light curves become
ZTF-like alerts (:mod:`sources.ztf_alerts`) or, given an
:class:`~sources.lsst_alerts.LsstAlertWriter`, Rubin alerts (:mod:`sources.lsst_alerts`).
Messages are keyed by object id (so one object's alerts stay in order on one partition); a
file that cannot be decoded is still sent, unkeyed, so that replaying a bad file exercises
the dead-letter path.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from classifier.readers import read_file
from classifier.readers.avro_container import MAGIC as AVRO_MAGIC
from classifier.readers.lsst import decode_lsst_alerts, is_lsst_packet
from classifier.readers.ztf import decode_alerts
from sources import lsst_alerts, ztf_alerts
from sources.lsst_alerts import LsstAlertWriter
from sources.ztf_alerts import SurveyAlert
from stream.delivery import Delivery, KafkaProducer

Message = tuple[str | None, bytes]


def alert_file_message(path: Path, lsst: LsstAlertWriter | None = None) -> Message:
    """An alert file (ZTF or Rubin) as one message, keyed by its object id when it decodes."""
    data = path.read_bytes()
    try:
        if is_lsst_packet(data[:4096]):
            key = decode_lsst_alerts(data, lsst.catalog if lsst else None)[0].object_id
        else:
            key = decode_alerts(data)[0].object_id
    except ValueError:
        key = None
    return key, data


def _is_alert_file(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096)
    return head.startswith(AVRO_MAGIC) or is_lsst_packet(head)


def curve_file_alerts(
    path: Path, band: str = "r", lsst: LsstAlertWriter | None = None
) -> Iterator[SurveyAlert]:
    """Each object of a light-curve file (the band the band rule picks) as an alert stream:
    ZTF-like, or Rubin alerts with ``lsst``; object ids are ``CSS<id>`` for Catalina files
    (``LSST:<id>`` as Rubin alerts), the file's id otherwise."""
    for photometry in read_file(path):
        if not photometry.curves:
            continue
        curve = photometry.curve()
        prefix = "CSS" if photometry.survey == "CSS" else ""
        object_id = f"{prefix}{photometry.object_id}"
        if lsst is None:
            yield from ztf_alerts.curve_alerts(curve, object_id, band)
        else:
            yield from lsst_alerts.curve_alerts(curve, object_id, lsst, band)


def survey_messages(
    paths: Iterable[Path], lsst: LsstAlertWriter | None = None
) -> Iterator[Message]:
    """Alert files as they are, then every light-curve file's alerts merged in time order
    (as Rubin alerts when ``lsst`` is given)."""
    streams = []
    for path in paths:
        if _is_alert_file(path):
            yield alert_file_message(path, lsst)
        else:
            streams.append(curve_file_alerts(path, lsst=lsst))
    for alert in heapq.merge(*streams, key=lambda a: a.mjd):
        yield alert.object_id, alert.packet


def replay(
    producer: KafkaProducer,
    topic: str,
    messages: Iterable[Message],
    rate: float | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Produce ``messages`` at ``rate`` per second (None: as fast as possible); returns the
    number delivered. Raises :class:`~stream.delivery.DeliveryError` if any was not."""
    delivery = Delivery(producer, timeout_s=60.0)
    started = time.monotonic()
    sent = 0
    for key, value in messages:
        if rate:
            delay = started + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        delivery.send(topic, value=value, key=key)
        producer.poll(0)
        sent += 1
        if on_sent is not None:
            on_sent(sent)
    delivery.confirm()
    return sent
