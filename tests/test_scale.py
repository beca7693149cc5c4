"""Scale-out on real servers started by the test: a 6-partition alert topic read by three
``dmdt ingest`` processes in one consumer group, two ``dmdt worker`` processes, all on a
3-master Valkey Cluster with the scoring queue in 6 shards; one ingest is SIGKILLed and
another joins mid-stream (two rebalances). Every object's counts equal a batch recomputation
from every alert sent, and every object is scored at its final version."""

from __future__ import annotations

import time

import numpy as np
from redis.cluster import RedisCluster
from test_faults import (
    GRID,
    Process,
    Sender,
    _assert_exact,
    _expected,
    _scored,
    _wait,
    stream_env,
)

from services.devtools.demo import SAMPLES
from sources.replay import survey_messages
from stream.kafka import ensure_topics, producer_config
from stream.redis_client import connect
from stream.store import ObjectStore

PARTITIONS = 6


def _complete_all(store: ObjectStore, expected: dict) -> bool:
    stored = store.load_many(list(expected))
    return all(s.bands and s.bands["r"].n_points == expected[s.object_id][0] for s in stored)


def _points(store: ObjectStore, expected: dict) -> int:
    return sum(acc.n_points for s in store.load_many(list(expected)) for acc in s.bands.values())


def _assignments(process: Process) -> list[str]:
    """What the process was given at each rebalance, from its log."""
    marker = "partitions assigned: "
    lines = process.log.read_text().splitlines()
    return [line.split(marker, 1)[1] for line in lines if marker in line]


def test_three_ingests_two_workers_six_partitions_on_a_cluster_lose_nothing(
    kafka_bootstrap, valkey_cluster, samples, tmp_path
):
    from confluent_kafka import Producer  # noqa: PLC0415

    client = connect(valkey_cluster.url, cluster=True)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    env = stream_env(
        kafka_bootstrap,
        valkey_cluster.url,
        DMDT_REDIS_CLUSTER="true",
        DMDT_QUEUE_SHARDS="6",
        DMDT_INGEST_BATCH="50",
    )
    ensure_topics(kafka_bootstrap, [env["DMDT_ALERT_TOPIC"]], partitions=PARTITIONS)
    ensure_topics(kafka_bootstrap, [env["DMDT_RESULTS_TOPIC"]])
    curves = sorted(SAMPLES.glob("css_*.csv"))
    messages = list(survey_messages(curves))
    expected = _expected(messages)
    ingests = [Process("ingest", env, tmp_path, f"ingest{k}") for k in range(3)]
    workers = [Process("worker", env, tmp_path, f"worker{k}") for k in range(2)]
    for process in [*ingests, *workers]:
        process.start()
    store = ObjectStore(client, GRID)
    producer = Producer(producer_config(kafka_bootstrap))
    thirds = [list(part) for part in np.array_split(np.arange(len(messages)), 3)]
    started = time.monotonic()
    try:
        Sender(producer, env["DMDT_ALERT_TOPIC"], [messages[i] for i in thirds[0]]).run()
        _wait(lambda: _points(store, expected) > 0, "the stream flowing", tmp_path)
        ingests[0].kill()  # SIGKILL: its partitions go to the others after the session ends
        Sender(producer, env["DMDT_ALERT_TOPIC"], [messages[i] for i in thirds[1]]).run()
        joining = Process("ingest", env, tmp_path, "ingest3")
        joining.start()  # a member joins: partitions move again
        ingests.append(joining)
        _wait(lambda: _assignments(joining), "the new member given partitions", tmp_path)
        Sender(producer, env["DMDT_ALERT_TOPIC"], [messages[i] for i in thirds[2]]).run()
        _wait(lambda: _complete_all(store, expected), "every point stored", tmp_path)
        _wait(lambda: _scored(store, expected), "every object scored", tmp_path)
        elapsed = time.monotonic() - started
        fault = (
            f"3 ingests (1 SIGKILLed, 1 joining) + 2 workers, {PARTITIONS} partitions, "
            f"3-master Valkey Cluster, 6 queue shards ({elapsed:.0f} s)"
        )
        _assert_exact(store, expected, fault, len(messages))
        assert all(p.process.poll() is None for p in [*ingests[1:], *workers])  # survived
        assigned = {p.name: _assignments(p) for p in ingests}
        assert assigned["ingest3"] and assigned["ingest3"][-1] != "none", assigned  # it got work
        assert all(len(assigned[name]) >= 2 for name in ("ingest1", "ingest2")), assigned
    finally:
        for process in [*ingests, *workers]:
            if process.process is not None and process.process.poll() is None:
                process.stop()
