"""``GET /results/latest``: the stream's latest classifications, newest first (the web
page's live view; needs Redis)."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import APIRouter, Query

from services.api.dependencies import StoreDep
from services.api.errors import unavailable
from stream.results import StreamResult

router = APIRouter(prefix="/results", tags=["results"])


@router.get("/latest", response_model=list[StreamResult])
def latest(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500, description="how many objects")] = 50,
) -> list[StreamResult]:
    """The latest classification of each of the ``limit`` objects scored last."""
    try:
        return store.latest_results(limit)
    except redis.RedisError as error:
        raise unavailable("Redis", error) from None
