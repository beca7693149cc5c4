"""ingest.consumer's batch lifecycle with fake Kafka objects (unit tests; the integration
test runs it on a real broker): nothing committed before Redis holds the points, a Redis
outage rewinds the batch, an undecodable message is dead-lettered with its reason."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from classifier.grid import DmDtGrid
from ingest.consumer import AlertIngest
from ingest.scoring_queue import QUEUE_KEY, ScoringQueue
from ingest.store import ObjectStore


class FakeMessage:
    def __init__(self, value: bytes, offset: int, partition: int = 0) -> None:
        self._value, self._offset, self._partition = value, offset, partition

    def error(self):
        return None

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return b"k"

    def topic(self) -> str:
        return "alerts"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list = []
        self.seeks: list = []

    def commit(self, offsets, asynchronous):
        self.commits.append(sorted((tp.partition, tp.offset) for tp in offsets))

    def seek(self, tp):
        self.seeks.append((tp.partition, tp.offset))


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list = []

    def produce(self, topic, value, key, headers):
        self.sent.append((topic, value, dict(headers)))

    def flush(self, timeout):
        return 0


def _ingest(client: redis.Redis) -> tuple[AlertIngest, FakeConsumer, FakeProducer]:
    consumer, producer = FakeConsumer(), FakeProducer()
    grid = DmDtGrid.preset("crts")
    ingest = AlertIngest(
        consumer, producer, ObjectStore(client, grid), ScoringQueue(client), "alerts", "dead"
    )
    return ingest, consumer, producer


def test_a_batch_is_committed_after_redis_and_a_bad_message_is_dead_lettered(redis_client, samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    ingest, consumer, producer = _ingest(redis_client)
    outcome = ingest.handle(
        [FakeMessage(good, 7), FakeMessage(b"garbage", 8), FakeMessage(good, 3, partition=1)]
    )
    assert outcome.stored == 2 and outcome.dead == 1
    assert consumer.commits == [[(0, 9), (1, 4)]]
    ((topic, value, headers),) = producer.sent
    assert topic == "dead" and value == b"garbage"
    assert headers["dmdt.reason"] == b"undecodable: not an Avro container file (bad magic bytes)"
    assert headers["dmdt.offset"] == b"8"
    assert redis_client.zscore(QUEUE_KEY, "ZTF17aaacxxf") == 1_700_000_000.0


def test_a_redis_outage_rewinds_the_batch_and_commits_nothing(samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    down = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    ingest, consumer, _ = _ingest(down)
    assert ingest.handle_or_rewind([FakeMessage(good, 5), FakeMessage(good, 6)], pause_s=0) is None
    assert consumer.commits == [] and consumer.seeks == [(0, 5)]
