"""The ``dmdt`` command line: one entry point, one module per subcommand.

Each command module has ``add_parser(commands)`` and ``run(args)``; the training commands
import the training extra only inside ``run``. Every failure caused by the input (a bad file,
option or value) ends with exit status 2 and a single line ``dmdt: error: <reason>`` on
standard error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.cli import (
    demo,
    ensemble,
    evaluate,
    experiments,
    gallery,
    image,
    ingest,
    mixture,
    predict,
    replay,
    serve,
    train,
    worker,
)
from services.cli.errors import INPUT_ERRORS, UsageError
from services.version import package_version

COMMANDS = {
    "image": image,
    "demo": demo,
    "gallery": gallery,
    "ingest": ingest,
    "worker": worker,
    "replay": replay,
    "serve": serve,
    "predict": predict,
    "train": train,
    "experiments": experiments,
    "evaluate": evaluate,
    "ensemble": ensemble,
    "mixture": mixture,
}
TRAINING_COMMANDS = ("train", "experiments", "evaluate", "ensemble", "mixture")
_TRAINING_MODULES = frozenset({"training", "torch", "sklearn", "onnx", "onnxscript"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmdt", description="dm-dt images and classification of light curves."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        try:
            COMMANDS[args.command].run(args)
        except ModuleNotFoundError as missing:
            if args.command not in TRAINING_COMMANDS or missing.name not in _TRAINING_MODULES:
                raise
            raise UsageError(
                f"{args.command} needs the training extra ({missing.name} is "
                "missing): pip install 'dmdt-stream[training]'"
            ) from None
    except INPUT_ERRORS as error:
        print(f"dmdt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
