"""``dmdt ingest`` and ``dmdt worker``: each builds its parts from :class:`Settings`, logs the
effective settings, serves Prometheus metrics when ``DMDT_METRICS_PORT`` is set, and runs
until SIGINT or SIGTERM, then stops cleanly (commits, flushes, leaves the consumer group)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer
from prometheus_client import start_http_server
from tqdm import tqdm

from classifier.bundle import ModelBundle
from classifier.registry import find_bundle
from services.cli.predict import light_curve_files
from services.settings import Settings
from sources.replay import producer_config, replay, survey_messages
from stream.consumer import AlertIngest, consumer_config
from stream.kafka import ensure_topics
from stream.scoring_queue import ScoringQueue
from stream.store import ObjectStore

log = logging.getLogger("dmdt")


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _start(settings: Settings, what: str) -> tuple[ModelBundle, redis.Redis]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log.info("%s settings: %s", what, settings.describe())
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.api_host)
        log.info("%s metrics on :%d/metrics", what, settings.metrics_port)
    return find_bundle(settings.model, settings.models_dir), redis.Redis.from_url(
        settings.redis_url
    )


def build_ingest(settings: Settings, bundle: ModelBundle, client: redis.Redis) -> AlertIngest:
    ensure_topics(settings.kafka_bootstrap, [settings.alert_topic, settings.dead_letter_topic])
    return AlertIngest(
        consumer=Consumer(
            consumer_config(
                settings.kafka_bootstrap, settings.consumer_group, settings.fetch_wait_ms
            )
        ),
        dead_letters=Producer(producer_config(settings.kafka_bootstrap)),
        store=ObjectStore(client, bundle.grid, settings.max_points_per_band),
        queue=ScoringQueue(client),
        topic=settings.alert_topic,
        dead_letter_topic=settings.dead_letter_topic,
        magnitude=settings.magnitude,
        batch_size=settings.ingest_batch,
    )


def build_worker(settings: Settings, bundle: ModelBundle, client: redis.Redis):
    from classifier.inference import OnnxClassifier  # noqa: PLC0415 (onnxruntime loads slowly)
    from stream.worker import ScoringWorker  # noqa: PLC0415

    ensure_topics(settings.kafka_bootstrap, [settings.results_topic])
    return ScoringWorker(
        store=ObjectStore(client, bundle.grid),
        queue=ScoringQueue(client),
        model=OnnxClassifier(bundle),
        producer=Producer(producer_config(settings.kafka_bootstrap)),
        results_topic=settings.results_topic,
        max_batch=settings.worker_max_batch,
        max_wait_s=settings.worker_max_wait_ms / 1000.0,
        min_points=settings.min_points,
        expect_gpu=settings.expect_gpu,
        claim_lease_s=settings.claim_lease_s,
    )


def ingest_main(settings: Settings) -> None:
    stop = stop_on_signals()
    bundle, client = _start(settings, "ingest")
    build_ingest(settings, bundle, client).run(stop)


def worker_main(settings: Settings) -> None:
    stop = stop_on_signals()
    bundle, client = _start(settings, "worker")
    build_worker(settings, bundle, client).run(stop)


def replay_main(
    settings: Settings,
    paths: list[Path],
    topic: str | None,
    rate: float | None,
    bootstrap: str | None,
) -> None:
    """``dmdt replay``: files and folders (recursively) to the alert topic, with progress."""
    files = list(light_curve_files(paths))
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: no such file")
    bootstrap = bootstrap or settings.kafka_bootstrap
    topic = topic or settings.alert_topic
    ensure_topics(bootstrap, [topic])
    messages = list(survey_messages(files))
    with tqdm(total=len(messages), desc=f"replay to {topic}", unit="alert") as bar:
        sent = replay(
            Producer(producer_config(bootstrap)),
            topic,
            messages,
            rate,
            on_sent=lambda n: bar.update(n - bar.n),
        )
    print(f"{sent} alerts sent to {topic} at {bootstrap}")
