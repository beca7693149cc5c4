"""The consumer's batch lifecycle with fake Kafka objects (unit tests; the integration
test runs it on a real broker): nothing committed before Redis holds the points, a Redis
outage rewinds the batch, an undecodable message is dead-lettered with its reason."""

from __future__ import annotations

import io
import time

import fastavro
import pytest
import redis
from confluent_kafka import KafkaError, KafkaException
from redis.backoff import NoBackoff
from redis.retry import Retry

from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.readers import SchemaCatalog
from sources.lsst_alerts import LsstAlertWriter, curve_alerts
from sources.ztf_alerts import encode
from stream import keys, lifecycle, metrics
from stream.consumer import DEAD_LETTER_MAX_BYTES, AlertIngest
from stream.decoders import LsstDecoder, ZtfDecoder
from stream.delivery import Delivery
from stream.scoring_queue import ScoringQueue
from stream.store import ObjectStore


class FakeMessage:
    def __init__(self, value: bytes, offset: int, partition: int = 0, topic: str = "alerts"):
        self._value, self._offset, self._partition = value, offset, partition
        self._topic = topic

    def error(self):
        return None

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return b"k"

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


class FakeEndOfPartition(FakeMessage):
    """The event librdkafka hands over at a partition's end: an error, with the end's offset."""

    def error(self):
        return KafkaError(KafkaError._PARTITION_EOF)


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

    def produce(self, topic, value, key, headers, on_delivery):
        self.sent.append((topic, value, dict(headers)))
        on_delivery(None, None)

    def flush(self, timeout):
        return 0


def _ingest(client: redis.Redis) -> tuple[AlertIngest, FakeConsumer, FakeProducer]:
    consumer, producer = FakeConsumer(), FakeProducer()
    grid = DmDtGrid.preset("crts")
    decoders = {"alerts": ZtfDecoder(), "lsst-alerts": LsstDecoder(SchemaCatalog.configured())}
    ingest = AlertIngest(
        consumer, producer, ObjectStore(client, grid), ScoringQueue(client), decoders, "dead"
    )
    return ingest, consumer, producer


def test_a_batch_is_committed_after_redis_and_a_bad_message_is_dead_lettered(redis_client, samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    ingest, consumer, producer = _ingest(redis_client)
    outcome = lifecycle.handle(
        ingest,
        [FakeMessage(good, 7), FakeMessage(b"garbage", 8), FakeMessage(good, 3, partition=1)],
    )
    assert outcome.stored == 2 and outcome.dead == 1
    assert consumer.commits == [[(0, 9), (1, 4)]]
    ((topic, value, headers),) = producer.sent
    assert topic == "dead" and value == b"garbage"
    assert headers["dmdt.reason"] == b"undecodable: not an Avro container file (bad magic bytes)"
    assert headers["dmdt.offset"] == b"8"
    assert redis_client.zscore(keys.QUEUE, "ZTF17aaacxxf") == 1_700_000_000.0


def test_an_end_of_partition_event_is_neither_committed_nor_stored(redis_client, samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    ingest, consumer, producer = _ingest(redis_client)
    batch = [FakeMessage(good, 7), FakeEndOfPartition(b"", 50, partition=2)]
    outcome = lifecycle.handle(ingest, batch)
    assert outcome.stored == 1 and outcome.dead == 0 and producer.sent == []
    assert consumer.commits == [[(0, 8)]]  # not (2, 51): that would skip partition 2's next


def test_a_redis_outage_rewinds_the_batch_and_commits_nothing(samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    down = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    ingest, consumer, _ = _ingest(down)
    assert (
        lifecycle.run_once(ingest, [FakeMessage(good, 5), FakeMessage(good, 6)], pause_s=0) is None
    )
    assert consumer.commits == [] and consumer.seeks == [(0, 5)]


def _sample_record(samples) -> tuple[dict, dict]:
    with open(samples / "ztf_schema3.2_ZTF17aaacxxf.avro", "rb") as handle:
        reader = fastavro.reader(handle)
        return reader.writer_schema, next(iter(reader))


def _encoded(schema: dict, record: dict) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [record])
    return buffer.getvalue()


def _poison(samples, kind: str) -> bytes:
    schema, record = _sample_record(samples)
    candidate = record["candidate"]
    other = {"type": "record", "name": "other", "fields": [{"name": "a", "type": "int"}]}
    return {
        "empty": lambda: b"",
        "truncated": lambda: _encoded(schema, record)[:3000],
        "wrong schema": lambda: _encoded(other, {"a": 1}),
        "missing magnitude": lambda: encode(  # the ZTF-like schema has it nullable
            {
                "schemavsn": "x",
                "publisher": "test",
                "objectId": "ZTFx",
                "candid": 1,
                "candidate": {"jd": candidate["jd"], "fid": 1, "candid": 1, "magpsf": None},
                "prv_candidates": None,
            }
        ),
        "NaN magnitude": lambda: _encoded(
            schema, {**record, "candidate": {**candidate, "sigmapsf": float("nan")}}
        ),
        "inf time": lambda: _encoded(
            schema, {**record, "candidate": {**candidate, "jd": float("inf")}}
        ),
        "future time": lambda: _encoded(
            schema, {**record, "candidate": {**candidate, "jd": time.time() / 86400 + 2440600.0}}
        ),
        "bad filter": lambda: _encoded(schema, {**record, "candidate": {**candidate, "fid": 9}}),
        "no object id": lambda: _encoded(schema, {**record, "objectId": ""}),
    }[kind]()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "not an Avro container file"),
        ("truncated", "corrupt Avro container"),
        ("wrong schema", "objectId: missing or not a string"),
        ("missing magnitude", "candidate.magpsf: missing or not finite (None)"),
        ("NaN magnitude", "candidate.sigmapsf: missing or not finite (None)"),
        ("inf time", "candidate.jd: missing or not finite (inf)"),
        ("future time", "candidate.jd: "),
        ("bad filter", "candidate.fid: 9 is not a ZTF filter id"),
        ("no object id", "objectId: missing or not a string ('')"),
    ],
)
def test_poison_goes_to_the_dead_letter_topic_and_the_stream_goes_on(
    redis_client, samples, kind, reason
):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    ingest, consumer, producer = _ingest(redis_client)
    outcome = lifecycle.handle(
        ingest, [FakeMessage(_poison(samples, kind), 1), FakeMessage(good, 2)]
    )
    assert outcome.dead == 1 and outcome.stored == 1
    ((_, _, headers),) = producer.sent
    assert reason in headers["dmdt.reason"].decode()
    if kind == "future time":
        assert headers["dmdt.reason"].decode().endswith("is in the future")
    assert consumer.commits == [[(0, 3)]]
    assert redis_client.zscore(keys.QUEUE, "ZTF17aaacxxf") is not None


def test_an_enormous_history_is_capped_per_band(redis_client, samples):
    schema, record = _sample_record(samples)
    base = dict(record["prv_candidates"][0])
    history = [
        {**base, "candid": base["candid"] + 1 + i, "jd": base["jd"] - 1e-3 * (i + 1)}
        for i in range(20_000)
    ]
    alert = _encoded(schema, {**record, "prv_candidates": history})
    ingest, _, _ = _ingest(redis_client)
    ingest.store.max_points_per_band = 500
    (decoded,) = ZtfDecoder()(alert)
    sent = sum(len(points) for points in decoded.band_points.values())
    dropped = metrics.POINTS_DROPPED.labels(
        max(decoded.band_points, key=lambda b: len(decoded.band_points[b]))
    )
    before = dropped._value.get()
    assert lifecycle.handle(ingest, [FakeMessage(alert, 1)]).stored == 1
    stored = ingest.store.load("ZTF17aaacxxf")
    kept = sum(acc.n_points for acc in stored.values())
    assert max(acc.n_points for acc in stored.values()) == 500  # bounded: not 2e8 pairs
    assert dropped._value.get() - before == sent - kept  # the rest dropped, and counted


LSST_CURVE = LightCurve([60000.0, 60001.5, 60003.0], [17.0, 17.4, 17.2], [0.02, 0.03, 0.02])


def _lsst_alert(**changes: object) -> bytes:
    """The last LSST alert of a 3-point curve (2 points of history), its diaSource changed."""
    writer = LsstAlertWriter(SchemaCatalog.configured(), "11.0")
    *_, last = curve_alerts(LSST_CURVE, "CSS42", writer)
    record = fastavro.schemaless_reader(io.BytesIO(last.packet[5:]), writer.parsed)
    record["diaSource"] = {**record["diaSource"], **changes}
    buffer = io.BytesIO()
    buffer.write(last.packet[:5])
    fastavro.schemaless_writer(buffer, writer.parsed, record)
    return buffer.getvalue()


def _lsst_poison(kind: str) -> bytes:
    good = _lsst_alert()
    return {
        "truncated": lambda: good[:-40],
        "wrong magic byte": lambda: b"\x01" + good[1:],
        "unknown schema id": lambda: good[:1] + (4242).to_bytes(4, "big") + good[5:],
        "NaN flux": lambda: _lsst_alert(psfFlux=float("nan")),
        "no object id": lambda: _lsst_alert(diaObjectId=None),
        "future time": lambda: _lsst_alert(midpointMjdTai=time.time() / 86400 + 40590.0),
        "bad band": lambda: _lsst_alert(band="q"),
    }[kind]()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("truncated", "corrupt alert body (schema v11.0)"),
        ("wrong magic byte", "not a Rubin alert: byte 0 is 0x01"),
        ("unknown schema id", "schema id 4242 (Rubin alert schema v42.42) is not in"),
        ("NaN flux", "diaSource.psfFlux: missing or not finite (None)"),
        ("no object id", "diaSource: no diaObjectId and no ssObjectId"),
        ("future time", "is in the future"),
        ("bad band", "diaSource.band: 'q' is not one of"),
    ],
)
def test_lsst_poison_goes_to_the_dead_letter_topic_and_the_stream_goes_on(
    redis_client, kind, reason
):
    ingest, consumer, producer = _ingest(redis_client)
    poison = _lsst_poison(kind)
    outcome = lifecycle.handle(
        ingest,
        [
            FakeMessage(poison, 1, topic="lsst-alerts"),
            FakeMessage(_lsst_alert(), 2, topic="lsst-alerts"),
        ],
    )
    assert outcome.dead == 1 and outcome.stored == 1
    ((_, value, headers),) = producer.sent
    assert reason in headers["dmdt.reason"].decode()
    assert headers["dmdt.topic"] == b"lsst-alerts" and value == poison
    assert consumer.commits == [[(0, 3)]]
    assert redis_client.scard(keys.candids("LSST:42")) == 3


def test_each_topic_is_read_with_its_survey_and_ids_never_collide(redis_client, samples):
    ztf = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    ingest, _, producer = _ingest(redis_client)
    outcome = lifecycle.handle(
        ingest,
        [FakeMessage(ztf, 1), FakeMessage(_lsst_alert(), 1, topic="lsst-alerts")],
    )
    assert outcome.dead == 0 and producer.sent == []
    assert set(outcome.objects) == {"ZTF17aaacxxf", "LSST:42"}
    schema, record = _sample_record(samples)
    lsst_named = _encoded(schema, {**record, "objectId": "LSST:42"})
    lifecycle.handle(ingest, [FakeMessage(lsst_named, 2)])
    ((_, _, headers),) = producer.sent
    assert b"':' is reserved for survey prefixes" in headers["dmdt.reason"]
    assert redis_client.scard(keys.candids("LSST:42")) == 3  # the ZTF message changed nothing


def test_a_solar_system_alert_is_skipped_and_counted_not_dead_lettered(redis_client):
    skipped = metrics.ALERTS_SKIPPED.labels("lsst", "solar-system")
    before = skipped._value.get()
    ingest, consumer, producer = _ingest(redis_client)
    alert = _lsst_alert(diaObjectId=None, ssObjectId=123)
    outcome = lifecycle.handle(ingest, [FakeMessage(alert, 4, topic="lsst-alerts")])
    assert outcome.dead == 0 and producer.sent == [] and outcome.objects == {}
    assert skipped._value.get() == before + 1
    assert consumer.commits == [[(0, 5)]]


class LimitedProducer(FakeProducer):
    """Refuses what librdkafka refuses at produce(): a message over its size limit."""

    def __init__(self, max_bytes: int = 1 << 20) -> None:
        super().__init__()
        self.max_bytes = max_bytes

    def produce(self, topic, value, key, headers, on_delivery):
        if len(value or b"") > self.max_bytes:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        super().produce(topic, value, key, headers, on_delivery)


def test_a_9_mib_message_is_dead_lettered_cut_to_size_and_the_stream_goes_on(redis_client, samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    huge = b"\x00not avro" * (1 << 20)
    ingest, consumer, _ = _ingest(redis_client)
    producer = LimitedProducer()
    ingest.dead_letters = Delivery(producer)
    outcome = lifecycle.handle(ingest, [FakeMessage(huge, 1), FakeMessage(good, 2)])
    assert outcome.dead == 1 and outcome.stored == 1
    ((_, value, headers),) = producer.sent
    assert value == huge[:DEAD_LETTER_MAX_BYTES] and len(huge) > producer.max_bytes
    assert headers["dmdt.size"] == str(len(huge)).encode() and headers["dmdt.truncated"] == b"true"
    assert consumer.commits == [[(0, 3)]]


def test_a_4_mb_object_id_is_dead_lettered_at_the_boundary(redis_client, samples):
    schema, record = _sample_record(samples)
    hostile = _encoded(schema, {**record, "objectId": "Z" * 4_300_000})
    ingest, consumer, producer = _ingest(redis_client)
    outcome = lifecycle.handle(ingest, [FakeMessage(hostile, 1)])
    assert outcome.dead == 1 and outcome.objects == {}
    ((_, value, headers),) = producer.sent
    assert b"4300000 characters (at most 64)" in headers["dmdt.reason"]
    assert len(headers["dmdt.reason"]) < 200 and len(value) == DEAD_LETTER_MAX_BYTES
    assert redis_client.dbsize() == 0 and consumer.commits == [[(0, 2)]]


class FlakyDecoder:
    """A decoder with a bug that one message triggers (not a ValueError)."""

    survey = "ztf"

    def __init__(self, trigger: bytes) -> None:
        self.trigger = trigger

    def __call__(self, data: bytes):
        if data == self.trigger:
            raise KeyError("a bug")
        return ZtfDecoder()(data)


def test_a_message_that_fails_in_any_other_way_is_found_and_set_aside(redis_client, samples):
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    other = (samples / "ztf_schema4.02_ZTF18adljlvp.avro").read_bytes()
    ingest, consumer, producer = _ingest(redis_client)
    ingest.decoders["alerts"] = FlakyDecoder(b"trigger")
    rejected = metrics.STEP_REJECTED.labels("ingest")
    before = rejected._value.get()
    batch = [FakeMessage(good, 1), FakeMessage(b"trigger", 2), FakeMessage(other, 3)]
    assert lifecycle.run_once(ingest, batch, pause_s=0) is None  # the batch failed whole
    ((_, value, headers),) = producer.sent
    assert value == b"trigger" and headers["dmdt.reason"] == b"KeyError: 'a bug'"
    assert rejected._value.get() == before + 1
    assert consumer.commits == [[(0, 2)], [(0, 3)], [(0, 4)]] and consumer.seeks == []
    assert redis_client.zscore(keys.QUEUE, "ZTF17aaacxxf") is not None
    assert redis_client.zscore(keys.QUEUE, "ZTF18adljlvp") is not None


def test_redis_out_of_memory_pauses_ingest_then_it_catches_up(redis_client, samples):
    """A real Valkey at its memory limit answers OOM: the batch is rewound, nothing is
    committed, and once memory is given back the same batch is stored."""
    good = (samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes()
    ingest, consumer, _ = _ingest(redis_client)
    failures = metrics.STEP_FAILURES.labels("ingest", "redis")
    before = failures._value.get()
    redis_client.set("ballast", b"x" * (1 << 20))
    limit = redis_client.config_get("maxmemory")["maxmemory"]
    redis_client.config_set("maxmemory-policy", "noeviction")
    redis_client.config_set("maxmemory", str(redis_client.info("memory")["used_memory"] // 2))
    try:
        assert lifecycle.run_once(ingest, [FakeMessage(good, 5)], pause_s=0) is None
        assert failures._value.get() == before + 1  # the fault happened: an OOM answer
        assert consumer.commits == [] and consumer.seeks == [(0, 5)]
        assert redis_client.exists(keys.meta("ZTF17aaacxxf")) == 0
    finally:
        redis_client.config_set("maxmemory", limit)
    assert lifecycle.run_once(ingest, [FakeMessage(good, 5)], pause_s=0).stored == 1
    assert consumer.commits == [[(0, 6)]]
