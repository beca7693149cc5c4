"""``dmdt train`` and ``dmdt evaluate``: thin wrappers over :mod:`training` (which needs the
training extra, so this module is imported only when one of these commands runs)."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import warnings
from pathlib import Path

from classifier.registry import models_dir
from services.cli.image import UsageError
from training.evaluate import evaluate
from training.nets import ARCHITECTURES
from training.pipeline import TrainSettings, train
from training.report import write_report

_KEPT = ("card.json", "model.onnx")


def _quiet_exporter() -> None:
    """torch's ONNX exporter logs warnings about optional packages; they are not ours."""
    warnings.filterwarnings("ignore", module="torch")
    logging.getLogger("torch").setLevel(logging.ERROR)


def evaluate_command(data_dir: Path, run_dir: Path, out_dir: Path | None) -> str:
    results = evaluate(data_dir, run_dir)
    summary = write_report(results, run_dir, out_dir or run_dir / "report")
    print(f"report: {summary}")
    return results["shipped"]


def train_command(args: argparse.Namespace) -> None:
    _quiet_exporter()
    settings = TrainSettings(
        data_dir=args.data_dir,
        out_dir=args.out,
        bins=args.bins,
        seed=args.seed,
        split_seed=args.split_seed,
        variants=args.variants,
        noisy_share=args.noisy_share,
        version=args.model_version,
        architectures=tuple(args.architectures or ARCHITECTURES),
        max_epochs=args.epochs,
        per_class=args.per_class,
    )
    train(settings)
    shipped = evaluate_command(args.data_dir, args.out, None)
    if args.install:
        source = args.out / "candidates" / shipped
        target = models_dir() / f"css-{shipped}"
        target.mkdir(parents=True, exist_ok=True)
        for name in _KEPT:
            shutil.copy2(source / name, target / name)
        print(f"installed {target}")


def _runnable(args: argparse.Namespace) -> tuple[str, ...]:
    """Every experiment that the given folders allow; says which are left out and why."""
    from training.experiments import EXPERIMENTS  # noqa: PLC0415
    from training.study_report import STUDIES  # noqa: PLC0415

    left_out = {}
    if not args.split.is_file():
        left_out |= dict.fromkeys(STUDIES, f"no split file {args.split}")
    if args.eros is None:
        left_out.setdefault("transfer", "no --eros folder")
    for name, why in left_out.items():
        print(f"left out: {name} ({why})", file=sys.stderr)
    return tuple(e for e in EXPERIMENTS if e not in left_out)


def experiments_command(args: argparse.Namespace) -> None:
    from training.experiments import EXPERIMENTS, run_experiments  # noqa: PLC0415

    only = tuple(args.only or _runnable(args))
    unknown = sorted(set(only) - set(EXPERIMENTS))
    if unknown:
        raise UsageError(f"no experiment {unknown[0]!r}; there are {list(EXPERIMENTS)}")
    try:
        report = run_experiments(
            args.data_dir,
            args.out,
            only,
            args.split,
            args.limit,
            args.per_class,
            args.epochs,
            args.eros,
            args.seeds,
        )
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    print(f"report: {report}")
