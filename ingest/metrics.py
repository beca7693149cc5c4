"""Prometheus metrics of the ingest process (names ``dmdt_*``, seconds as the unit)."""

from prometheus_client import Counter, Gauge, Histogram

ALERTS_CONSUMED = Counter("dmdt_alerts_consumed_total", "Kafka messages read from the alert topic")
ALERTS_STORED = Counter(
    "dmdt_alerts_stored_total", "alerts whose points are safe in Redis (new or already known)"
)
ALERTS_FAILED = Counter(
    "dmdt_alerts_failed_total", "messages that could not be ingested, by reason", ["reason"]
)
DEAD_LETTERS = Counter("dmdt_dead_letters_total", "messages sent to the dead-letter topic")
POINTS_STORED = Counter("dmdt_points_stored_total", "new detections stored, by band", ["band"])
POINTS_DROPPED = Counter(
    "dmdt_points_dropped_total", "detections not stored: their band is at its cap", ["band"]
)
CONSUMER_LAG = Gauge("dmdt_consumer_lag", "messages behind the end of the assigned partitions")
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
