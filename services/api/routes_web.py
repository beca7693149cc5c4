"""The web page for astronomers at ``/``: static HTML, CSS and JavaScript served by the API
itself (no build step, nothing fetched from outside the machine), calling the same JSON
routes a program would: look up a stream object, classify a pasted or uploaded light curve,
follow the latest classifications, read the model cards."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent / "web"
STATIC_PREFIX = "/static/"
# the page loads only its own files; images come inline (PNG as data: URLs)
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    """The page (its data needs the API key where the API does)."""
    return FileResponse(
        WEB / "index.html",
        headers={"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"},
    )


def mount(app: FastAPI) -> None:
    """Serve the page at ``/`` and its script and style under :data:`STATIC_PREFIX`."""
    app.include_router(router)
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=WEB), name="static")
