"""The common ground of the training experiments (binary pairs, backgrounds, binning,
minority classes, FGSM): one split's curves, images on a grid, and one small CNN trained
the same way for every variant, so that variants differ only in what is studied.

The study network is :class:`training.nets.DmDtNet` with narrower convolutions
(:data:`STUDY_CHANNELS`), trained on full curves without partial views: ~1.4 s an epoch
for the 3,669 CSS training curves on two CPU cores, so dozens of variants train in minutes.
Its figures are for comparing variants with each other, not with the shipped models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.model_input import model_inputs
from training.dataset import Split, label_of, load_examples
from training.fit import FitConfig, fit, predict_logits
from training.nets import DmDtNet
from training.paper import CLASSES

STUDY_CHANNELS = (16, 32)
STUDY_FIT = FitConfig(max_epochs=40, patience=10)
PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class StudyData:
    """Curves and labels (indices into :data:`CLASSES`) of the train, val and test parts."""

    curves: dict[str, list[LightCurve]]
    labels: dict[str, np.ndarray]
    config: FitConfig = STUDY_FIT
    per_class: int | None = None  # the cap it was loaded with

    @classmethod
    def load(
        cls,
        data_dir: Path,
        split: Split,
        per_class: int | None = None,
        max_epochs: int | None = None,
    ) -> StudyData:
        """``per_class``: keep at most that many curves of each class in each part (quick
        runs and tests); ``max_epochs``: cap the training of every variant."""
        curves, labels = {}, {}
        for part in PARTS:
            examples = load_examples(data_dir, _at_most(split.parts[part], per_class), part)
            curves[part] = [e.curve for e in examples]
            labels[part] = np.array([CLASSES.index(e.label) for e in examples])
        config = STUDY_FIT if max_epochs is None else _capped(STUDY_FIT, max_epochs)
        return cls(curves, labels, config, per_class)

    def images(self, grid: DmDtGrid, part: str) -> np.ndarray:
        """``(N, 1, n_dm, n_dt)`` model images of one part."""
        return study_images(self.curves[part], grid)


def study_images(curves: Sequence[LightCurve], grid: DmDtGrid) -> np.ndarray:
    """``(N, 1, n_dm, n_dt)`` model images, as the shipped models see them."""
    return model_inputs(curves, grid, features=None)["image"]


def _at_most(names: list[str], per_class: int | None) -> list[str]:
    if per_class is None:
        return names
    kept: dict[str, list[str]] = {}
    for name in names:  # split files are sorted; take each class's first names
        label = label_of(name)
        if label in CLASSES and len(kept.setdefault(label, [])) < per_class:
            kept[label].append(name)
    return sorted(n for names_of_class in kept.values() for n in names_of_class)


def _capped(config: FitConfig, max_epochs: int) -> FitConfig:
    return replace(config, max_epochs=max_epochs, patience=min(config.patience, max_epochs))


def train_net(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    n_classes: int,
    config: FitConfig = STUDY_FIT,
    desc: str = "study",
) -> nn.Module:
    """The study CNN, trained with early stopping on validation macro-F1. Seeded from
    ``config.seed``, initial weights included, so one configuration trains one network
    whichever experiments ran before it.

    Its batch norms evaluate with the exact statistics of the latest epoch
    (``momentum=None``, see :func:`training.fit.fit`). With the default running average, a
    pair of small classes (3 batches an epoch) kept the initial variance of 1 against
    activations of ~1e-6 for many epochs, answered one class in evaluation, and was stopped
    early at chance (RRd vs LPV: 0.50).
    """
    torch.manual_seed(config.seed)  # the initial weights too, whatever ran before
    model = DmDtNet(train_images.shape[2:], n_classes, STUDY_CHANNELS)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None
    result = fit(
        model,
        {"image": train_images},
        train_labels,
        {"image": val_images},
        val_labels,
        n_classes,
        config,
        desc=desc,
    )
    return result.model


def predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """Predicted class indices."""
    return predict_logits(model, {"image": images}).argmax(axis=1)


def macro_f1(truth: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> float:
    """Macro-F1 over the classes present in ``truth``."""
    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro"))


def recalls(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Recall of each class of :data:`CLASSES` present in ``truth``."""
    return {
        CLASSES[c]: float(np.mean(predicted[truth == c] == c)) for c in sorted(set(truth.tolist()))
    }


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """``{"macro_f1": ..., "recall": {class: ...}}``."""
    return {"macro_f1": macro_f1(truth, predicted), "recall": recalls(truth, predicted)}


def over_seeds(runs: Sequence[dict[str, dict]]) -> dict[str, dict]:
    """One study's ``{variant: results}`` from several seeds, as one: numbers and recalls
    averaged, other values kept from the first, and the macro-F1's lowest and highest
    (``macro_f1_range``)."""
    combined = {}
    for name, first in runs[0].items():
        same = [run[name] for run in runs]
        entry: dict = {}
        for key, value in first.items():
            if key == "recall":
                entry[key] = {c: float(np.mean([r[key][c] for r in same])) for c in value}
            elif isinstance(value, int | float):
                entry[key] = float(np.mean([r[key] for r in same]))
            else:
                entry[key] = value
        f1s = [r["macro_f1"] for r in same]
        entry["macro_f1_range"] = (min(f1s), max(f1s))
        combined[name] = entry
    return combined
