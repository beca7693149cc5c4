"""``dmdt ingest``: the Kafka alert consumer (:class:`stream.consumer.AlertIngest`), built
from the ``DMDT_*`` settings and run on the stream lifecycle until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from services.cli.errors import UsageError
from services.settings import Settings

if TYPE_CHECKING:  # the Kafka client loads only when this command runs, not for every command
    from classifier.bundle import ModelBundle
    from stream.consumer import AlertIngest
    from stream.decoders import AlertDecoder
    from stream.redis_client import RedisClient


def alert_decoders(settings: Settings) -> dict[str, AlertDecoder]:
    """Alert topic -> its survey's decoder: ZTF on ``DMDT_ALERT_TOPIC``, LSST on
    ``DMDT_LSST_ALERT_TOPIC`` when set (its schemas must be available)."""
    from stream.decoders import LsstDecoder, ZtfDecoder  # noqa: PLC0415

    decoders: dict[str, AlertDecoder] = {settings.alert_topic: ZtfDecoder(settings.magnitude)}
    if settings.lsst_alert_topic:
        if settings.lsst_alert_topic == settings.alert_topic:
            raise UsageError("DMDT_LSST_ALERT_TOPIC must differ from DMDT_ALERT_TOPIC")
        schemas = settings.lsst_schemas()
        if schemas.source is None:
            raise UsageError(
                f"DMDT_LSST_ALERT_TOPIC={settings.lsst_alert_topic} needs Rubin's alert schemas:"
                " set DMDT_LSST_SCHEMA_REGISTRY or DMDT_LSST_SCHEMA_DIR, or pip install "
                "'dmdt-stream[lsst]'"
            )
        decoders[settings.lsst_alert_topic] = LsstDecoder(
            schemas, settings.magnitude, settings.lsst_forced_sources
        )
    return decoders


def build_ingest(settings: Settings, bundle: ModelBundle, client: RedisClient) -> AlertIngest:
    from confluent_kafka import Consumer, Producer  # noqa: PLC0415

    from classifier.accumulator import load_kernels  # noqa: PLC0415
    from stream.consumer import AlertIngest  # noqa: PLC0415
    from stream.kafka import consumer_config, ensure_topics, producer_config  # noqa: PLC0415
    from stream.scoring_queue import ScoringQueue  # noqa: PLC0415
    from stream.store import ObjectStore  # noqa: PLC0415

    decoders = alert_decoders(settings)
    load_kernels(bundle.grid)
    ensure_topics(settings.kafka_bootstrap, [*decoders, settings.dead_letter_topic])
    return AlertIngest(
        consumer=Consumer(
            consumer_config(
                settings.kafka_bootstrap, settings.consumer_group, settings.fetch_wait_ms
            )
        ),
        dead_letters=Producer(producer_config(settings.kafka_bootstrap)),
        store=ObjectStore(
            client, bundle.grid, settings.max_points_per_band, settings.hot_objects_mb
        ),
        queue=ScoringQueue(client, settings.queue_shards),
        decoders=decoders,
        dead_letter_topic=settings.dead_letter_topic,
        batch_size=settings.ingest_batch,
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    commands.add_parser(
        "ingest",
        help="the Kafka alert consumer of ZTF and LSST topics (DMDT_* settings: Kafka, Redis, "
        "topics)",
    )


def run(_args: argparse.Namespace) -> None:
    from services.cli.process import start, stop_on_signals  # noqa: PLC0415
    from stream import lifecycle  # noqa: PLC0415

    settings = Settings()
    stop = stop_on_signals()
    bundle, client = start(settings, "ingest")
    lifecycle.run(build_ingest(settings, bundle, client), stop)
