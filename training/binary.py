"""Binary mode (Mahabal et al. 2017, section 4): a network for each of the 21 class pairs,
and one for each class against the rest, beside the 7-class network asked the same
question (its larger logit of the two classes; for one-vs-rest, whether it names the class).
Then pair accuracy against the number of points seen (the first k of each test curve): does
binary beat 7-class on short light curves, as the paper suggests?
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import balanced_accuracy_score
from torch import nn
from tqdm import tqdm

from classifier.grid import DmDtGrid
from training.fit import predict_logits
from training.paper import CLASSES
from training.study import StudyData, study_images, train_net
from training.tables import line_figure

POINTS = (5, 10, 20, 50, 100, None)  # None: every point


@dataclass
class BinaryResult:
    pair_accuracy: np.ndarray  # (7, 7): pair networks, symmetric; NaN on the diagonal
    pair_accuracy_7class: np.ndarray  # the same pairs, asked of the 7-class network
    one_vs_rest: dict[str, tuple[float, float]]  # class: (binary, 7-class) balanced accuracy
    by_points: dict[str, list[float]]  # "pairs" / "7-class": mean pair accuracy per POINTS


def binary_study(
    data: StudyData, grid: DmDtGrid, x: dict[str, np.ndarray], seven_class: nn.Module
) -> BinaryResult:
    """Train the 21 pair and 7 one-vs-rest networks on ``x``, the images of each part on
    ``grid``; compare them with ``seven_class``."""
    y = data.labels
    tests = {
        k: x["test"] if k is None else study_images([c.first(k) for c in data.curves["test"]], grid)
        for k in POINTS
    }
    logits7 = {k: predict_logits(seven_class, {"image": images}) for k, images in tests.items()}
    n = len(CLASSES)
    pairs, pairs7 = np.full((n, n), np.nan), np.full((n, n), np.nan)
    by_points: dict[str, list[list[float]]] = {"pairs": [], "7-class": []}
    present = sorted(set(y["train"].tolist()))
    for a, b in tqdm(list(combinations(present, 2)), desc="class pairs", leave=False):
        keep = {part: np.isin(y[part], (a, b)) for part in ("train", "val", "test")}
        if not keep["test"].any() or len(set(y["val"][keep["val"]].tolist())) < 2:
            continue
        model = train_net(
            x["train"][keep["train"]],
            (y["train"][keep["train"]] == b).astype(np.int64),
            x["val"][keep["val"]],
            (y["val"][keep["val"]] == b).astype(np.int64),
            2,
            data.config,
            desc=f"{CLASSES[a]} vs {CLASSES[b]}",
        )
        truth = y["test"][keep["test"]] == b
        binary_at, seven_at = [], []
        for k, images in tests.items():
            called_b = predict_logits(model, {"image": images[keep["test"]]}).argmax(axis=1) == 1
            logits = logits7[k][keep["test"]]
            seven_b = logits[:, b] > logits[:, a]
            binary_at.append(float(np.mean(called_b == truth)))
            seven_at.append(float(np.mean(seven_b == truth)))
        pairs[a, b] = pairs[b, a] = binary_at[-1]
        pairs7[a, b] = pairs7[b, a] = seven_at[-1]
        by_points["pairs"].append(binary_at)
        by_points["7-class"].append(seven_at)
    one_vs_rest = {}
    for c in tqdm(present, desc="one vs rest", leave=False):
        model = train_net(
            x["train"],
            (y["train"] == c).astype(np.int64),
            x["val"],
            (y["val"] == c).astype(np.int64),
            2,
            data.config,
            desc=f"{CLASSES[c]} vs rest",
        )
        truth = y["test"] == c
        called = predict_logits(model, {"image": tests[None]}).argmax(axis=1) == 1
        seven = logits7[None].argmax(axis=1) == c
        one_vs_rest[CLASSES[c]] = (
            float(balanced_accuracy_score(truth, called)),
            float(balanced_accuracy_score(truth, seven)),
        )
    means = {name: np.mean(rows, axis=0).tolist() for name, rows in by_points.items() if rows}
    return BinaryResult(pairs, pairs7, one_vs_rest, means)


def pair_figure(result: BinaryResult, path: Path) -> Path:
    """Upper triangle: pair networks; lower triangle: the 7-class network on the same pair."""
    n = len(CLASSES)
    shown = np.where(np.triu(np.ones((n, n), bool), 1), result.pair_accuracy, np.nan)
    shown = np.where(np.tril(np.ones((n, n), bool), -1), result.pair_accuracy_7class, shown)
    figure, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    image = ax.imshow(shown, cmap="viridis", vmin=0.5, vmax=1.0)
    for i in range(n):
        for j in range(n):
            if np.isfinite(shown[i, j]):
                ax.text(j, i, f"{shown[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(n), CLASSES, rotation=45)
    ax.set_yticks(range(n), CLASSES)
    ax.set_title("pair accuracy: pair networks (upper) vs 7-class network (lower)", fontsize=9)
    figure.colorbar(image, ax=ax, label="test accuracy")
    figure.savefig(path)
    plt.close(figure)
    return path


def points_figure(result: BinaryResult, path: Path) -> Path:
    """Mean pair accuracy against the number of points seen."""
    return line_figure(
        [str(k) if k else "all" for k in POINTS],
        result.by_points,
        path,
        (0.5, 1.0),
        xlabel="first k points of each test curve",
        ylabel="mean accuracy over the 21 pairs",
        title="binary vs 7-class on partial light curves",
    )
