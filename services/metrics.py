"""Prometheus metrics of the worker and the API (names ``dmdt_*``, seconds as the unit)."""

from prometheus_client import Counter, Gauge, Histogram

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
OBJECTS_SKIPPED = Counter(
    "dmdt_objects_skipped_total", "objects taken but not scored, by reason", ["reason"]
)
QUEUE_DEPTH = Gauge("dmdt_worker_queue_depth", "objects waiting to be scored")
ONNX_PROVIDER = Gauge(
    "dmdt_onnx_provider_info",
    "1 for the ONNX Runtime execution provider really in use",
    ["model", "provider"],
)
EXPECTS_GPU = Gauge("dmdt_expects_gpu", "1 where DMDT_EXPECT_GPU says ONNX should run on CUDA")
API_LATENCY = Histogram(
    "dmdt_api_request_seconds",
    "HTTP request handling time, by route and status",
    ["method", "route", "status"],
    buckets=(*_COMPUTE_BUCKETS, 2.5, 5.0),
)
