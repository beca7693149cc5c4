"""``dmdt gallery``: dm-dt images (PNG + JSON) of every bundled real sample."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from classifier.defaults import PICTURE_GRID, PICTURE_NORMALISATION
from classifier.grid import PRESETS, DmDtGrid
from classifier.image import DmDtImage
from classifier.normalise import NORMALISATIONS, Normalisation
from classifier.readers import read_file
from services.cli.image import write_image


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


def add_parser(commands: argparse._SubParsersAction) -> None:
    gallery = commands.add_parser(
        "gallery", help="dm-dt images (PNG + JSON) of every bundled real sample"
    )
    gallery.add_argument("--out", type=Path, default=Path("out/gallery"), help="output folder")
    gallery.add_argument("--bins", choices=sorted(PRESETS), default=PICTURE_GRID)
    gallery.add_argument("--norm", choices=NORMALISATIONS, default=PICTURE_NORMALISATION)


def run(args: argparse.Namespace) -> None:
    written = gallery_command(args.out, args.bins, args.norm)
    width = max(len(what) for what, _ in written)
    for what, png in written:
        print(f"{what:<{width}}  {png}")
    print(f"{len(written)} dm-dt images (PNG + JSON) in {args.out.resolve()}")
