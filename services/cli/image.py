"""``dmdt image``: the dm-dt image of one band of one object in a light-curve file, as PNG,
JSON or NPY (:func:`write_image` is also what ``dmdt gallery`` writes with)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from classifier.defaults import PICTURE_GRID, PICTURE_NORMALISATION
from classifier.grid import PRESETS, DmDtGrid
from classifier.image import DmDtImage
from classifier.lightcurve import LightCurve
from classifier.normalise import NORMALISATIONS, Normalisation
from classifier.readers import Photometry, read_file, reader_names
from classifier.render import render_png
from services.cli.errors import UsageError
from services.settings import Settings

OUTPUT_SUFFIXES = (".png", ".json", ".npy")
COLORBAR_LABELS = {
    "mahabal": "255 x pairs / n(n-1)/2",
    "mahabal-uint8": "floor(255 x pairs / n(n-1)/2 + 0.99999)",
    "l2": "pairs / ||pairs||_2",
}


def choose_curve(objects: list[Photometry], object_id: str | None, band: str | None) -> LightCurve:
    """The requested curve: one object (``object_id`` needed when the file holds several),
    and ``band`` or else the band the band rule picks (:meth:`Photometry.curve`)."""
    if object_id is not None:
        matches = [p for p in objects if p.object_id == object_id]
        if not matches:
            raise UsageError(f"no object {object_id!r} in the file")
        chosen = matches[0]
    elif len(objects) == 1:
        chosen = objects[0]
    else:
        ids = ", ".join(p.object_id for p in objects[:5])
        raise UsageError(
            f"the file holds {len(objects)} objects ({ids}, ...): pick one with --object"
        )
    return chosen.curve(band)


def write_image(result: DmDtImage, out: Path, survey: str | None = None) -> Path:
    """Write ``result`` to ``out``: a PNG picture, the JSON document, or the image as NPY."""
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out must end in one of {OUTPUT_SUFFIXES}, got {out.name!r}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return _write(result, out, suffix, survey)
    except OSError as error:
        raise UsageError(f"cannot write {out}: {error.strerror or error}") from None


def _write(result: DmDtImage, out: Path, suffix: str, survey: str | None) -> Path:
    if suffix == ".png":
        name = result.object_id or "light curve"
        title = (
            f"{name} ({survey + ', ' if survey else ''}band {result.band}): "
            f"{result.n_points} points, {result.n_binned}/{result.n_pairs} pairs binned\n"
            f"grid {result.grid.name} {result.grid.shape[0]}x{result.grid.shape[1]}, "
            f"norm {result.norm}"
        )
        render_png(result.image, result.grid, out, title, COLORBAR_LABELS[result.norm])
    elif suffix == ".json":
        out.write_text(json.dumps(result.to_dict()))
    else:
        np.save(out, result.image)
    return out


def image_command(
    path: Path,
    bins: str,
    band: str | None,
    norm: Normalisation,
    out: Path | None,
    object_id: str | None,
    file_format: str | None,
) -> Path:
    objects = read_file(path, file_format, Settings().lsst_schemas())
    curve = choose_curve(objects, object_id, band)
    result = DmDtImage.of(curve, DmDtGrid.preset(bins), norm)
    survey = next(p.survey for p in objects if p.object_id == curve.object_id)
    out = out or Path(f"{curve.object_id}_{curve.band}_dmdt.png")
    return write_image(result, out, survey)


def add_parser(commands: argparse._SubParsersAction) -> None:
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
        default=PICTURE_GRID,
        help=f"bin-edge preset (default: {PICTURE_GRID})",
    )
    image.add_argument("--band", help="band to use (default: the band rule's: most points)")
    image.add_argument(
        "--norm",
        choices=NORMALISATIONS,
        default=PICTURE_NORMALISATION,
        help=f"normalisation (default: {PICTURE_NORMALISATION})",
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


def run(args: argparse.Namespace) -> None:
    print(
        image_command(
            args.path, args.bins, args.band, args.norm, args.out, args.object_id, args.file_format
        )
    )
