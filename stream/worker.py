"""The inference worker: queued objects -> micro-batches -> ONNX Runtime -> results.

Lifecycle of one batch: claim up to ``max_batch`` objects (waiting at most ``max_wait`` after the
first, like Triton's dynamic batcher); read their stored counts; skip objects already scored
at their current version (a redelivered alert re-queues an unchanged object); choose the band
to score (:func:`stream.results.scoring_band`); build model inputs from the stored counts
with the card's edges and normalisation (no pair is re-binned); run the model once; write each
result to Redis and produce it as JSON to the results topic, keyed by object id; only then
acknowledge the claims (a worker killed mid-batch leaves them to be queued again).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence

import redis
from confluent_kafka import Producer

from classifier.inference import OnnxClassifier
from classifier.model_input import accumulator_inputs
from stream import metrics
from stream.results import StreamResult, scoring_band, verdicts
from stream.scoring_queue import ScoringQueue
from stream.store import ObjectStore, StoredObject, object_key

log = logging.getLogger("dmdt.worker")
CLAIM_LEASE_S = 60.0  # a batch takes well under a second; longer means its worker died
LEASE_CHECK_S = 10.0


class ScoringWorker:
    def __init__(
        self,
        store: ObjectStore,
        queue: ScoringQueue,
        model: OnnxClassifier,
        producer: Producer | None,
        results_topic: str,
        max_batch: int = 64,
        max_wait_s: float = 0.01,
        min_points: int | None = None,
        expect_gpu: bool = False,
        claim_lease_s: float = CLAIM_LEASE_S,
    ) -> None:
        if store.grid.fingerprint != model.bundle.grid.fingerprint:
            raise ValueError(f"the store's grid is not the grid of model {model.bundle.name}")
        self.store = store
        self.queue = queue
        self.model = model
        self.producer = producer
        self.results_topic = results_topic
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.min_points = min_points or model.bundle.card.min_points
        self.claim_lease_s = claim_lease_s
        metrics.report_provider(model, expect_gpu)

    def run(self, stop: threading.Event) -> None:
        """Claim, score, acknowledge until ``stop``; claims a dead worker left behind for
        longer than the lease go back to the queue (checked every ``LEASE_CHECK_S``)."""
        checked = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - checked > min(LEASE_CHECK_S, self.claim_lease_s):
                    if requeued := self.queue.requeue_expired(self.claim_lease_s):
                        log.warning("%d objects claimed by a dead worker queued again", requeued)
                    checked = time.monotonic()
                batch = self.queue.pop_batch(self.max_batch, self.max_wait_s, block_s=0.5)
                if batch:
                    self.score(batch)
                    self.queue.acknowledge(oid for oid, _ in batch)
                metrics.QUEUE_DEPTH.set(self.queue.depth())
            except (redis.ConnectionError, redis.TimeoutError) as error:
                log.warning("Redis unavailable (%s); retrying", error)
                time.sleep(1.0)
        if self.producer is not None:
            self.producer.flush(10)

    def score(self, batch: Sequence[tuple[str, float]]) -> list[StreamResult]:
        """Score a popped batch of (object id, oldest alert time); returns the new results."""
        started = time.time()
        for _, alert_time in batch:
            metrics.QUEUE_SECONDS.observe(max(0.0, started - alert_time))
        alert_times = dict(batch)
        objects = self.store.load_many(list(alert_times))
        scored_versions = self._scored_versions(list(alert_times))
        chosen: list[tuple[StoredObject, str]] = []
        for stored in objects:
            band = scoring_band({b: a.n_points for b, a in stored.bands.items()}, self.min_points)
            if stored.version == scored_versions.get(stored.object_id):
                metrics.OBJECTS_SKIPPED.labels("already_scored").inc()
            elif band is None:
                metrics.OBJECTS_SKIPPED.labels("too_few_points").inc()
            else:
                chosen.append((stored, band))
        if not chosen:
            return []
        inputs = accumulator_inputs(
            [stored.bands[band] for stored, band in chosen], self.model.bundle.uses_features
        )
        predictions = self.model.predict_inputs(inputs)
        now = time.time()
        results = [
            StreamResult(
                **verdict,
                object_id=stored.object_id,
                provider=self.model.provider,
                band=band,
                n_points=stored.bands[band].n_points,
                points_per_band={b: a.n_points for b, a in sorted(stored.bands.items())},
                data_version=stored.version,
                alert_time=alert_times[stored.object_id],
                scored_at=now,
            )
            for (stored, band), verdict in zip(
                chosen, verdicts(predictions, self.model.bundle.card), strict=True
            )
        ]
        self._publish(results)
        done = time.time()
        metrics.COMPUTE_SECONDS.observe(done - started)
        metrics.BATCH_SIZE.observe(len(results))
        metrics.OBJECTS_SCORED.inc(len(results))
        for result in results:
            metrics.ALERT_TO_RESULT.observe(max(0.0, done - result.alert_time))
        return results

    def _scored_versions(self, object_ids: list[str]) -> dict[str, int]:
        pipe = self.store.client.pipeline(transaction=False)
        for oid in object_ids:
            pipe.get(object_key(oid, "result"))
        versions = {}
        for oid, blob in zip(object_ids, pipe.execute(), strict=True):
            if blob is not None:
                versions[oid] = json.loads(blob)["data_version"]
        return versions

    def _publish(self, results: list[StreamResult]) -> None:
        pipe = self.store.client.pipeline(transaction=False)
        for result in results:
            body = result.model_dump_json()
            pipe.set(object_key(result.object_id, "result"), body)
            if self.producer is not None:
                self.producer.produce(self.results_topic, key=result.object_id, value=body)
        pipe.execute()
        if self.producer is not None:
            self.producer.flush(30)
