"""Export a trained network as a model bundle (``model.onnx`` + ``card.json``), checked.

The ONNX graph has a dynamic batch axis (torch's exporter freezes the batch size unless told
otherwise) and outputs logits. Before the bundle is written, ONNX Runtime's outputs are
compared with PyTorch's on real inputs at several batch sizes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from classifier.bundle import CARD, ONNX, ModelCard, load_bundle, sha256_of
from classifier.features import NEW_MODELS_PERIODOGRAM, Periodogram
from classifier.grid import DmDtGrid
from classifier.model_input import IMAGE_NORMALISATION, IMAGE_SCALE
from training.fit import predict_logits

OPSET = 18
TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """ONNX Runtime disagrees with PyTorch, or the bundle does not load back."""


def export_onnx(model: nn.Module, example: dict[str, np.ndarray], path: Path) -> None:
    model = model.cpu().eval()
    args = tuple(torch.as_tensor(example[name][:2]) for name in example)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    program = torch.onnx.export(
        model,
        args,
        input_names=list(example),
        output_names=["logits"],
        opset_version=OPSET,
        dynamic_shapes={name: {0: batch} for name in example},
        dynamo=True,
        verbose=False,
    )
    if program is None:
        raise RuntimeError(f"torch.onnx.export returned no program for {path}")
    program.save(str(path))


def max_disagreement(model: nn.Module, path: Path, inputs: dict[str, np.ndarray]) -> float:
    """Largest |logit difference| between ONNX Runtime and PyTorch, over batch sizes."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = predict_logits(model.cpu(), inputs)
    worst = 0.0
    n = len(next(iter(inputs.values())))
    for size in (1, 7, n):
        feed = {name: values[:size] for name, values in inputs.items()}
        (got,) = session.run(None, feed)
        worst = max(worst, float(np.abs(got - expected[:size]).max()))
    return worst


def write_bundle(
    model: nn.Module,
    folder: Path,
    *,
    name: str,
    version: str,
    architecture: str,
    grid: DmDtGrid,
    classes: tuple[str, ...],
    check_inputs: dict[str, np.ndarray],
    temperature: float,
    unknown_threshold: float,
    min_points: int,
    backgrounds: dict[str, np.ndarray],
    training_data: dict[str, Any],
    metrics: dict[str, Any],
    feature_names: tuple[str, ...] | None = None,
    periodogram: Periodogram = NEW_MODELS_PERIODOGRAM,
) -> float:
    """Export, check and write the bundle; returns the ONNX-vs-PyTorch disagreement."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = folder / ONNX
    export_onnx(model, check_inputs, onnx_path)
    disagreement = max_disagreement(model, onnx_path, check_inputs)
    if disagreement > TOLERANCE:
        raise ExportError(f"ONNX and PyTorch logits differ by {disagreement:.2e} > {TOLERANCE}")
    inputs = {input_name: [None, *values.shape[1:]] for input_name, values in check_inputs.items()}
    card = ModelCard(
        name=name,
        version=version,
        architecture=architecture,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        classes=list(classes),
        grid=grid.to_dict(),
        normalisation=IMAGE_NORMALISATION,
        input_scale=IMAGE_SCALE,
        inputs=inputs,
        feature_names=list(feature_names or ()) if "features" in inputs else None,
        periodogram=periodogram,
        temperature=temperature,
        unknown_threshold=unknown_threshold,
        min_points=min_points,
        backgrounds={key: image.tolist() for key, image in backgrounds.items()},
        training_data=training_data,
        metrics={**metrics, "onnx_max_abs_logit_diff": disagreement},
        onnx_sha256=sha256_of(onnx_path),
    )
    (folder / CARD).write_text(json.dumps(card.model_dump(), indent=1))
    load_bundle(folder)  # the bundle must pass the checks every server runs
    return disagreement
