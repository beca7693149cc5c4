"""Prometheus metrics of the stream: ingest and worker (names ``dmdt_*``, seconds as the unit)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from classifier.inference import OnnxClassifier

log = logging.getLogger("dmdt.provider")

ALERTS_CONSUMED = Counter("dmdt_alerts_consumed_total", "Kafka messages read from the alert topics")
ALERTS_STORED = Counter(
    "dmdt_alerts_stored_total", "alerts whose points are safe in Redis (new or already known)"
)
ALERTS_FAILED = Counter(
    "dmdt_alerts_failed_total", "messages that could not be ingested, by reason", ["reason"]
)
DEAD_LETTERS = Counter("dmdt_dead_letters_total", "messages sent to the dead-letter topic")
POINTS_STORED = Counter("dmdt_points_stored_total", "new detections stored, by band", ["band"])
POINTS_SKIPPED = Counter(
    "dmdt_points_skipped_total",
    "points of a decoded alert not usable as magnitudes (missing or non-positive flux...)",
    ["survey", "reason"],
)
ALERTS_SKIPPED = Counter(
    "dmdt_alerts_skipped_total",
    "decoded alerts with nothing to store for a known reason (solar-system sources)",
    ["survey", "reason"],
)
POINTS_DROPPED = Counter(
    "dmdt_points_dropped_total", "detections not stored: their band is at its cap", ["band"]
)
CONSUMER_LAG = Gauge("dmdt_consumer_lag", "messages behind the end of the assigned partitions")
STEP_FAILURES = Counter(
    "dmdt_stream_failures_total",
    "batches of a stream step left to be done again, by step and failing infrastructure",
    ["step", "reason"],
)
STEP_REJECTED = Counter(
    "dmdt_stream_rejected_total",
    "items that failed on their own and were set aside (ingest: dead-lettered; worker: "
    "claim dropped), by step",
    ["step"],
)
INGEST_BATCH_SECONDS = Histogram(
    "dmdt_ingest_batch_seconds",
    "time to decode, store and queue one batch of messages",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
INGEST_BATCH_SIZE = Histogram(
    "dmdt_ingest_batch_size",
    "messages handled together",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_COMPUTE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
ALERT_TO_RESULT = Histogram(
    "dmdt_alert_to_classification_seconds",
    "from the alert's Kafka timestamp to its object's result in Redis and on the results topic",
    buckets=_LATENCY_BUCKETS,
)
QUEUE_SECONDS = Histogram(
    "dmdt_worker_queue_seconds",
    "from the alert's Kafka timestamp until the worker took its object",
    buckets=_LATENCY_BUCKETS,
)
COMPUTE_SECONDS = Histogram(
    "dmdt_worker_compute_seconds",
    "one batch: load counts, build inputs, run the model, write results",
    buckets=_COMPUTE_BUCKETS,
)
BATCH_SIZE = Histogram(
    "dmdt_worker_batch_size",
    "objects scored in one ONNX run",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
OBJECTS_SCORED = Counter("dmdt_objects_scored_total", "classifications written")
ANSWERS = Counter(
    "dmdt_answers_total",
    "classifications written, by the class answered ('other': none of the periodic classes) "
    "and whether flagged unknown (top probability under the card's threshold)",
    ["label", "unknown"],
)
OBJECTS_SKIPPED = Counter(
    "dmdt_objects_skipped_total", "objects taken but not scored, by reason", ["reason"]
)
SURVEY_BACKGROUND_IMAGES = Counter(
    "dmdt_survey_background_images_total",
    "scored images added to each survey and band's cadence background",
    ["survey", "band"],
)
PERIODOGRAM_PASSES = Counter(
    "dmdt_periodogram_passes_total",
    "coarse periodogram passes of scored bands: computed, or reused from the last scoring",
    ["outcome"],
)
RESULTS_SUPERSEDED = Counter(
    "dmdt_results_superseded_total",
    "results not written to Redis: another worker had scored a newer version of the object",
)
QUEUE_DEPTH = Gauge("dmdt_worker_queue_depth", "objects waiting to be scored")
DEFERRED = Gauge("dmdt_worker_deferred", "objects the rescoring policy holds back")
OBJECTS_DEFERRED = Counter(
    "dmdt_objects_deferred_total", "claimed objects the rescoring policy deferred"
)
OLDEST_UNSCORED = Gauge(
    "dmdt_oldest_unscored_alert_seconds",
    "staleness: age of the oldest alert no classification reflects yet (queued or deferred)",
)
ONNX_PROVIDER = Gauge(
    "dmdt_onnx_provider_info",
    "1 for the ONNX Runtime execution provider really in use",
    ["model", "provider"],
)
EXPECTS_GPU = Gauge("dmdt_expects_gpu", "1 where DMDT_EXPECT_GPU says ONNX should run on CUDA")


def report_provider(model: OnnxClassifier, expect_gpu: bool) -> None:
    """Log and export the execution provider really in use; warn on a CPU fallback."""
    ONNX_PROVIDER.labels(model.bundle.name, model.provider).set(1)
    EXPECTS_GPU.set(1 if expect_gpu else 0)
    log.info("model %s on %s", model.bundle.name, model.provider)
    if expect_gpu and model.provider != "CUDAExecutionProvider":
        log.warning(
            "model %s fell back to %s on a host meant for CUDA", model.bundle.name, model.provider
        )
