"""``dmdt predict``: classify light-curve files with an ONNX bundle (no torch at run time).

One CSV row per object and band with at least the model's minimum number of points; a file
that cannot be read, or a curve too short, gets a row with the error instead of stopping
the run.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from classifier.lightcurve import LightCurve
from classifier.readers import ReaderError, read_file

if TYPE_CHECKING:  # onnxruntime loads only when a command classifies
    from classifier.inference import OnnxClassifier

SUFFIXES = (".csv", ".csv.gz", ".avro")
BATCH = 256


def light_curve_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and every supported file below each folder (sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)
            )
        else:
            yield path


def _rows_for_file(path: Path, min_points: int) -> Iterator[tuple[dict, LightCurve | None]]:
    try:
        objects = read_file(path)
    except ReaderError as error:
        yield {"path": str(path), "error": error.reason}, None
        return
    for photometry in objects:
        if not photometry.curves:
            yield (
                {
                    "path": str(path),
                    "object_id": photometry.object_id,
                    "error": "no band with 2 or more valid points",
                },
                None,
            )
        for band, curve in sorted(photometry.curves.items()):
            row = {
                "path": str(path),
                "object_id": photometry.object_id,
                "band": band,
                "n_points": len(curve),
            }
            if len(curve) < min_points:
                yield {**row, "error": f"{len(curve)} points; the model needs {min_points}"}, None
            else:
                yield row, curve


def predict_files(model: OnnxClassifier, paths: list[Path], out: TextIO) -> tuple[int, int]:
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
    ]
    writer = csv.DictWriter(out, columns, extrasaction="raise")
    writer.writeheader()
    pending: list[tuple[dict, LightCurve]] = []
    counts = [0, 0]

    def flush() -> None:
        if not pending:
            return
        predictions = model.predict_curves([curve for _, curve in pending])
        for (row, _), label, confidence, unknown, probabilities in zip(
            pending,
            predictions.labels,
            predictions.confidence,
            predictions.unknown,
            predictions.probabilities,
            strict=True,
        ):
            row.update(
                label=label,
                confidence=f"{confidence:.4f}",
                unknown=bool(unknown),
                **{f"p_{c}": f"{p:.4f}" for c, p in zip(classes, probabilities, strict=True)},
            )
            writer.writerow(row)
        counts[0] += len(pending)
        pending.clear()

    files = list(light_curve_files(paths))
    for path in tqdm(
        files, desc="classifying", unit="file", file=sys.stderr, disable=len(files) < 20
    ):
        for row, curve in _rows_for_file(path, model.bundle.card.min_points):
            if curve is None:
                writer.writerow(row)
                counts[1] += 1
            else:
                pending.append((row, curve))
                if len(pending) >= BATCH:
                    flush()
    flush()
    return counts[0], counts[1]
