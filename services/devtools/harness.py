"""The running-service harness: embedded Kafka and Redis plus the real ``dmdt`` processes
(ingest, worker, serve) as children, for the demo, the benchmarks and the integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.devtools.embedded import EmbeddedKafka, embedded_redis, free_port
from services.settings import Settings
from stream.kafka import ensure_topics

READY_TIMEOUT_S = 60.0
LSST_TOPIC = "lsst-alerts"


def _spawn(role: str, env: dict[str, str], logs: Path) -> subprocess.Popen:
    """``dmdt <command>`` for a role named ``command`` or ``command-<n>``."""
    log = (logs / f"{role}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", role.split("-", 1)[0]],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the demo, which stops the children in order
    )


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()


def _wait_ready(url: str, children: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is not None:
                command = " ".join(map(str, list(child.args)[3:]))  # type: ignore[arg-type]
                raise RuntimeError(f"dmdt {command} exited; see {logs}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the API was not ready in {READY_TIMEOUT_S} s; see {logs}")


@dataclass(frozen=True)
class RunningService:
    """The settings the services share, and where each one serves its metrics."""

    settings: Settings
    api_url: str
    metrics_targets: dict[str, str]  # role -> host:port of its /metrics
    pids: dict[str, int]  # role -> process id


@contextlib.contextmanager
def running_service(
    logs: Path,
    api_port: int,
    ingests: int = 1,
    workers: int = 1,
    lsst_topic: str | None = LSST_TOPIC,
) -> Iterator[RunningService]:
    """Embedded Kafka and Redis plus the services (``ingests`` consumers in one group,
    reading the ZTF topic and ``lsst_topic``; ``workers`` scorers; one API)."""
    with EmbeddedKafka(logs) as kafka, embedded_redis() as redis_url:
        settings = Settings(
            kafka_bootstrap=kafka.bootstrap,
            redis_url=redis_url,
            api_port=api_port,
            lsst_alert_topic=lsst_topic,
        )
        topics = [settings.alert_topic, settings.results_topic, settings.dead_letter_topic]
        ensure_topics(kafka.bootstrap, topics + ([lsst_topic] if lsst_topic else []))
        env = {
            **os.environ,
            "DMDT_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "DMDT_REDIS_URL": redis_url,
            "DMDT_API_PORT": str(api_port),
            "DMDT_LSST_ALERT_TOPIC": lsst_topic or "",
        }
        roles = [
            *(f"ingest-{i}" for i in range(ingests)),
            *(f"worker-{i}" for i in range(workers)),
        ]
        ports = {role: free_port() for role in roles}
        children = [
            _spawn(role, {**env, "DMDT_METRICS_PORT": str(ports[role])}, logs) for role in roles
        ]
        children.append(_spawn("serve", env, logs))
        url = f"http://127.0.0.1:{api_port}"
        try:
            _wait_ready(url, children, logs)
            yield RunningService(
                settings,
                url,
                {role: f"127.0.0.1:{port}" for role, port in {**ports, "api": api_port}.items()},
                dict(zip([*roles, "api"], [child.pid for child in children], strict=True)),
            )
        finally:
            _stop(children)
