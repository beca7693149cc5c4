"""Background subtraction (Mahabal et al. 2017, section 3, Fig. 2), trained and tested:
each image minus one background computed on the training images, then the study network
trained and tested on the differences.

Backgrounds (:mod:`training.backgrounds`): ``cadence`` (mean of all images), ``max`` (the
per-pixel maximum of the class medians), ``rpca`` (robust-PCA low rank), and
``class medians`` (the mean of the seven class medians: a per-class background needs the
class, which a classifier does not have, so their class-balanced mean stands in).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from classifier.grid import DmDtGrid
from training.backgrounds import compute_backgrounds, robust_pca
from training.paper import CLASSES
from training.study import StudyData, predict, scores, train_net


def study_backgrounds(train_images: np.ndarray, train_labels: np.ndarray) -> dict[str, np.ndarray]:
    """``{name: (n_dm, n_dt) image}`` of the backgrounds compared."""
    names = [CLASSES[c] for c in train_labels]
    present = tuple(c for c in CLASSES if c in names)
    computed = compute_backgrounds(train_images[:, 0], names, present)
    medians = np.mean([computed[f"class:{c}"] for c in present], axis=0)
    return {
        "cadence": computed["cadence"],
        "class medians": medians.astype(np.float32),
        "max": computed["max"],
        "rpca": computed["rpca"],
    }


def background_study(
    data: StudyData, images: dict[str, np.ndarray], baseline: dict[str, float | dict[str, float]]
) -> dict[str, dict]:
    """``{background: {"macro_f1": ..., "recall": {class: ...}}}`` from ``images`` of each
    part; ``none`` is the baseline's."""
    results: dict[str, dict] = {"none": baseline}
    backgrounds = study_backgrounds(images["train"], data.labels["train"])
    for name, background in tqdm(backgrounds.items(), desc="backgrounds", leave=False):
        shifted = {part: x - background[None, None] for part, x in images.items()}
        model = train_net(
            shifted["train"],
            data.labels["train"],
            shifted["val"],
            data.labels["val"],
            len(CLASSES),
            data.config,
            desc=f"minus {name}",
        )
        results[name] = scores(data.labels["test"], predict(model, shifted["test"]))
    return results


def composite_figure(images: np.ndarray, labels: np.ndarray, grid: DmDtGrid, path: Path) -> Path:
    """Fig. 2 style: for each class, its stacked (mean), median, max and robust-PCA images."""
    present = [c for c in range(len(CLASSES)) if np.any(labels == c)]
    columns = ("stacked (mean)", "median", "max", "robust PCA (low rank)")
    figure, axes = plt.subplots(
        len(present), 4, figsize=(9, 1.7 * len(present)), layout="constrained", squeeze=False
    )
    for row, c in enumerate(present):
        own = images[labels == c, 0]
        low_rank, _ = robust_pca(own.reshape(len(own), -1).astype(np.float64), max_iter=100)
        panels = (
            own.mean(axis=0),
            np.median(own, axis=0),
            own.max(axis=0),
            low_rank.mean(axis=0).reshape(own.shape[1:]),
        )
        for column, panel in enumerate(panels):
            ax = axes[row, column]
            ax.imshow(panel, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(columns[column], fontsize=9)
            if column == 0:
                ax.set_ylabel(f"{CLASSES[c]}\n({len(own)})", fontsize=9)
    figure.suptitle(f"training images by class ({grid.shape[0]} dm x {grid.shape[1]} dt bins)")
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
