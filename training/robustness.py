"""Robustness (the paper's cautionary note): how far ordinary data problems push the shipped
model's macro-F1 down, on the test split.

Each perturbation is seeded and applied to every curve:

* ``noise``: every magnitude moved by a draw within its error bar (Gaussian, sigma = err);
* ``drop 30%``: 30 % of the points removed at random;
* ``3 outliers``: three points moved by +/- 1 mag;
* ``offset +0.5 mag`` and ``shift +1000 d``: a constant magnitude offset and a time shift,
  to which dm-dt images are invariant by construction (dm and dt are differences), so the
  image-only model must not move and the hybrid moves only through its absolute-magnitude
  features (the mean).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score

from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve
from training.augment import resampled_within_errors

Perturbation = Callable[[LightCurve, np.random.Generator], LightCurve]


def _drop(curve: LightCurve, rng: np.random.Generator) -> LightCurve:
    keep = np.sort(rng.choice(len(curve), max(2, int(0.7 * len(curve))), replace=False))
    err = None if curve.err is None else curve.err[keep]
    return LightCurve(curve.t[keep], curve.mag[keep], err)


def _outliers(curve: LightCurve, rng: np.random.Generator) -> LightCurve:
    mag = curve.mag.copy()
    where = rng.choice(len(curve), min(3, len(curve)), replace=False)
    mag[where] += rng.choice([-1.0, 1.0], len(where))
    return LightCurve(curve.t, mag, curve.err)


def _offset(curve: LightCurve, _rng: np.random.Generator) -> LightCurve:
    return LightCurve(curve.t, curve.mag + 0.5, curve.err)


def _shift(curve: LightCurve, _rng: np.random.Generator) -> LightCurve:
    return LightCurve(curve.t + 1000.0, curve.mag, curve.err)


PERTURBATIONS: dict[str, Perturbation] = {
    "noise within errors": resampled_within_errors,
    "drop 30% of points": _drop,
    "3 outliers of 1 mag": _outliers,
    "offset +0.5 mag": _offset,
    "shift +1000 d": _shift,
}


def robustness(
    models: Sequence[OnnxClassifier],
    curves: Sequence[LightCurve],
    labels: Sequence[str],
    out_dir: Path,
    seed: int = 2017,
) -> tuple[dict[str, dict[str, float]], Path]:
    """Macro-F1 of each model, clean and under each perturbation; and a bar chart."""
    scores: dict[str, dict[str, float]] = {}
    for model in models:
        name = model.bundle.name
        scores[name] = {"clean": macro_f1(model, curves, labels)}
        for what, perturb in PERTURBATIONS.items():
            rng = np.random.default_rng(seed)
            scores[name][what] = macro_f1(model, [perturb(c, rng) for c in curves], labels)
    figure, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    cases = list(next(iter(scores.values())))
    width = 0.8 / len(scores)
    for i, (name, by_case) in enumerate(scores.items()):
        ax.bar(np.arange(len(cases)) + i * width, [by_case[c] for c in cases], width, label=name)
    ax.set_xticks(np.arange(len(cases)) + width * (len(scores) - 1) / 2, cases, fontsize=8)
    ax.set(ylabel="macro-F1", title=f"robustness on {len(curves)} test curves", ylim=(0, 1))
    ax.legend()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "robustness.png"
    figure.savefig(path)
    plt.close(figure)
    return scores, path


def macro_f1(model: OnnxClassifier, curves: Sequence[LightCurve], labels: Sequence[str]) -> float:
    usable = [i for i, c in enumerate(curves) if len(c) >= model.bundle.card.min_points]
    predicted = model.predict_curves([curves[i] for i in usable]).labels
    truth = [labels[i] for i in usable]
    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro"))
