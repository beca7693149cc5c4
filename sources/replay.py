"""Produce alerts to Kafka: alert files as they are, survey light curves as alert streams.

Used by ``dmdt replay`` (tests, demos, backfills) and by the demo. Messages are keyed by
object id (so one object's alerts stay in order on one partition); a file that cannot be
decoded is still sent, unkeyed, so that replaying a bad file exercises the dead-letter path.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from classifier.readers import read_file
from classifier.readers.ztf import AVRO_MAGIC, decode_alerts
from sources.ztf_alerts import SurveyAlert, curve_alerts
from stream.delivery import Delivery, KafkaProducer

Message = tuple[str | None, bytes]


def alert_file_message(path: Path) -> Message:
    """An Avro alert file as one message, keyed by its object id when it decodes."""
    data = path.read_bytes()
    try:
        key = decode_alerts(data)[0].object_id
    except ValueError:
        key = None
    return key, data


def curve_file_alerts(path: Path, band: str = "r") -> Iterator[SurveyAlert]:
    """Each object of a light-curve file (the band the band rule picks) as an alert stream;
    object ids are ``CSS<id>`` for Catalina files, the file's id otherwise."""
    for photometry in read_file(path):
        if not photometry.curves:
            continue
        curve = photometry.curve()
        prefix = "CSS" if photometry.survey == "CSS" else ""
        yield from curve_alerts(curve, f"{prefix}{photometry.object_id}", band)


def survey_messages(paths: Iterable[Path]) -> Iterator[Message]:
    """Alert files as they are, then every light-curve file's alerts merged in time order."""
    streams = []
    for path in paths:
        with path.open("rb") as handle:
            is_avro = handle.read(4) == AVRO_MAGIC
        if is_avro:
            yield alert_file_message(path)
        else:
            streams.append(curve_file_alerts(path))
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
