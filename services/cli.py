"""The ``dmdt`` command line: one entry point, one subcommand per job.

Every failure caused by the input (a bad file, option or value) ends with exit status 2 and a
single line ``dmdt: error: <reason>`` on standard error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from classifier.grid import PRESETS, GridError
from classifier.lightcurve import LightCurveError
from classifier.normalise import NORMALISATIONS
from classifier.readers import ReaderError, reader_names
from services.images import UsageError, demo_command, image_command

INPUT_ERRORS = (ReaderError, LightCurveError, GridError, UsageError)


def _version() -> str:
    try:
        return version("dmdt-stream")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmdt", description="dm-dt images and classification of light curves."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    image = commands.add_parser(
        "image",
        help="dm-dt image of a light-curve file (PNG, JSON or NPY)",
        description="Build the dm-dt image of one band of one object in a light-curve file "
        f"(formats: {', '.join(reader_names())}; detected from the content).",
    )
    image.add_argument("path", type=Path, help="light-curve file")
    image.add_argument(
        "--bins",
        choices=sorted(PRESETS),
        default="crts",
        help="bin-edge preset (default: crts, 22 x 24)",
    )
    image.add_argument("--band", help="band to use (default: the band with the most points)")
    image.add_argument(
        "--norm", choices=NORMALISATIONS, default="mahabal", help="normalisation (default: mahabal)"
    )
    image.add_argument(
        "--out", type=Path, help="output file, .png, .json or .npy (default: OBJECT_BAND_dmdt.png)"
    )
    image.add_argument("--object", dest="object_id", help="object id, for multi-object files")
    image.add_argument(
        "--format",
        dest="file_format",
        choices=reader_names(),
        help="file format (default: detected)",
    )

    demo = commands.add_parser(
        "demo",
        help="the main job on embedded defaults: images of the bundled real samples",
    )
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    demo.add_argument("--bins", choices=sorted(PRESETS), default="crts")
    demo.add_argument("--norm", choices=NORMALISATIONS, default="mahabal")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "image":
            path = image_command(
                args.path,
                args.bins,
                args.band,
                args.norm,
                args.out,
                args.object_id,
                args.file_format,
            )
            print(path)
        elif args.command == "demo":
            written = demo_command(args.out, args.bins, args.norm)
            width = max(len(what) for what, _ in written)
            for what, png in written:
                print(f"{what:<{width}}  {png}")
            print(f"{len(written)} dm-dt images (PNG + JSON) in {args.out.resolve()}")
    except INPUT_ERRORS as error:
        print(f"dmdt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
