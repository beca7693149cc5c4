"""``dmdt ensemble``: average the hybrid candidates of several training runs into one bundle,
calibrate it on validation, evaluate it as ``dmdt evaluate`` does, optionally install it.
Needs the training extra, imported only when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from services.cli.errors import UsageError
from services.cli.evaluate import evaluate_run
from services.cli.train import add_run_arguments, install, other_sources, quiet_exporter


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "ensemble",
        help="average the hybrid networks of several training runs into one bundle",
        description="Average the logits of the 'hybrid' candidates of RUN folders trained on "
        "the same split (other seeds or views), export them as one ONNX bundle, fit its "
        "temperature and unknown threshold on validation, and evaluate it on the test split. "
        "Needs the training extra: pip install 'dmdt-stream[training]'.",
    )
    add_run_arguments(parser, default_out=Path("runs/ensemble"))
    parser.add_argument(
        "--members",
        type=Path,
        nargs="+",
        required=True,
        metavar="RUN",
        help="run folders of dmdt train, each with candidates/hybrid/weights.pt",
    )


def run(args: argparse.Namespace) -> None:
    from training.ensemble import NAME, EnsembleError, ensemble  # noqa: PLC0415 - the training extra
    from training.pipeline import TrainSettings  # noqa: PLC0415

    quiet_exporter()
    settings = TrainSettings(
        data_dir=args.data_dir,
        out_dir=args.out,
        seed=args.seed,
        split_seed=args.split_seed,
        other=other_sources(args),
        per_class=args.per_class,
        version=args.model_version,
    )
    try:
        ensemble(settings, args.members)
    except EnsembleError as error:
        raise UsageError(str(error)) from None
    evaluate_run(
        args.data_dir, args.out, None, args.transients, args.quasars, args.quasar_limit, args.eros
    )
    if args.install:
        install(args.out / "candidates" / "hybrid", NAME)
