"""The alert consumer: consume -> decode -> store -> queue -> commit, batch by batch.

At-least-once: offsets are committed only after Redis holds the batch's points and the
objects are queued for scoring; a redelivered alert changes nothing (see :mod:`stream.store`).
A message that cannot be decoded goes to the dead-letter topic with the reason in its headers
(and the original bytes as its value), is counted, and the consumer carries on. If Redis is
unreachable (or writers kept conflicting on an object), the batch is not committed: the
consumer rewinds to it and tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
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

from classifier.readers.ztf import Magnitude, decode_alerts
from stream import metrics
from stream.scoring_queue import ScoringQueue
from stream.store import AlertPoints, ObjectStore, StoreConflictError

log = logging.getLogger("dmdt.ingest")
RETRY_PAUSE_S = 1.0
LAG_EVERY_S = 5.0


def consumer_config(bootstrap: str, group: str, fetch_wait_ms: int = 20) -> dict:
    """Manual commits; short session timeouts, so a group (re)joins in seconds, not ~25.

    ``fetch_wait_ms``: a broker may hold an empty fetch this long even after data arrives
    (Tansu does): librdkafka's 500 ms default put ~250 ms into the median alert->result
    latency. A broker whose storage answers slower than this (Tansu on S3: ~80 ms a fetch)
    answers every fetch empty, so raise it there.
    """
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "fetch.max.bytes": 64 << 20,
        "max.partition.fetch.bytes": 16 << 20,  # 1 MiB default: ~18 ZTF alerts a request
        "fetch.wait.max.ms": fetch_wait_ms,
    }


class DeadLetterError(RuntimeError):
    """Dead letters could not be delivered: the batch must not be committed."""


@dataclass
class BatchOutcome:
    stored: int = 0
    dead: int = 0
    objects: dict[str, float] = field(default_factory=dict)


def _alert_time(message: Message) -> float:
    kind, millis = message.timestamp()
    return time.time() if kind == TIMESTAMP_NOT_AVAILABLE else millis / 1000.0


class AlertIngest:
    """One consumer-group member: reads ``topic``, writes Redis, queues objects to score."""

    def __init__(
        self,
        consumer: Consumer,
        dead_letters: Producer,
        store: ObjectStore,
        queue: ScoringQueue,
        topic: str,
        dead_letter_topic: str,
        magnitude: Magnitude = "dc",
        batch_size: int = 500,
    ) -> None:
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.store = store
        self.queue = queue
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.magnitude: Magnitude = magnitude
        self.batch_size = batch_size
        self._lag_checked = 0.0

    def run(self, stop: threading.Event, poll_s: float = 0.02) -> None:
        """Consume until ``stop`` is set; then commit what is done and leave the group."""
        self.consumer.subscribe([self.topic])
        try:
            while not stop.is_set():
                messages = self.consumer.consume(self.batch_size, poll_s)
                if messages:
                    self.handle_or_rewind(messages)
                self._report_lag()
        finally:
            self.consumer.close()
            self.dead_letters.flush(10)

    def handle_or_rewind(
        self, messages: Sequence[Message], pause_s: float = RETRY_PAUSE_S
    ) -> BatchOutcome | None:
        """Handle a batch; if Redis fails, or the dead letters cannot be delivered, rewind to
        it (it will be read again: every write is idempotent)."""
        try:
            return self.handle(messages)
        except (redis.ConnectionError, redis.TimeoutError, StoreConflictError) as error:
            reason, detail = "redis", f"Redis: {error}"
        except DeadLetterError as error:
            reason, detail = "kafka", str(error)
        metrics.ALERTS_FAILED.labels(reason).inc(len(messages))
        log.warning("%s; the batch of %d will be read again", detail, len(messages))
        self._rewind(messages)
        time.sleep(pause_s)
        return None

    def handle(self, messages: Sequence[Message]) -> BatchOutcome:
        started = time.perf_counter()
        outcome = BatchOutcome()
        alerts: list[AlertPoints] = []
        data = [m for m in messages if not self._is_error(m)]
        metrics.ALERTS_CONSUMED.inc(len(data))
        for message in data:
            try:
                decoded = decode_alerts(message.value() or b"")
            except ValueError as error:
                self._dead_letter(message, f"undecodable: {error}")
                outcome.dead += 1
                continue
            when = _alert_time(message)
            for alert in decoded:
                alerts.append(AlertPoints(alert.object_id, alert.band_points(self.magnitude), when))
        for result in self.store.add_alerts(alerts):
            for band, n in result.new_points.items():
                if n:
                    metrics.POINTS_STORED.labels(band).inc(n)
            for band, n in result.dropped.items():
                metrics.POINTS_DROPPED.labels(band).inc(n)
        for alert in alerts:
            previous = outcome.objects.get(alert.object_id, alert.alert_time)
            outcome.objects[alert.object_id] = min(previous, alert.alert_time)
        self.queue.push(outcome.objects)
        outcome.stored = len(data) - outcome.dead
        if outcome.dead and self.dead_letters.flush(30) > 0:
            raise DeadLetterError("dead letters could not be delivered; not committing")
        self._commit(data)
        metrics.ALERTS_STORED.inc(outcome.stored)
        metrics.INGEST_BATCH_SIZE.observe(len(messages))
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
        self.dead_letters.produce(
            self.dead_letter_topic,
            value=message.value(),
            key=message.key(),
            headers=[
                ("dmdt.reason", reason.encode()),
                ("dmdt.topic", message.topic().encode()),
                ("dmdt.partition", str(message.partition()).encode()),
                ("dmdt.offset", str(message.offset()).encode()),
            ],
        )

    @staticmethod
    def _next_offsets(messages: Sequence[Message]) -> dict[tuple[str, int], int]:
        last: dict[tuple[str, int], int] = {}
        for m in messages:
            key = (m.topic(), m.partition())
            last[key] = max(last.get(key, -1), m.offset() + 1)
        return last

    def _commit(self, messages: Sequence[Message]) -> None:
        """Commit after the points are safe. A failed commit (the broker unreachable) only
        means these messages may be delivered again, which changes nothing; the next batch's
        commit covers them."""
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._next_offsets(messages).items()]
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            metrics.ALERTS_FAILED.labels("commit").inc()
            log.warning("offsets not committed (%s); the batch may be delivered again", error)

    def _rewind(self, messages: Sequence[Message]) -> None:
        first: dict[tuple[str, int], int] = {}
        for m in messages:
            if m.error() is None:  # errors were counted and logged when the batch was read
                key = (m.topic(), m.partition())
                first[key] = min(first.get(key, m.offset()), m.offset())
        for (topic, partition), offset in first.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))

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
