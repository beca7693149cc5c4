"""``dmdt mixture``: a CSS specialist and an every-survey generalist in one bundle
(:mod:`training.mixture`), calibrated on validation, evaluated as ``dmdt evaluate`` does,
optionally installed. Needs the training extra, imported only when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from classifier.defaults import MIXTURE_NAME
from services.cli.errors import UsageError
from services.cli.train import (
    add_name_argument,
    add_run_arguments,
    evaluate_and_install,
    run_settings,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "mixture",
        help="mix a CSS specialist and an every-survey generalist into one bundle",
        description="Write one ONNX bundle in which GENERALIST (7 classes and 'other') decides "
        "whether a curve is one of the 7 classes and both bundles vote on which, fit its "
        "temperature and unknown threshold on validation, and evaluate it on the test split. "
        "Needs the training extra: pip install 'dmdt-stream[training]'.",
    )
    add_run_arguments(parser, default_out=Path("runs/mixture"))
    parser.add_argument(
        "--specialist",
        type=Path,
        required=True,
        metavar="BUNDLE",
        help="bundle folder answering the 7 classes (e.g. classifier/models/css-hybrid)",
    )
    parser.add_argument(
        "--generalist",
        type=Path,
        required=True,
        metavar="BUNDLE",
        help="bundle folder answering the 7 classes and 'other', taking a subset of the "
        "specialist's features (e.g. classifier/models/survey-hybrid)",
    )
    add_name_argument(parser, MIXTURE_NAME)


def run(args: argparse.Namespace) -> None:
    from classifier.bundle import BundleError  # noqa: PLC0415
    from training.mixture import MixtureError, mixture  # noqa: PLC0415 - the training extra

    try:
        mixture(run_settings(args), args.specialist, args.generalist, args.name)
    except (MixtureError, BundleError) as error:
        raise UsageError(str(error)) from None
    evaluate_and_install(args)
