"""The inference worker, a :class:`stream.lifecycle.Step`: queued objects -> micro-batches ->
ONNX Runtime -> results.

One batch: claim up to ``max_batch`` objects (waiting at most ``max_wait`` after the first,
like Triton's dynamic batcher); read their stored counts, latest scorings and coarse
periodogram passes (two round trips for the batch); skip objects already scored at their
current version (a redelivered alert re-queues an unchanged object); defer the objects the
rescoring policy (:mod:`stream.rescoring`) does not score yet; choose the band to score
(:func:`classifier.selection.scoring_band`); build model inputs from the stored counts with the
card's edges and normalisation (no pair is re-binned), the refined periodogram reusing each
band's last coarse pass while the band grows by at most a tenth (a
:class:`classifier.periodogram.CoarsePass`, kept in Redis beside the object); run the model
once; produce each result as JSON to the results topic, keyed by object id, and wait until
the broker has taken them all; then write them to Redis, and keep the scored images for
their survey and band's cadence background (:mod:`classifier.survey_background`); only then
acknowledge the claims. The kept images are added to the stored backgrounds every
``SURVEY_BACKGROUND_FLUSH_S`` (one script call a survey and band, instead of one a batch),
at most once: a worker that dies, or fails to write them, loses at most that long's images
from a mean over tens of thousands. A
batch whose results were not delivered, or not written, goes back to the queue, and a worker
killed mid-batch leaves its claims to be queued again when their lease expires. An object
that fails on its own is set aside (:meth:`ScoringWorker.reject`) and the rest of its batch
is scored.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import redis

from classifier.inference import OnnxClassifier
from classifier.model_input import accumulator_inputs
from classifier.periodogram import CoarsePass
from classifier.selection import scoring_band
from classifier.survey_background import PendingImages
from classifier.verdict import verdicts
from stream import metrics
from stream.decoders import survey_of
from stream.defaults import (
    CLAIM_LEASE_S,
    SURVEY_BACKGROUND_FLUSH_S,
    WORKER_MAX_BATCH,
    WORKER_MAX_WAIT_MS,
)
from stream.delivery import Delivery, KafkaProducer
from stream.rescoring import RescoringPolicy
from stream.results import StreamResult
from stream.scoring_queue import ScoringQueue
from stream.store import ObjectStore, StoredObject

log = logging.getLogger("dmdt.worker")
LEASE_CHECK_S = 10.0

Claims = list[tuple[str, float]]  # (object id, oldest unscored alert time)


class ScoringWorker:
    name = "worker"

    def __init__(
        self,
        store: ObjectStore,
        queue: ScoringQueue,
        model: OnnxClassifier,
        producer: KafkaProducer | None,
        results_topic: str,
        max_batch: int = WORKER_MAX_BATCH,
        max_wait_s: float = WORKER_MAX_WAIT_MS / 1000.0,
        min_points: int | None = None,
        expect_gpu: bool = False,
        claim_lease_s: float = CLAIM_LEASE_S,
        policy: RescoringPolicy | None = None,
    ) -> None:
        if store.grid.fingerprint != model.bundle.grid.fingerprint:
            raise ValueError(f"the store's grid is not the grid of model {model.bundle.name}")
        self.store = store
        self.queue = queue
        self.model = model
        self.results = None if producer is None else Delivery(producer)
        self.results_topic = results_topic
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.min_points = min_points or model.bundle.card.min_points
        self.claim_lease_s = claim_lease_s
        self.policy = policy or RescoringPolicy()
        self._lease_checked = 0.0
        self._images = PendingImages()
        self._images_flushed = time.monotonic()
        metrics.report_provider(model, expect_gpu)

    def take(self) -> Claims | None:
        return self.queue.pop_batch(self.max_batch, self.max_wait_s, block_s=0.5) or None

    def commit(self, batch: Claims) -> None:
        """The results are delivered and written: drop the claims."""
        self.queue.acknowledge(oid for oid, _ in batch)

    def retry(self, batch: Claims, reason: str) -> None:
        """Put the claims back in the queue now (if Redis is down, their lease will)."""
        self.queue.release(batch)

    def reject(self, item: tuple[str, float], reason: str) -> None:
        """An object that fails on its own (its result refused by the broker, its stored
        state unreadable): its claim is dropped, so it cannot stop the others; a later alert
        of the object queues it again."""
        metrics.OBJECTS_SKIPPED.labels("failed").inc()
        log.error("object %s not scored: %s", item[0][:64], reason)
        self.queue.acknowledge([item[0]])

    def housekeeping(self) -> None:
        """Claims a dead worker left behind for longer than the lease go back to the queue
        (checked every ``LEASE_CHECK_S``); the kept images go to the survey backgrounds
        when due; the queue's state is exported."""
        if time.monotonic() - self._images_flushed >= SURVEY_BACKGROUND_FLUSH_S:
            self.flush_survey_backgrounds()
        if time.monotonic() - self._lease_checked > min(LEASE_CHECK_S, self.claim_lease_s):
            if requeued := self.queue.requeue_expired(self.claim_lease_s):
                log.warning("%d objects claimed by a dead worker queued again", requeued)
            self._lease_checked = time.monotonic()
        state = self.queue.state()
        metrics.QUEUE_DEPTH.set(state.waiting)
        metrics.DEFERRED.set(state.deferred)
        oldest = state.oldest_alert_time
        metrics.OLDEST_UNSCORED.set(0.0 if oldest is None else max(0.0, time.time() - oldest))

    def close(self) -> None:
        if self.results is not None:
            self.results.producer.flush(10)
        try:
            self.flush_survey_backgrounds()
        except redis.RedisError as error:  # stopping anyway: the images are lost, not retried
            log.warning("the last survey background images were not added: %s", error)

    def flush_survey_backgrounds(self) -> None:
        """Add the kept images to their survey backgrounds, in one round trip; they are
        dropped from memory first, so none is added twice."""
        self._images_flushed = time.monotonic()
        sums = self._images.take()
        if not sums:
            return
        self.store.add_to_survey_backgrounds(sums)
        for (survey, band), added in sums.items():
            metrics.SURVEY_BACKGROUND_IMAGES.labels(survey, band).inc(added.images)

    def process(self, batch: Claims) -> list[StreamResult]:
        """Score a claimed batch of (object id, oldest alert time); returns the new results,
        delivered to the results topic and written to Redis."""
        started = time.time()
        for _, alert_time in batch:
            metrics.QUEUE_SECONDS.observe(max(0.0, started - alert_time))
        alert_times = dict(batch)
        objects = self.store.load_many(list(alert_times), for_scoring=True)
        chosen = self._to_score(objects, alert_times, started)
        if not chosen:
            return []
        accumulators = [stored.bands[band] for stored, band in chosen]
        bundle = self.model.bundle
        passes = self._coarse_passes(chosen)
        kept = list(passes) if passes is not None else []
        inputs = accumulator_inputs(accumulators, bundle.feature_names, bundle.periodogram, passes)
        if passes is not None:
            self._keep_coarse_passes(chosen, kept, passes)
        answers = verdicts(self.model, inputs, [acc.n_points for acc in accumulators])
        now = time.time()
        results = [
            StreamResult.extended(
                verdict,
                object_id=stored.object_id,
                provider=self.model.provider,
                band=band,
                points_per_band={b: a.n_points for b, a in sorted(stored.bands.items())},
                data_version=stored.version,
                alert_time=alert_times[stored.object_id],
                scored_at=now,
            )
            for (stored, band), verdict in zip(chosen, answers, strict=True)
        ]
        self._publish(results)
        self._keep_for_survey_backgrounds(chosen, inputs["image"])
        done = time.time()
        metrics.COMPUTE_SECONDS.observe(done - started)
        metrics.BATCH_SIZE.observe(len(results))
        metrics.OBJECTS_SCORED.inc(len(results))
        for result in results:
            metrics.ALERT_TO_RESULT.observe(max(0.0, done - result.alert_time))
            metrics.ANSWERS.labels(result.label, str(result.unknown).lower()).inc()
        return results

    def _keep_for_survey_backgrounds(
        self, chosen: list[tuple[StoredObject, str]], images: np.ndarray
    ) -> None:
        """Keep the scored images for their survey and band's cadence background
        (:mod:`classifier.survey_background`), once the results are written: a batch
        scored again after a failure here finds its objects scored and adds nothing."""
        sums: dict[tuple[str, str], tuple[np.ndarray, int]] = {}
        for (stored, band), image in zip(chosen, images[:, 0], strict=True):
            key = (survey_of(stored.object_id), band)
            total, k = sums.get(key, (np.zeros(image.shape, dtype=np.float64), 0))
            sums[key] = (total + image, k + 1)
        for key, (total, k) in sums.items():
            self._images.add(key, total, k)

    def _coarse_passes(
        self, chosen: list[tuple[StoredObject, str]]
    ) -> list[CoarsePass | None] | None:
        """The chosen bands' last coarse periodogram passes, for a model that computes the
        refined periodogram (None for the others)."""
        bundle = self.model.bundle
        if bundle.periodogram != "refined" or not bundle.feature_names:
            return None
        blobs = [stored.coarse_passes.get(band) for stored, band in chosen]
        return [None if blob is None else CoarsePass.from_bytes(blob) for blob in blobs]

    def _keep_coarse_passes(
        self,
        chosen: list[tuple[StoredObject, str]],
        before: list[CoarsePass | None],
        after: list[CoarsePass | None],
    ) -> None:
        """Store the passes computed in this batch; count them and the reused ones."""
        computed = {
            (stored.object_id, band): new.to_bytes()
            for (stored, band), old, new in zip(chosen, before, after, strict=True)
            if new is not None and new is not old
        }
        self.store.keep_coarse_passes(computed)
        metrics.PERIODOGRAM_PASSES.labels("computed").inc(len(computed))
        reused = sum(new is not None and new is old for old, new in zip(before, after, strict=True))
        metrics.PERIODOGRAM_PASSES.labels("reused").inc(reused)

    def _to_score(
        self, objects: list[StoredObject], alert_times: dict[str, float], now: float
    ) -> list[tuple[StoredObject, str]]:
        """Each object not yet scored at its version and due by the policy, with the band
        to score; the objects not due yet are deferred."""
        chosen, deferred = [], []
        for stored in objects:
            oid = stored.object_id
            points = {b: a.n_points for b, a in stored.bands.items()}
            band = scoring_band(points, self.min_points)
            last = stored.last_scoring
            if last is not None and stored.version == last.version:
                metrics.OBJECTS_SKIPPED.labels("already_scored").inc()
            elif band is None:
                metrics.OBJECTS_SKIPPED.labels("too_few_points").inc()
            elif (
                due := self.policy.due_at(now, alert_times[oid], last, sum(points.values()))
            ) > now:
                deferred.append((oid, alert_times[oid], due))
            else:
                chosen.append((stored, band))
        if deferred:
            self.queue.defer(deferred)
            metrics.OBJECTS_DEFERRED.inc(len(deferred))
        return chosen

    def _publish(self, results: list[StreamResult]) -> None:
        """To the results topic first, delivery confirmed (DeliveryError otherwise), then to
        Redis: an object whose result Redis holds has had it delivered."""
        bodies = {result.object_id: result.model_dump_json() for result in results}
        if self.results is not None:
            for object_id, body in bodies.items():
                self.results.send(self.results_topic, key=object_id, value=body)
            self.results.confirm()
        superseded = self.store.save_results(bodies, results[0].scored_at)
        if superseded:  # delivered all the same: a result carries its data version
            metrics.RESULTS_SUPERSEDED.inc(len(superseded))
