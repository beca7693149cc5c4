"""Error bodies that never echo a request back: a rejected input is quoted by a short
excerpt, at most :data:`MAX_ERRORS` problems are listed, and an infrastructure failure says
which service is unavailable, its details going only to the log."""

from __future__ import annotations

import json
import logging

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger("dmdt.api")
MAX_ERRORS = 20
EXCERPT_CHARS = 80


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``value`` as short text: JSON (or repr) cut to ``limit`` characters.

    >>> excerpt("x" * 100, 10)
    '"xxxxxxxxx... (102 characters)'
    >>> excerpt([1, 2])
    '[1, 2]'
    """
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return shortened(text, limit)


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was.

    >>> shortened("abc", 5), shortened("abcdefgh", 3)
    ('abc', 'abc... (8 characters)')
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _problem(error: dict) -> dict:
    shown = {
        "type": error.get("type"),
        "loc": [
            part if isinstance(part, int) else shortened(str(part), 40) for part in error["loc"]
        ],
        "msg": shortened(str(error.get("msg", "")), 300),
    }
    if "input" in error:
        shown["input"] = excerpt(error["input"])
    return shown


async def validation_failed(_request: Request, error: Exception) -> JSONResponse:
    """422 with each problem's location, message and a short excerpt of what was sent."""
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    body: dict[str, object] = {"detail": [_problem(p) for p in problems[:MAX_ERRORS]]}
    if len(problems) > MAX_ERRORS:
        body["problems"] = len(problems)
    return JSONResponse(body, status_code=422)


def unavailable(service: str, error: Exception) -> HTTPException:
    """A 503 naming the service; the error (hosts, ports, messages) is logged, not sent."""
    log.warning("%s unavailable: %s", service, error)
    return HTTPException(status_code=503, detail=f"{service} unavailable")
