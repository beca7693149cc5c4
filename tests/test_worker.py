"""The worker's lifecycle with fakes (unit tests; the stream tests run it on real servers):
claims are acknowledged only once the broker has taken every result, and Redis is written
only after that, so an undelivered result is produced again, never lost."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import redis
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import REGISTRY

from classifier.accumulator import DmDtAccumulator
from classifier.model_input import accumulator_inputs
from stream import lifecycle, metrics
from stream.rescoring import LastScoring, RescoringPolicy
from stream.results import StreamResult
from stream.scoring_queue import QueueState
from stream.store import StoredObject
from stream.worker import ScoringWorker

ROOT = Path(__file__).resolve().parents[1]
BATCH = [("ZTFa", 1_700_000_000.0), ("ZTFb", 1_700_000_001.0)]


class FakeStore:
    def __init__(self, grid) -> None:
        self.grid = grid
        self.saved: list = []
        self.background_sums: list = []
        rng = np.random.default_rng(7)
        self.objects = {}
        for oid, _ in BATCH:
            acc = DmDtAccumulator(grid)
            t = np.sort(rng.uniform(58000, 59000, 60))
            acc.add_many(t, 15 + 0.3 * np.sin(t), np.full(60, 0.02))
            self.objects[oid] = StoredObject(oid, 3, {"r": acc})

    def load_many(self, ids, for_scoring=False):
        assert for_scoring, "the worker reads what it scores from in one go"
        lasts = {
            r.object_id: LastScoring(r.data_version, r.scored_at, sum(r.points_per_band.values()))
            for r in self.saved
        }
        return [
            replace(self.objects[oid], last_scoring=lasts.get(oid), coarse_passes=self._passes(oid))
            for oid in ids
        ]

    def _passes(self, oid):
        return {}

    def save_results(self, bodies, scored_at):
        self.saved.extend(StreamResult.model_validate_json(body) for body in bodies.values())
        return []

    def add_to_survey_backgrounds(self, sums):
        assert sums, "an empty flush is not a round trip"
        self.background_sums.append(dict(sums))


class FakeQueue:
    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop
        self.pending = list(BATCH)
        self.acknowledged: list[str] = []
        self.released: list = []

    def pop_batch(self, max_size, max_wait_s, block_s):
        if self.stop is not None:
            self.stop.set()  # one batch, then the loop ends
        taken, self.pending = self.pending, []
        return taken

    def acknowledge(self, ids):
        self.acknowledged.extend(ids)

    def release(self, claims):
        self.released.extend(claims)

    def defer(self, items):
        self.deferred_items = list(items)

    def requeue_expired(self, lease_s):
        return 0

    def state(self):
        return QueueState(
            len(self.pending),
            len(getattr(self, "deferred_items", [])),
            min((t for _, t in self.pending), default=None),
        )


class FakeProducer:
    """``left``: messages flush() reports still undelivered; ``refuse``: the error each
    delivery report carries (None: delivered)."""

    def __init__(self, left: int = 0, refuse: str | None = None) -> None:
        self.left, self.refuse = left, refuse
        self.produced: list = []
        self._reports: list = []

    def produce(self, topic, value, key, headers, on_delivery):
        self.produced.append((topic, key, value))
        self._reports.append(on_delivery)

    def poll(self, timeout):
        return 0

    def flush(self, timeout):
        for report in self._reports:
            report(self.refuse, None)
        self._reports.clear()
        return self.left


def _worker(model, producer, stop=None):
    store, queue = FakeStore(model.bundle.grid), FakeQueue(stop)
    return ScoringWorker(store, queue, model, producer, "results", min_points=10), store, queue


@pytest.mark.parametrize(
    "producer",
    [FakeProducer(left=1), FakeProducer(refuse="Broker: Message size too large")],
    ids=["unacknowledged", "refused"],
)
def test_a_result_the_broker_did_not_take_is_not_acknowledged(model, producer):
    stop = threading.Event()
    worker, store, queue = _worker(model, producer, stop)
    lifecycle.run(worker, stop, pause_s=0)
    assert len(producer.produced) == 2  # the fault happened: both were sent, not both taken
    assert queue.acknowledged == []
    assert sorted(queue.released) == BATCH  # back in the queue at once
    assert store.saved == []  # Redis not written: the next claim scores and produces again


def _answers() -> dict[tuple[str, str], float]:
    """``dmdt_answers_total`` by (label, unknown) as the worker's registry holds it now."""
    return {
        (sample.labels["label"], sample.labels["unknown"]): sample.value
        for family in REGISTRY.collect()
        if family.name == "dmdt_answers"
        for sample in family.samples
        if sample.name == "dmdt_answers_total"
    }


def test_a_delivered_batch_is_written_then_acknowledged(model):
    producer = FakeProducer()
    worker, store, queue = _worker(model, producer)
    before = _answers()
    results = lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)
    counted = {key: value - before.get(key, 0.0) for key, value in _answers().items()}
    answered = [(r.label, str(r.unknown).lower()) for r in results]
    assert {key: n for key, n in counted.items() if n} == {
        key: float(answered.count(key)) for key in set(answered)
    }
    assert [r.object_id for r in results] == ["ZTFa", "ZTFb"]
    assert [key for _, key, _ in producer.produced] == ["ZTFa", "ZTFb"]
    assert store.saved == results and sorted(queue.acknowledged) == ["ZTFa", "ZTFb"]
    assert all(r.n_points == 60 and r.band == "r" and r.data_version == 3 for r in results)


def test_the_scored_images_join_their_surveys_background_once_flushed(model):
    worker, store, queue = _worker(model, FakeProducer())
    lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)
    assert store.background_sums == []  # kept until the flush
    scored_again = lifecycle.run_once(worker, BATCH, pause_s=0)  # already scored: nothing kept
    worker.flush_survey_backgrounds()
    worker.flush_survey_backgrounds()  # nothing left: nothing added
    ((key, (total, k, weight)),) = store.background_sums[0].items()
    assert key == ("ztf", "r") and k == 2 and weight == 2
    accumulators = [store.objects[oid].bands["r"] for oid, _ in BATCH]
    images = accumulator_inputs(accumulators, None)["image"][:, 0]
    np.testing.assert_allclose(total, images.sum(axis=0), rtol=1e-6)
    assert scored_again == [] and len(store.background_sums) == 1


def test_a_worker_closing_with_redis_down_logs_its_lost_background_images(model, caplog):
    worker, store, queue = _worker(model, FakeProducer())
    lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)

    def down(sums):
        raise redis.ConnectionError("Connection refused")

    store.add_to_survey_backgrounds = down
    worker.close()
    assert "the last survey background images were not added: Connection refused" in caplog.text


class SizeLimitedProducer(FakeProducer):
    """Refuses at produce(), as librdkafka does, the result of one object (too large)."""

    def __init__(self, too_large: str) -> None:
        super().__init__()
        self.too_large = too_large

    def produce(self, topic, value, key, headers, on_delivery):
        if key == self.too_large:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        super().produce(topic, value, key, headers, on_delivery)


def test_an_object_whose_result_is_refused_is_set_aside_and_the_others_are_scored(model):
    """Before: produce() raised, the worker exited, and on restart claimed the same object
    and exited again; the other objects of the batch never got a result."""
    stop = threading.Event()
    producer = SizeLimitedProducer(too_large="ZTFa")
    worker, store, queue = _worker(model, producer, stop)
    failed = metrics.OBJECTS_SKIPPED.labels("failed")
    before = failed._value.get()
    lifecycle.run(worker, stop, pause_s=0)  # returns: nothing escaped the loop
    assert [r.object_id for r in store.saved] == ["ZTFb"]
    assert [key for _, key, _ in producer.produced] == ["ZTFb"]
    assert sorted(queue.acknowledged) == ["ZTFa", "ZTFa", "ZTFb"]  # set aside, then committed
    assert queue.released == [] and failed._value.get() == before + 1


def test_the_rescoring_policy_defers_an_object_with_too_few_new_points(model):
    producer = FakeProducer()
    store, queue = FakeStore(model.bundle.grid), FakeQueue()
    policy = RescoringPolicy(min_new_points=5, min_interval_s=0.0, max_delay_s=600.0)
    worker = ScoringWorker(store, queue, model, producer, "results", min_points=10, policy=policy)
    first = lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)
    assert len(first) == 2  # never scored: scored
    a = store.objects["ZTFa"]
    a.bands["r"].add_many([59500.0, 59501.0], [15.1, 15.2])  # 2 new points
    b = store.objects["ZTFb"]
    b.bands["r"].add_many([59500.0 + i for i in range(5)], [15.0] * 5)  # 5 new points
    store.objects = {oid: StoredObject(oid, 4, s.bands) for oid, s in store.objects.items()}
    now = time.time()  # the alerts have just come
    again = lifecycle.run_once(worker, [("ZTFa", now), ("ZTFb", now)], pause_s=0)
    assert [r.object_id for r in again] == ["ZTFb"]
    ((oid, since, due),) = queue.deferred_items
    assert (oid, since, due) == ("ZTFa", now, now + 600.0)  # due by the delay bound


class PassKeepingStore(FakeStore):
    """Keeps the coarse periodogram passes as the Redis store does (bytes per band)."""

    def __init__(self, grid) -> None:
        super().__init__(grid)
        self.passes: dict = {}

    def _passes(self, oid):
        return {band: self.passes.get((oid, band)) for band in self.objects[oid].bands}

    def keep_coarse_passes(self, passes):
        self.passes.update(passes)


def _grow(store, points: int, version: int) -> None:
    for stored in store.objects.values():
        t = stored.bands["r"].light_curve().t[-1] + 1.0 + np.arange(points)
        stored.bands["r"].add_many(t, 15 + 0.3 * np.sin(t), np.full(points, 0.02))
    store.objects = {oid: StoredObject(oid, version, s.bands) for oid, s in store.objects.items()}


def test_a_growing_band_reuses_its_coarse_periodogram_pass_until_it_grew_a_tenth():
    from classifier.inference import OnnxClassifier  # noqa: PLC0415
    from classifier.registry import find_bundle  # noqa: PLC0415

    refined = OnnxClassifier(find_bundle(str(ROOT / "reports" / "survey-aware-eros-2.0.0")))
    assert refined.bundle.periodogram == "refined"
    store, queue = PassKeepingStore(refined.bundle.grid), FakeQueue()
    worker = ScoringWorker(store, queue, refined, FakeProducer(), "results", min_points=10)
    passes = metrics.PERIODOGRAM_PASSES
    computed, reused = passes.labels("computed"), passes.labels("reused")
    before = computed._value.get(), reused._value.get()
    lifecycle.run_once(worker, queue.pop_batch(64, 0, 0), pause_s=0)
    assert sorted(store.passes) == [("ZTFa", "r"), ("ZTFb", "r")]
    assert computed._value.get() == before[0] + 2
    _grow(store, 40, version=4)  # 60 -> 100 points: computed again
    lifecycle.run_once(worker, BATCH, pause_s=0)
    hundred = dict(store.passes)
    assert computed._value.get() == before[0] + 4
    _grow(store, 10, version=5)  # 110 points: within a tenth, the pass is reused
    lifecycle.run_once(worker, BATCH, pause_s=0)
    assert store.passes == hundred and reused._value.get() == before[1] + 2
    _grow(store, 2, version=6)  # 112: more than a tenth over 100, computed again
    lifecycle.run_once(worker, BATCH, pause_s=0)
    assert store.passes != hundred and computed._value.get() == before[0] + 6
    assert [r.data_version for r in store.saved] == [3, 3, 4, 4, 5, 5, 6, 6]
