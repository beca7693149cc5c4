"""``dmdt evaluate``: measure a training run on its test split and write the report (the
training extra, imported only when the command runs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def evaluate_run(data_dir: Path, run_dir: Path, out_dir: Path | None) -> str:
    """Evaluate ``run_dir``, write its report; returns the name of the candidate to ship."""
    from training.evaluate import evaluate  # noqa: PLC0415 - the training extra
    from training.report import write_report  # noqa: PLC0415

    results = evaluate(data_dir, run_dir)
    summary = write_report(results, run_dir, out_dir or run_dir / "report")
    print(f"report: {summary}")
    return results["shipped"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="measure a training run on its test split and write the report",
    )
    evaluate.add_argument("data_dir", type=Path, help="folder of CSS light curves")
    evaluate.add_argument("--run", type=Path, default=Path("runs/css"), help="run folder")
    evaluate.add_argument(
        "--out", type=Path, default=None, help="report folder (default: RUN/report)"
    )


def run(args: argparse.Namespace) -> None:
    evaluate_run(args.data_dir, args.run, args.out)
