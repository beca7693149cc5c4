"""What both stream processes (``dmdt ingest``, ``dmdt worker``) do at start: log the
effective settings, serve Prometheus metrics when ``DMDT_METRICS_PORT`` is set, load the model
bundle, connect to Redis, and stop cleanly on the first SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

from prometheus_client import start_http_server

from classifier.bundle import ModelBundle
from classifier.registry import find_bundle
from services.settings import Settings
from stream.redis_client import RedisClient, connect

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


def start(settings: Settings, what: str) -> tuple[ModelBundle, RedisClient]:
    """Logging, settings and metrics of process ``what``; its model bundle and Redis client."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log.info("%s settings: %s", what, settings.describe())
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.api_host)
        log.info("%s metrics on :%d/metrics", what, settings.metrics_port)
    client = connect(settings.redis_url, settings.redis_cluster)
    return find_bundle(settings.model, settings.models_dir), client
