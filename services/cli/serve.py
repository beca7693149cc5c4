"""``dmdt serve``: the HTTP API under uvicorn (``DMDT_*`` settings)."""

from __future__ import annotations

import argparse
import logging


def add_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="the HTTP API (POST /classify, /models, /healthz; DMDT_* settings)",
    )
    serve.add_argument("--host", help="address (default: DMDT_API_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: DMDT_API_PORT or 8000)")


def run(args: argparse.Namespace) -> None:
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from services.api.app import create_app  # noqa: PLC0415
    from services.settings import Settings  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="info",
    )
