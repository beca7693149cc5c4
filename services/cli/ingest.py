"""``dmdt ingest``: the Kafka alert consumer (:class:`stream.consumer.AlertIngest`), built
from the ``DMDT_*`` settings and run on the stream lifecycle until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from services.settings import Settings

if TYPE_CHECKING:  # the Kafka client loads only when this command runs, not for every command
    import redis

    from classifier.bundle import ModelBundle
    from stream.consumer import AlertIngest


def build_ingest(settings: Settings, bundle: ModelBundle, client: redis.Redis) -> AlertIngest:
    from confluent_kafka import Consumer, Producer  # noqa: PLC0415

    from stream.consumer import AlertIngest  # noqa: PLC0415
    from stream.kafka import consumer_config, ensure_topics, producer_config  # noqa: PLC0415
    from stream.scoring_queue import ScoringQueue  # noqa: PLC0415
    from stream.store import ObjectStore  # noqa: PLC0415

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


def add_parser(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "ingest", help="the Kafka alert consumer (DMDT_* settings: Kafka, Redis, topics)"
    )


def run(_args: argparse.Namespace) -> None:
    from services.cli.process import start, stop_on_signals  # noqa: PLC0415
    from stream import lifecycle  # noqa: PLC0415

    settings = Settings()
    stop = stop_on_signals()
    bundle, client = start(settings, "ingest")
    lifecycle.run(build_ingest(settings, bundle, client), stop)
