"""``dmdt demo``: the whole service on embedded Kafka and Redis, streaming the bundled real
data (:mod:`services.devtools.demo`, loaded only when the command runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from services.cli.arguments import positive


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole service on embedded Kafka and Redis, streaming the bundled real data",
        description="Start an embedded Kafka-compatible broker (Tansu) and Redis (Valkey), "
        "dmdt ingest, worker and serve; replay the bundled ZTF alerts and CSS periodic "
        "variables as alert streams; show the classifications; keep the API up until Ctrl-C.",
    )
    demo.add_argument("--rate", type=positive, default=300.0, help="alerts/s (default 300)")
    demo.add_argument("--port", type=int, help="API port (default: a free one)")
    demo.add_argument("--logs", type=Path, default=Path("out/demo"), help="log folder")
    demo.add_argument(
        "--exit", dest="stay", action="store_false", help="stop once the replay is scored"
    )


def run(args: argparse.Namespace) -> None:
    from services.devtools.demo import run_demo  # noqa: PLC0415 - Kafka, Redis, httpx

    run_demo(args.logs, args.rate, args.port, args.stay)
