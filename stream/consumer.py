"""The alert consumer, a :class:`stream.lifecycle.Step`: consume -> decode, store, queue,
dead-letter -> commit, batch by batch.

At-least-once: offsets are committed only after Redis holds the batch's points, the objects
are queued for scoring and the dead letters are delivered; a redelivered alert changes
nothing (see :mod:`stream.store`). A message that cannot be decoded goes to the dead-letter
topic with the reason in its headers (and the original bytes as its value, cut to
:data:`DEAD_LETTER_MAX_BYTES` with the full size in a header), is counted, and the consumer
carries on; so is a message that fails in any other way on its own (:mod:`stream.lifecycle`).
When the infrastructure fails the batch is not committed: the consumer rewinds to it and reads
it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_INVALID,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from stream import metrics
from stream.decoders import AlertDecoder
from stream.defaults import INGEST_BATCH
from stream.delivery import BrokerError, Delivery
from stream.scoring_queue import ScoringQueue
from stream.store import AlertPoints, ObjectStore

log = logging.getLogger("dmdt.ingest")
LAG_EVERY_S = 5.0
DEAD_LETTER_MAX_BYTES = 256 << 10  # under any broker's message limit (Kafka's default: 1 MiB)
DEAD_LETTER_MAX_KEY_BYTES = 1 << 10


@dataclass
class BatchOutcome:
    stored: int = 0
    dead: int = 0
    objects: dict[str, float] = field(default_factory=dict)


def _alert_time(message: Message) -> float:
    kind, millis = message.timestamp()
    return time.time() if kind == TIMESTAMP_NOT_AVAILABLE else millis / 1000.0


def _positions(messages: Sequence[Message]) -> Iterator[tuple[tuple[str, int], int]]:
    """((topic, partition), offset) of each message that is not an error event (errors were
    counted and logged when the batch was read, and carry no position to commit or seek)."""
    for m in messages:
        topic, partition, offset = m.topic(), m.partition(), m.offset()
        if m.error() is None and topic is not None and partition is not None and offset is not None:
            yield (topic, partition), offset


def _described(partitions: list[TopicPartition]) -> str:
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(str(tp.topic), []).append(tp.partition)
    return ", ".join(f"{t}{sorted(p)}" for t, p in sorted(by_topic.items())) or "none"


def _log_assigned(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions assigned: %s", _described(partitions))


def _log_revoked(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions revoked: %s", _described(partitions))


class AlertIngest:
    """One consumer-group member: reads the alert topics (each with its survey's decoder),
    writes Redis, queues objects to score."""

    name = "ingest"

    def __init__(
        self,
        consumer: Consumer,
        dead_letters: Producer,
        store: ObjectStore,
        queue: ScoringQueue,
        decoders: Mapping[str, AlertDecoder],
        dead_letter_topic: str,
        batch_size: int = INGEST_BATCH,
        poll_s: float = 0.02,
    ) -> None:
        self.consumer = consumer
        self.dead_letters = Delivery(dead_letters)
        self.store = store
        self.queue = queue
        self.decoders = dict(decoders)
        self.dead_letter_topic = dead_letter_topic
        self.batch_size = batch_size
        self.poll_s = poll_s
        self._subscribed = False
        self._lag_checked = 0.0

    def take(self) -> list[Message] | None:
        try:
            if not self._subscribed:
                self.consumer.subscribe(
                    sorted(self.decoders), on_assign=_log_assigned, on_revoke=_log_revoked
                )
                self._subscribed = True
            return self._consume() or None
        except KafkaException as error:
            raise BrokerError(f"consume failed: {error}") from error

    def _consume(self) -> list[Message]:
        """What has arrived, up to ``batch_size``, without waiting; when nothing has, wait up
        to ``poll_s`` for the first message only. (``Consumer.consume(n, t)`` waits until n
        messages or t have passed: at a low rate every batch would wait the whole ``t``.)"""
        messages = self.consumer.consume(self.batch_size, 0)
        if messages:
            return messages
        messages = self.consumer.consume(1, self.poll_s)
        if messages and self.batch_size > 1:
            messages += self.consumer.consume(self.batch_size - 1, 0)
        return messages

    def commit(self, batch: list[Message]) -> None:
        """Commit after the points are safe. A failed commit (the broker unreachable) only
        means these messages may be delivered again, which changes nothing; the next batch's
        commit covers them."""
        after: dict[tuple[str, int], int] = {}
        for key, offset in _positions(batch):
            after[key] = max(after.get(key, -1), offset + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in after.items()]
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            metrics.ALERTS_FAILED.labels("commit").inc()
            log.warning("offsets not committed (%s); the batch may be delivered again", error)

    def retry(self, batch: list[Message], reason: str) -> None:
        """Rewind to the batch: it will be read again (every write is idempotent)."""
        metrics.ALERTS_FAILED.labels(reason).inc(len(batch))
        first: dict[tuple[str, int], int] = {}
        for key, offset in _positions(batch):
            first[key] = min(first.get(key, offset), offset)
        for (topic, partition), offset in first.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))

    def reject(self, item: Message, reason: str) -> None:
        """A message that failed on its own: to the dead-letter topic, delivered."""
        self._dead_letter(item, reason)
        self.dead_letters.confirm()

    def housekeeping(self) -> None:
        self._report_lag()

    def close(self) -> None:
        self.consumer.close()
        self.dead_letters.producer.flush(10)

    def process(self, batch: list[Message]) -> BatchOutcome:
        """Decode, store, queue and dead-letter a batch (dead letters delivered)."""
        started = time.perf_counter()
        outcome = BatchOutcome()
        alerts: list[AlertPoints] = []
        data = [m for m in batch if not self._is_error(m)]
        metrics.ALERTS_CONSUMED.inc(len(data))
        for message in data:
            decoder = self.decoders[str(message.topic())]
            try:
                decoded = decoder(message.value() or b"")
            except ValueError as error:
                self._dead_letter(message, f"undecodable: {error}")
                outcome.dead += 1
                continue
            when = _alert_time(message)
            for decoded_alert in decoded:
                for reason, n in decoded_alert.skipped_points.items():
                    metrics.POINTS_SKIPPED.labels(decoder.survey, reason).inc(n)
                if decoded_alert.skipped_alert is not None:
                    metrics.ALERTS_SKIPPED.labels(decoder.survey, decoded_alert.skipped_alert).inc()
                    continue
                oid = decoded_alert.object_id
                alerts.append(AlertPoints(oid, decoded_alert.band_points, when))
                outcome.objects[oid] = min(outcome.objects.get(oid, when), when)
        for result in self.store.add_alerts(alerts):
            for band, n in result.new_points.items():
                if n:
                    metrics.POINTS_STORED.labels(band).inc(n)
            for band, n in result.dropped.items():
                metrics.POINTS_DROPPED.labels(band).inc(n)
        self.queue.push(outcome.objects)
        outcome.stored = len(data) - outcome.dead
        if outcome.dead:
            self.dead_letters.confirm()
        metrics.ALERTS_STORED.inc(outcome.stored)
        metrics.INGEST_BATCH_SIZE.observe(len(batch))
        metrics.INGEST_BATCH_SECONDS.observe(time.perf_counter() - started)
        return outcome

    def _is_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() != KafkaError._PARTITION_EOF:
            metrics.ALERTS_FAILED.labels("kafka").inc()
            log.warning("consumer error: %s", error)
        return True

    def _dead_letter(self, message: Message, reason: str) -> None:
        metrics.ALERTS_FAILED.labels("undecodable").inc()
        metrics.DEAD_LETTERS.inc()
        log.warning(
            "dead letter %s[%d]@%d: %s",
            message.topic(),
            message.partition(),
            message.offset(),
            reason,
        )
        value, key = message.value(), message.key()
        headers = [
            ("dmdt.reason", reason.encode()),
            ("dmdt.topic", str(message.topic()).encode()),
            ("dmdt.partition", str(message.partition()).encode()),
            ("dmdt.offset", str(message.offset()).encode()),
        ]
        if value is not None and len(value) > DEAD_LETTER_MAX_BYTES:
            headers.append(("dmdt.size", str(len(value)).encode()))
            headers.append(("dmdt.truncated", b"true"))
            value = value[:DEAD_LETTER_MAX_BYTES]
        if key is not None and len(key) > DEAD_LETTER_MAX_KEY_BYTES:
            key = key[:DEAD_LETTER_MAX_KEY_BYTES]
        self.dead_letters.send(self.dead_letter_topic, value=value, key=key, headers=headers)

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_checked < LAG_EVERY_S:
            return
        self._lag_checked = now
        lag = 0
        for tp in self.consumer.position(self.consumer.assignment()):
            _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset != OFFSET_INVALID and high >= 0:
                lag += max(0, high - tp.offset)
        metrics.CONSUMER_LAG.set(lag)
