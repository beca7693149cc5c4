"""``dmdt image`` and ``dmdt gallery``: dm-dt images of light-curve files, as PNG, JSON or NPY."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from classifier.grid import DmDtGrid
from classifier.image import DmDtImage
from classifier.lightcurve import LightCurve
from classifier.normalise import Normalisation
from classifier.readers import Photometry, read_file
from classifier.render import render_png

OUTPUT_SUFFIXES = (".png", ".json", ".npy")
COLORBAR_LABELS = {
    "mahabal": "255 x pairs / n(n-1)/2",
    "mahabal-uint8": "floor(255 x pairs / n(n-1)/2 + 0.99999)",
    "l2": "pairs / ||pairs||_2",
}


class UsageError(ValueError):
    """A command-line request that cannot be met (bad option, missing object or band)."""


def choose_curve(objects: list[Photometry], object_id: str | None, band: str | None) -> LightCurve:
    """The requested curve: one object (``object_id`` needed when the file holds several),
    and ``band`` or else the band with the most points."""
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
    objects = read_file(path, file_format)
    curve = choose_curve(objects, object_id, band)
    result = DmDtImage.of(curve, DmDtGrid.preset(bins), norm)
    survey = next(p.survey for p in objects if p.object_id == curve.object_id)
    out = out or Path(f"{curve.object_id}_{curve.band}_dmdt.png")
    return write_image(result, out, survey)


def sample_files() -> list[Path]:
    """The real light curves bundled with the package (see samples/PROVENANCE.md)."""
    folder = resources.files("classifier.samples")
    return sorted(
        Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith((".csv", ".csv.gz", ".avro"))
    )


def gallery_command(out_dir: Path, bins: str, norm: Normalisation) -> list[tuple[str, Path]]:
    """Render every band of every object in the bundled samples; returns (what, png path)."""
    grid = DmDtGrid.preset(bins)
    written = []
    for path in sample_files():
        for photometry in read_file(path):
            for band in photometry.bands:
                result = DmDtImage.of(photometry.curves[band], grid, norm)
                stem = out_dir / f"{photometry.survey.lower()}_{photometry.object_id}_{band}"
                write_image(result, stem.with_suffix(".json"))
                png = write_image(result, stem.with_suffix(".png"), photometry.survey)
                label = f" [{photometry.label}]" if photometry.label else ""
                what = (
                    f"{photometry.survey} {photometry.object_id}{label} band {band}: "
                    f"{result.n_points} points"
                )
                written.append((what, png))
    return written
