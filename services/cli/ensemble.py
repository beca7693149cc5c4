"""``dmdt ensemble``: average the hybrid candidates of several training runs into one bundle,
calibrate it on validation, evaluate it as ``dmdt evaluate`` does, optionally install it.
Needs the training extra, imported only when the command runs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from classifier.defaults import ENSEMBLE_NAME
from services.cli.errors import UsageError
from services.cli.train import (
    add_run_arguments,
    evaluate_run_folder,
    install,
    quiet_exporter,
    run_settings,
)


def bundle_name(text: str) -> str:
    """A models-folder name: lower-case letters, digits, ``.``, ``_`` and ``-``.

    >>> bundle_name("css-hybrid")
    'css-hybrid'
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: 1-64 lower-case letters, digits, '.', '_' or '-', not starting with one "
            "of the last three"
        )
    return text


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
    parser.add_argument(
        "--name",
        default=ENSEMBLE_NAME,
        type=bundle_name,
        help=f"the bundle's name, in its card and when installed (default {ENSEMBLE_NAME})",
    )


def run(args: argparse.Namespace) -> None:
    from training.ensemble import EnsembleError, ensemble  # noqa: PLC0415 - the training extra

    quiet_exporter()
    try:
        ensemble(run_settings(args), args.members, args.name)
    except EnsembleError as error:
        raise UsageError(str(error)) from None
    evaluate_run_folder(args)
    if args.install:
        install(args.out / "candidates" / "hybrid", args.name)
