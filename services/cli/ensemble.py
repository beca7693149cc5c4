"""``dmdt ensemble``: average the hybrid candidates of several training runs into one bundle,
calibrate it on validation, evaluate it as ``dmdt evaluate`` does, optionally install it.
Needs the training extra, imported only when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from classifier.defaults import ENSEMBLE_NAME
from services.cli.errors import UsageError
from services.cli.train import (
    add_name_argument,
    add_run_arguments,
    evaluate_and_install,
    quiet_exporter,
    run_settings,
)


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
    add_name_argument(parser, ENSEMBLE_NAME)


def run(args: argparse.Namespace) -> None:
    from training.ensemble import EnsembleError, ensemble  # noqa: PLC0415 - the training extra

    quiet_exporter()
    try:
        ensemble(run_settings(args), args.members, args.name)
    except EnsembleError as error:
        raise UsageError(str(error)) from None
    evaluate_and_install(args)
