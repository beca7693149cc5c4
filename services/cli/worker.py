"""``dmdt worker``: the inference worker (:class:`stream.worker.ScoringWorker`), built from
the ``DMDT_*`` settings and run on the stream lifecycle until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from services.settings import Settings

if TYPE_CHECKING:  # Kafka and ONNX Runtime load only when this command runs
    from classifier.bundle import ModelBundle
    from stream.redis_client import RedisClient
    from stream.worker import ScoringWorker


def build_worker(settings: Settings, bundle: ModelBundle, client: RedisClient) -> ScoringWorker:
    from confluent_kafka import Producer  # noqa: PLC0415

    from classifier.inference import OnnxClassifier  # noqa: PLC0415
    from stream.kafka import ensure_topics, producer_config  # noqa: PLC0415
    from stream.rescoring import RescoringPolicy  # noqa: PLC0415
    from stream.scoring_queue import ScoringQueue  # noqa: PLC0415
    from stream.store import ObjectStore  # noqa: PLC0415
    from stream.worker import ScoringWorker  # noqa: PLC0415

    ensure_topics(settings.kafka_bootstrap, [settings.results_topic])
    return ScoringWorker(
        store=ObjectStore(client, bundle.grid),
        queue=ScoringQueue(client, settings.queue_shards),
        model=OnnxClassifier(bundle),
        producer=Producer(producer_config(settings.kafka_bootstrap)),
        results_topic=settings.results_topic,
        max_batch=settings.worker_max_batch,
        max_wait_s=settings.worker_max_wait_ms / 1000.0,
        min_points=settings.min_points,
        expect_gpu=settings.expect_gpu,
        claim_lease_s=settings.claim_lease_s,
        policy=RescoringPolicy(
            settings.rescore_min_new_points,
            settings.rescore_min_interval_s,
            settings.rescore_max_delay_s,
        ),
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("worker", help="the inference worker (DMDT_* settings)")


def run(_args: argparse.Namespace) -> None:
    from services.cli.process import start, stop_on_signals  # noqa: PLC0415
    from stream import lifecycle  # noqa: PLC0415

    settings = Settings()
    stop = stop_on_signals()
    bundle, client = start(settings, "worker")
    lifecycle.run(build_worker(settings, bundle, client), stop)
