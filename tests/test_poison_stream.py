"""``dmdt ingest`` as a process on a real broker and a real Valkey, fed every hostile
message of the probes (decode bombs, a 9 MiB non-Avro message, a 4.3 MB objectId) between
real alerts: each is dead-lettered with its reason, every real alert is stored, the process
stays up, and a SIGTERM stops it at once."""

from __future__ import annotations

import signal

from confluent_kafka import Producer
from test_consumer import _sample_record
from test_decode_bombs import _long, _schemaless, _with_history, container
from test_faults import GRID, Process, _wait, stream_env
from test_stream import _read_topic

from classifier.readers import decode_alerts
from stream.kafka import ensure_topics, producer_config
from stream.store import ObjectStore


def _hostile(samples) -> dict[str, bytes]:
    schema, record = _sample_record(samples)
    bomb = {"name": "bomb", "type": {"type": "array", "items": "null"}}
    nulls = container(
        {**schema, "fields": [bomb, *schema["fields"]]},
        _long(2**62 - 1) + _schemaless(schema, record),
    )
    empty = container({"type": "record", "name": "nothing", "fields": []}, b"", count=400_000)
    rows = container(schema, _with_history(schema, record, 100_000), codec=b"deflate")
    long_id = container(schema, _schemaless(schema, {**record, "objectId": "Z" * 4_300_000}))
    return {
        "null-array": nulls,
        "empty-records": empty,
        "history-rows": rows,
        "huge": b"\x00not avro" * (1 << 20),
        "long-id": long_id,
    }


def test_hostile_messages_are_dead_lettered_and_ingest_stays_up(
    kafka_bootstrap, redis_url, redis_client, samples, tmp_path
):
    env = stream_env(kafka_bootstrap, redis_url)
    ensure_topics(kafka_bootstrap, [env["DMDT_ALERT_TOPIC"], env["DMDT_DEAD_LETTER_TOPIC"]])
    hostile = _hostile(samples)
    real = {path.name: path.read_bytes() for path in sorted(samples.glob("ztf_schema*.avro"))}
    producer = Producer({**producer_config(kafka_bootstrap), "message.max.bytes": 16 << 20})
    for (name, value), good in zip(hostile.items(), [*real.values(), None], strict=False):
        producer.produce(env["DMDT_ALERT_TOPIC"], value=value, key=name)
        if good is not None:
            producer.produce(env["DMDT_ALERT_TOPIC"], value=good, key=b"real")
    assert producer.flush(60) == 0
    ingest = Process("ingest", env, tmp_path)
    ingest.start()
    try:
        dead = _read_topic(
            kafka_bootstrap, env["DMDT_DEAD_LETTER_TOPIC"], lambda m: len(m) >= len(hostile)
        )
        reasons = {m.key().decode(): dict(m.headers())["dmdt.reason"].decode() for m in dead}
        assert set(reasons) == set(hostile)
        assert "arrays claim more items than bytes are left" in reasons["null-array"]
        assert "a block claims 400000 records in 0 bytes" in reasons["empty-records"]
        assert "opens more than 50000 rows" in reasons["history-rows"]
        assert "not an Avro container" in reasons["huge"]
        assert "4300000 characters (at most 64)" in reasons["long-id"]
        huge = next(m for m in dead if m.key() == b"huge")
        assert dict(huge.headers())["dmdt.size"] == str(len(hostile["huge"])).encode()
        store = ObjectStore(redis_client, GRID)
        ids = [decode_alerts(value)[0].object_id for value in real.values()]
        _wait(lambda: all(store.load(oid) for oid in ids), "every real alert stored", tmp_path)
        assert ingest.process.poll() is None  # survived all of them
        ingest.process.send_signal(signal.SIGTERM)
        ingest.process.wait(60)
        assert ingest.process.returncode == 0
        assert "SIGTERM: stopping" in ingest.log.read_text()
    finally:
        ingest.stop()
