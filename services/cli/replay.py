"""``dmdt replay``: alert files, and light-curve files as alert streams, to Kafka."""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from classifier.readers import UnknownSchemaError, light_curve_files
from services.cli.arguments import positive
from services.cli.errors import UsageError
from services.settings import Settings
from sources.lsst_alerts import DEFAULT_SCHEMA, SCHEMA_VERSIONS, LsstAlertWriter


def replay_files(
    settings: Settings,
    paths: list[Path],
    topic: str | None,
    rate: float | None,
    bootstrap: str | None,
    survey: str = "ztf",
    lsst_schema: str = DEFAULT_SCHEMA,
) -> None:
    """Files and folders (recursively) to the alert topic, with progress; light curves as
    ZTF-like alerts, or as Rubin alerts of ``lsst_schema`` when ``survey`` is ``lsst``."""
    from confluent_kafka import Producer  # noqa: PLC0415 - loaded only when this command runs

    from sources.replay import replay, survey_messages  # noqa: PLC0415
    from stream.kafka import ensure_topics, producer_config  # noqa: PLC0415

    files = list(light_curve_files(paths))
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: no such file")
    writer = None
    if survey == "lsst":
        topic = topic or settings.lsst_alert_topic
        if not topic:
            raise UsageError("--as lsst needs --topic or DMDT_LSST_ALERT_TOPIC")
        try:
            writer = LsstAlertWriter(settings.lsst_schemas(), lsst_schema)
        except UnknownSchemaError as error:
            raise UsageError(str(error)) from None
    bootstrap = bootstrap or settings.kafka_bootstrap
    topic = topic or settings.alert_topic
    ensure_topics(bootstrap, [topic])
    messages = list(survey_messages(files, writer))
    with tqdm(total=len(messages), desc=f"replay to {topic}", unit="alert") as bar:
        sent = replay(
            Producer(producer_config(bootstrap)),
            topic,
            messages,
            rate,
            on_sent=lambda n: bar.update(n - bar.n),
        )
    print(f"{sent} alerts sent to {topic} at {bootstrap}")


def add_parser(commands: argparse._SubParsersAction) -> None:
    replay_parser = commands.add_parser(
        "replay",
        help="produce alert files, or light curves as alert streams, to Kafka",
        description="Send alert files (ZTF, Rubin) as they are, and light-curve files (CSS, "
        "generic CSV, ...) as alerts, one per point, merged in time order: ZTF-like, or Rubin "
        "alerts in the Confluent wire format with the history in prvDiaSources (--as lsst).",
    )
    replay_parser.add_argument("paths", type=Path, nargs="+", help="files or folders")
    replay_parser.add_argument(
        "--topic",
        help="topic (default: DMDT_ALERT_TOPIC; with --as lsst, DMDT_LSST_ALERT_TOPIC)",
    )
    replay_parser.add_argument(
        "--as",
        dest="survey",
        choices=["ztf", "lsst"],
        default="ztf",
        help="light curves as ZTF-like alerts (default) or Rubin/LSST alerts",
    )
    replay_parser.add_argument(
        "--lsst-schema",
        choices=SCHEMA_VERSIONS,
        default=DEFAULT_SCHEMA,
        help=f"Rubin alert schema of --as lsst (default {DEFAULT_SCHEMA})",
    )
    replay_parser.add_argument(
        "--rate", type=positive, help="alerts/s (default: as fast as possible)"
    )
    replay_parser.add_argument("--bootstrap", help="Kafka servers (default: DMDT_KAFKA_BOOTSTRAP)")


def run(args: argparse.Namespace) -> None:
    replay_files(
        Settings(),
        args.paths,
        args.topic,
        args.rate,
        args.bootstrap,
        args.survey,
        args.lsst_schema,
    )
