"""What the network looks at: occlusion saliency over the dm-dt grid.

For a curve of true class c, each bin of its model image is set to zero in turn and the drop
in the probability of c is recorded; a class's map is the mean over its test curves. The
hybrid's light-curve features are held fixed, so its map shows what its image branch adds.
The same map for one object (:func:`occlusion_map`) is what the API can later return.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve


def occlusion_map(model: OnnxClassifier, inputs: dict[str, np.ndarray], target: int) -> np.ndarray:
    """``(n_dm, n_dt)``: drop of ``target``'s probability when each bin is zeroed, for the
    single example in ``inputs`` (arrays with a batch axis of 1)."""
    image = inputs["image"][0, 0]
    n_dm, n_dt = image.shape
    occluded = np.repeat(inputs["image"], n_dm * n_dt, axis=0)
    flat = occluded.reshape(n_dm * n_dt, n_dm * n_dt)
    flat[np.arange(n_dm * n_dt), np.arange(n_dm * n_dt)] = 0.0
    batch = {"image": occluded}
    if "features" in inputs:
        batch["features"] = np.repeat(inputs["features"], n_dm * n_dt, axis=0)
    base = model.predict_inputs(inputs).probabilities[0, target]
    probabilities = model.predict_inputs(batch).probabilities[:, target]
    return (base - probabilities).reshape(n_dm, n_dt)


def class_maps(
    model: OnnxClassifier, curves: Sequence[LightCurve], labels: Sequence[str], per_class: int
) -> dict[str, np.ndarray]:
    """Mean occlusion map per class over (at most ``per_class``) of its curves."""
    classes = list(model.bundle.card.classes)
    maps: dict[str, list[np.ndarray]] = {}
    for curve, label in zip(curves, labels, strict=True):
        if len(maps.get(label, [])) >= per_class or len(curve) < model.bundle.card.min_points:
            continue
        inputs = model.curve_inputs([curve])
        maps.setdefault(label, []).append(occlusion_map(model, inputs, classes.index(label)))
    return {label: np.mean(stack, axis=0) for label, stack in maps.items()}


def saliency_figure(maps: dict[str, np.ndarray], model: OnnxClassifier, path: Path) -> Path:
    """One panel per class, rows = dm bins (negative = brighter later), columns = dt bins."""
    grid = model.bundle.grid
    figure, axes = plt.subplots(1, len(maps), figsize=(2.6 * len(maps), 3.4), layout="constrained")
    limit = max(float(np.abs(m).max()) for m in maps.values()) or 1.0
    for ax, (label, values) in zip(np.atleast_1d(axes), sorted(maps.items()), strict=True):
        shown = ax.imshow(values, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(label, fontsize=9)
        ax.set_xticks([0, grid.shape[1] - 1], [f"{grid.dt_edges[0]:g}", f"{grid.dt_edges[-1]:g} d"])
        ax.set_yticks([0, grid.shape[0] - 1], [f"{grid.dm_edges[0]:g}", f"{grid.dm_edges[-1]:g}"])
    figure.colorbar(shown, ax=axes, label="drop in the true class's probability")
    figure.suptitle(f"{model.bundle.name}: occlusion saliency per class (dm rows, dt columns)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
