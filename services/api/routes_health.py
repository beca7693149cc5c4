"""Liveness and readiness."""

from __future__ import annotations

import logging

import redis
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.dependencies import ServedDep, StoreDep

router = APIRouter(tags=["health"])
log = logging.getLogger("dmdt.api")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(served: ServedDep, store: StoreDep, response: Response) -> dict[str, object]:
    """Models are loaded and checked, and Redis answers (503 otherwise). ``POST /classify``
    works without Redis; ``GET /objects`` does not."""
    try:
        store.ping()
        redis_state = "ok"
    except redis.RedisError as error:
        log.warning("readiness: Redis unreachable: %s", error)
        redis_state = "unreachable"
        response.status_code = 503
    return {
        "status": "ready" if redis_state == "ok" else "not ready",
        "models": {n: m.provider for n, m in served.models.items()},
        "redis": redis_state,
    }


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
