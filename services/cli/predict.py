"""``dmdt predict``: classify light-curve files with an ONNX bundle (no torch at run time).

One CSV row per object and band with at least the model's minimum number of points; a file
that cannot be read, or a curve too short, gets a row with the error instead of stopping
the run.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from classifier.defaults import DEFAULT_MODEL
from classifier.lightcurve import LightCurve
from classifier.readers import (
    Photometry,
    ReaderError,
    SchemaCatalog,
    light_curve_files,
    read_file,
)
from classifier.registry import find_bundle
from classifier.selection import too_few_points
from classifier.verdict import classify_curves
from services.settings import Settings

if TYPE_CHECKING:  # onnxruntime loads only when a command classifies
    from classifier.inference import OnnxClassifier

BATCH = 256


def _notes(photometry: Photometry, shown: int = 3) -> str:
    """The reader's first notes on the object (times converted, points left out and by
    which rule, bands too short)."""
    notes = list(photometry.rejected[:shown])
    if len(photometry.rejected) > shown:
        notes.append(f"{len(photometry.rejected) - shown} more")
    return "; ".join(notes)


def _no_curve(photometry: Photometry) -> str:
    """Why an object has no curve, with the reader's notes."""
    notes = _notes(photometry)
    return "no band with 2 or more valid points" + (f" ({notes})" if notes else "")


def _rows_for_file(
    path: Path, min_points: int, lsst_schemas: SchemaCatalog | None
) -> Iterator[tuple[dict, LightCurve | None]]:
    try:
        objects = read_file(path, lsst_schemas=lsst_schemas)
    except ReaderError as error:
        yield {"path": str(path), "error": error.reason}, None
        return
    for photometry in objects:
        if not photometry.curves:
            yield (
                {
                    "path": str(path),
                    "object_id": photometry.object_id,
                    "error": _no_curve(photometry),
                },
                None,
            )
        for band, curve in sorted(photometry.curves.items()):
            row = {
                "path": str(path),
                "object_id": photometry.object_id,
                "band": band,
                "n_points": len(curve),
                "notes": _notes(photometry),
            }
            if len(curve) < min_points:
                yield {**row, "error": too_few_points(len(curve), min_points)}, None
            else:
                yield row, curve


def predict_files(
    model: OnnxClassifier,
    paths: list[Path],
    out: TextIO,
    lsst_schemas: SchemaCatalog | None = None,
) -> tuple[int, int]:
    """Write the CSV to ``out``; returns (rows classified, rows with an error)."""
    classes = model.bundle.card.classes
    columns = [
        "path",
        "object_id",
        "band",
        "n_points",
        "label",
        "confidence",
        "unknown",
        *[f"p_{c}" for c in classes],
        "error",
        "notes",
    ]
    writer = csv.DictWriter(out, columns, extrasaction="raise")
    writer.writeheader()
    pending: list[tuple[dict, LightCurve]] = []
    counts = [0, 0]

    def flush() -> None:
        if not pending:
            return
        answers = classify_curves(model, [curve for _, curve in pending])
        for (row, _), verdict in zip(pending, answers, strict=True):
            row.update(
                label=verdict.label,
                confidence=f"{verdict.confidence:.4f}",
                unknown=verdict.unknown,
                **{f"p_{c}": f"{p:.4f}" for c, p in verdict.probabilities.items()},
            )
            writer.writerow(row)
        counts[0] += len(pending)
        pending.clear()

    files = list(light_curve_files(paths))
    for path in tqdm(
        files, desc="classifying", unit="file", file=sys.stderr, disable=len(files) < 20
    ):
        for row, curve in _rows_for_file(path, model.bundle.card.min_points, lsst_schemas):
            if curve is None:
                writer.writerow(row)
                counts[1] += 1
            else:
                pending.append((row, curve))
                if len(pending) >= BATCH:
                    flush()
    flush()
    return counts[0], counts[1]


def add_parser(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict",
        help="classify light-curve files with an ONNX model bundle",
        description="Classify every object and band of the given files (folders recurse) "
        "with a model bundle. CSV columns: path, object_id, band, n_points, label, confidence, "
        "unknown, p_<class>..., error, notes (what the reader changed or left out).",
    )
    predict.add_argument("paths", type=Path, nargs="+", help="files or folders")
    predict.add_argument(
        "--model",
        help=f"bundle name in the models folder, or a bundle path (default: {DEFAULT_MODEL})",
    )
    predict.add_argument("--out", type=Path, help="CSV file (default: standard output)")


def run(args: argparse.Namespace) -> None:
    from classifier.inference import OnnxClassifier  # noqa: PLC0415 - onnxruntime loads slowly

    classifier = OnnxClassifier(find_bundle(args.model))
    schemas = Settings().lsst_schemas()
    if args.out is None:
        done, failed = predict_files(classifier, args.paths, sys.stdout, schemas)
    else:
        with open(args.out, "w", newline="") as handle:
            done, failed = predict_files(classifier, args.paths, handle, schemas)
    print(
        f"{done} curves classified, {failed} rows with an error "
        f"(model {classifier.bundle.name}, {classifier.provider})",
        file=sys.stderr,
    )
