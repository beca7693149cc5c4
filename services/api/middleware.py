"""Pure ASGI middleware (cheaper than ``@app.middleware("http")``, which wraps every request
in extra tasks and streams): a body size limit, and request timing for Prometheus."""

from __future__ import annotations

import hmac
import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api import metrics


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a body over ``max_bytes``: refused at once when Content-Length says so, and in
    every case counted on the bytes actually read (a request may declare a small length and
    stream a large chunked body)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _reply(send, 400, "Content-Length is not a number of bytes")
            return
        if declared is not None and int(declared) > self.max_bytes:
            await _reply(send, 413, f"body of {int(declared)} bytes exceeds {self.max_bytes}")
            return
        body = await self._read_up_to_limit(receive)
        if body is None:
            await _reply(send, 413, f"body exceeds {self.max_bytes} bytes")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read_up_to_limit(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The request method as a metric label: one of :data:`METHODS`, else ``other`` (any
    token is a valid HTTP method, and each would otherwise make a new series).

    >>> method_label("POST"), method_label("X-ANYTHING-1234")
    ('POST', 'other')
    """
    return method if method in METHODS else "other"


class RequestTiming:
    """``dmdt_api_request_seconds`` by method, route template and status: bounded label
    values whatever the requests (unknown methods are ``other``, unknown paths
    ``unmatched``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recorded)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.API_LATENCY.labels(method_label(scope["method"]), route, str(status)).observe(
                time.perf_counter() - started
            )


class ApiKey:
    """401 unless the request carries ``X-API-Key: <key>``; ``open_paths`` and paths under
    ``open_prefixes`` stay open."""

    def __init__(
        self,
        app: ASGIApp,
        key: str,
        open_paths: frozenset[str],
        open_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.key = key.encode()
        self.open_paths = open_paths
        self.open_prefixes = open_prefixes

    def _open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._open(scope["path"]):
            given = dict(scope["headers"]).get(b"x-api-key", b"")
            if not hmac.compare_digest(given, self.key):
                await _reply(send, 401, "missing or wrong X-API-Key header")
                return
        await self.app(scope, receive, send)
