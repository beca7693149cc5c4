"""``dmdt experiments``: the paper's experiments on real data, a Markdown report with PNG
pictures (the training extra, imported only when the command runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier import defaults
from services.cli.arguments import count
from services.cli.errors import UsageError

SHIPPED_SPLIT = Path(__file__).resolve().parents[2] / "reports" / "css-hybrid" / "split.json"


def add_parser(commands: argparse._SubParsersAction) -> None:
    experiments = commands.add_parser(
        "experiments",
        help="the paper's experiments on real data: a Markdown report with PNG pictures",
        description="Run the experiments on a folder of CSS light curves: robustness, saliency "
        "and the most confident errors of the shipped models on the test split; binary pairs, "
        "background subtraction, binning, minority classes and FGSM with study networks "
        "trained on the split. Needs the training extra.",
    )
    experiments.add_argument("data_dir", type=Path, help="folder of <CSS_ID>-<CLASS>.csv files")
    experiments.add_argument("--out", type=Path, default=Path("out/experiments"))
    experiments.add_argument(
        "--only", nargs="+", default=None, help="experiments to run (default: all)"
    )
    experiments.add_argument(
        "--split",
        type=Path,
        default=SHIPPED_SPLIT,
        help="split file whose test part is used (default: the shipped model's; if missing, "
        "every curve of the folder)",
    )
    experiments.add_argument("--limit", type=int, default=None, help="at most this many curves")
    experiments.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="training experiments: at most this many curves a class in each part",
    )
    experiments.add_argument(
        "--epochs", type=int, default=None, help="training experiments: most epochs a network"
    )
    experiments.add_argument(
        "--seeds",
        type=count,
        default=defaults.STUDY_SEEDS,
        help="training experiments: seeds a variant of backgrounds, binning, minority and "
        f"FGSM is trained with; the report gives their mean and range "
        f"(default {defaults.STUDY_SEEDS})",
    )
    experiments.add_argument(
        "--eros",
        type=Path,
        default=None,
        help="the EROS-1 folder (train.csv, test.csv, *_varlength_features.csv.gz): adds the "
        "transfer experiment",
    )


def _runnable(args: argparse.Namespace) -> tuple[str, ...]:
    """Every experiment that the given folders allow; says which are left out and why."""
    from training.experiments import EXPERIMENTS  # noqa: PLC0415 - the training extra
    from training.study_report import STUDIES  # noqa: PLC0415

    left_out: dict[str, str] = {}
    if not args.split.is_file():
        left_out |= dict.fromkeys(STUDIES, f"no split file {args.split}")
    if args.eros is None:
        left_out.setdefault("transfer", "no --eros folder")
    for name, why in left_out.items():
        print(f"left out: {name} ({why})", file=sys.stderr)
    return tuple(e for e in EXPERIMENTS if e not in left_out)


def run(args: argparse.Namespace) -> None:
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
            split_path=args.split,
            limit=args.limit,
            per_class=args.per_class,
            max_epochs=args.epochs,
            eros_dir=args.eros,
            seeds=args.seeds,
        )
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    print(f"report: {report}")
