"""Transfer (the paper's CRTS -> PTF, here CSS -> EROS-1 LMC): a second survey with another
cadence, other filters (B, R) and other depths.

1. **As shipped**: CSS networks on EROS curves, per band. EROS types map onto groups of CSS
   classes (binary -> EW/EA, RR Lyrae -> RRab/RRc/RRd, Mira -> LPV); a call is right when it
   falls in its type's group. Cepheids have no CSS class: we ask how often they are flagged
   unknown against the known types, and how well the top probability separates them.
2. **Cadence background**: the study network trained on CSS images minus the CSS cadence
   background, applied to EROS images minus the *EROS* cadence background (the survey's own,
   as the paper suggests for transfer: the mean image of the EROS curves being classified,
   which needs no label), against raw images.
3. **Fine-tuning**: the CSS study network with a new 4-type head, trained on 1%, 5% or 20% of
   the EROS training labels, against the same network trained from scratch on the same labels.
   With so few labels there is no held-out validation: both arms run a fixed number of epochs.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from classifier.grid import DmDtGrid
from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve
from classifier.readers import read_file
from training.fit import FitConfig, fit
from training.paper import CLASSES
from training.study import StudyData, macro_f1, predict, study_images, train_net

TYPES = {1: "binary", 2: "Cepheid", 3: "RR Lyrae", 4: "Mira"}
GROUPS = {"binary": ("EW", "EA"), "RR Lyrae": ("RRab", "RRc", "RRd"), "Mira": ("LPV",)}
FRACTIONS = (0.01, 0.05, 0.2)
REPEATS = 3
MIN_POINTS = 5


@dataclass(frozen=True)
class ErosSet:
    """One band's EROS curves of one part, with their type names."""

    curves: list[LightCurve]
    types: list[str]

    @classmethod
    def load(
        cls, folder: Path, part: str, bands: Sequence[str], limit: int | None = None
    ) -> dict[str, ErosSet]:
        """``{band: set}`` of one part, from one reading of its files."""
        with (folder / f"{part}.csv").open(newline="") as handle:
            rows = {row["Unnamed: 0"]: row for row in csv.DictReader(handle)}
        found: dict[str, tuple[list[LightCurve], list[str]]] = {b: ([], []) for b in bands}
        for photometry in read_file(folder / f"{part}_varlength_features.csv.gz"):
            row = rows.get(photometry.object_id)
            if row is None:
                continue
            kind = TYPES[int(float(row["type"]))]
            for band, (curves, types) in found.items():
                curve = photometry.curves.get(band)
                if curve is None or len(curve) < MIN_POINTS:
                    continue
                curves.append(curve)
                types.append(kind)
        sets = {}
        for band, (curves, types) in found.items():
            keep = range(len(types)) if limit is None else _stratified(types, limit, seed=2017)
            sets[band] = cls([curves[i] for i in keep], [types[i] for i in keep])
        return sets


def _stratified(types: Sequence[str], per_type: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for name in sorted(set(types)):
        where = np.flatnonzero(np.asarray(types) == name)
        chosen += rng.permutation(where)[:per_type].tolist()
    return sorted(chosen)


def group_accuracy(types: Sequence[str], called: Sequence[str]) -> float:
    """Mean over the mapped types of the fraction called within the type's CSS group."""
    per_type = []
    for name, group in GROUPS.items():
        mine = [c for t, c in zip(types, called, strict=True) if t == name]
        if mine:
            per_type.append(np.mean([c in group for c in mine]))
    return float(np.mean(per_type))


def shipped_on_eros(model: OnnxClassifier, eros: ErosSet) -> dict[str, float]:
    """Group accuracy, and how the model meets the Cepheids it has no class for."""
    predictions = model.predict_curves(eros.curves)
    cepheid = np.array([t == "Cepheid" for t in eros.types])
    known = ~cepheid
    result = {
        "group_accuracy": group_accuracy(
            [t for t, k in zip(eros.types, known, strict=True) if k],
            [c for c, k in zip(predictions.labels, known, strict=True) if k],
        ),
        "unknown_cepheids": float(predictions.unknown[cepheid].mean()) if cepheid.any() else 0,
        "unknown_known": float(predictions.unknown[known].mean()),
    }
    if cepheid.any() and known.any():  # low confidence should mean Cepheid
        result["cepheid_auc"] = float(roc_auc_score(cepheid, -predictions.confidence))
    return result


def _group_accuracy_of(model: nn.Module, images: np.ndarray, types: Sequence[str]) -> float:
    known = [i for i, t in enumerate(types) if t != "Cepheid"]
    called = [CLASSES[c] for c in predict(model, images[known])]
    return group_accuracy([types[i] for i in known], called)


def cadence_study(
    data: StudyData,
    css_images: dict[str, np.ndarray],
    eros: ErosSet,
    grid: DmDtGrid,
    baseline: nn.Module,
) -> dict[str, float]:
    """Group accuracy on EROS: raw, and with each survey's own cadence background removed."""
    css_cadence = css_images["train"].mean(axis=0)
    eros_images = study_images(eros.curves, grid)
    eros_cadence = eros_images.mean(axis=0)
    model = train_net(
        css_images["train"] - css_cadence,
        data.labels["train"],
        css_images["val"] - css_cadence,
        data.labels["val"],
        len(CLASSES),
        data.config,
        desc="CSS minus cadence",
    )
    return {
        "raw images": _group_accuracy_of(baseline, eros_images, eros.types),
        "minus the CSS cadence": _group_accuracy_of(model, eros_images - css_cadence, eros.types),
        "minus the EROS cadence": _group_accuracy_of(model, eros_images - eros_cadence, eros.types),
    }


def _new_head(pretrained: nn.Module, n_classes: int) -> nn.Module:
    model = copy.deepcopy(pretrained).cpu().train()
    head = model.head
    assert isinstance(head, nn.Sequential) and isinstance(head[-1], nn.Linear)
    head[-1] = nn.Linear(head[-1].in_features, n_classes)
    return model


def fine_tune_study(
    pretrained: nn.Module,
    train: ErosSet,
    test: ErosSet,
    grid: DmDtGrid,
    config: FitConfig,
) -> dict[str, dict[float, float]]:
    """Test macro-F1 over the 4 EROS types, mean of :data:`REPEATS` draws of the labels."""
    names = sorted(set(train.types))
    y_train = np.array([names.index(t) for t in train.types])
    y_test = np.array([names.index(t) for t in test.types])
    x_train, x_test = study_images(train.curves, grid), study_images(test.curves, grid)
    fixed = replace(config, patience=config.max_epochs)  # no held-out validation: fixed epochs
    scores: dict[str, dict[float, list[float]]] = {"fine-tuned from CSS": {}, "EROS only": {}}
    jobs = [(f, r) for f in FRACTIONS for r in range(REPEATS)]
    for fraction, repeat in tqdm(jobs, desc="fine-tuning", leave=False):
        rng = np.random.default_rng(config.seed + repeat)
        take = _fraction(y_train, fraction, rng)
        x, y = x_train[take], y_train[take]
        for arm, by_fraction in scores.items():
            if arm == "EROS only":
                model = train_net(x, y, x, y, len(names), fixed, desc=f"scratch {fraction:.0%}")
            else:
                model = fit(
                    _new_head(pretrained, len(names)),
                    {"image": x},
                    y,
                    {"image": x},
                    y,
                    len(names),
                    fixed,
                    desc=f"fine-tune {fraction:.0%}",
                ).model
            by_fraction.setdefault(fraction, []).append(macro_f1(y_test, predict(model, x_test)))
    return {arm: {f: float(np.mean(v)) for f, v in by.items()} for arm, by in scores.items()}


def _fraction(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A stratified draw of ``fraction`` of the rows, at least 2 of every class."""
    take = []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        take += rng.choice(where, max(2, round(fraction * len(where))), replace=False).tolist()
    return np.array(sorted(take))
