"""The leakage experiment's report section: the cadences, what each input gives away about
the survey, and what the shipped models score at each cadence (``dmdt experiments --only
leakage``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve
from classifier.model_input import IMAGE_NORMALISATION
from training.cadences import CADENCES, CSS, view
from training.leakage import IMAGE_MINUS_BACKGROUND, LEAK_THRESHOLD, Leakage, audit
from training.robustness import macro_f1
from training.tables import number_table

SEED = 2017
FAMILIES = {CSS.name: CSS, **CADENCES}


def _cadence_rows(views: Mapping[str, Sequence[LightCurve]]) -> list[str]:
    rows = [
        "| cadence | what | points (median) | baseline d (median) | source | cannot reproduce |",
        "|---|---|---:|---:|---|---|",
    ]
    for name, seen in views.items():
        cadence = FAMILIES[name]
        n = np.median([len(v) for v in seen])
        base = np.median([v.baseline for v in seen])
        rows.append(
            f"| {cadence.name} | {cadence.description} | {n:.0f} | {base:.0f} | "
            f"{cadence.source} | {cadence.limits} |"
        )
    return rows


def _heatmap(leakage: Leakage, path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(6, 9), layout="constrained")
    shown = ax.imshow(leakage.separability, vmin=0, vmax=1, cmap="magma", aspect="auto")
    ax.set_xticks(range(len(leakage.cadences)), leakage.cadences)
    ax.set_yticks(range(len(leakage.inputs)), leakage.inputs, fontsize=7)
    ax.set_title("separability |2 AUC - 1| from CSS cadence")
    figure.colorbar(shown, ax=ax, shrink=0.6)
    figure.savefig(path)
    plt.close(figure)
    return path


def _scores(
    models: Sequence[OnnxClassifier],
    views: Mapping[str, Sequence[LightCurve]],
    labels: Sequence[str],
) -> dict[str, list[float]]:
    return {
        model.bundle.name: [macro_f1(model, seen, labels) for seen in views.values()]
        for model in models
    }


def leakage_section(
    models: Sequence[OnnxClassifier],
    curves: Sequence[LightCurve],
    labels: Sequence[str],
    out_dir: Path,
    data: str,
) -> list[str]:
    """The Markdown section (and its heatmap under ``out_dir``); the image is built on the
    first model's grid."""
    model = models[0]
    rng = np.random.default_rng(SEED)
    others = {name: [view(c, cadence, rng) for c in curves] for name, cadence in CADENCES.items()}
    views = {CSS.name: list(curves), **others}  # one draw, shared by every table
    leakage = audit(curves, others, model.bundle.grid, IMAGE_NORMALISATION, SEED)
    picture = _heatmap(leakage, out_dir / "leakage.png")
    columns = list(leakage.cadences)
    flagged = leakage.leaking()
    return [
        "## Which inputs encode the survey",
        "",
        f"The same objects ({data}) at CSS cadence and as each other survey would have sampled",
        "them (`training/cadences.py`: real points kept, never invented; the star moved into",
        "the survey's magnitude range with its errors):",
        "",
        *_cadence_rows(views),
        "",
        "**Separability** `|2 AUC - 1|` of each input between the CSS sampling and each other",
        "(0: the input cannot tell the surveys apart; 1: it always can; the image: a",
        "cross-validated logistic regression on its pixels; `training/leakage.py`), with the",
        f"{model.bundle.name} card's grid and the models' image normalisation; the",
        "periodogram features as the 2.x models compute them (`refined`):",
        "",
        *number_table(
            "input", columns, dict(zip(leakage.inputs, leakage.separability.tolist(), strict=True))
        ),
        "",
        f"![separability]({picture.name})",
        "",
        "**Shift**: the median move of an input between two samplings of one object, in units",
        "of its spread between CSS objects (interquartile range; the image: L1 distance over",
        "the median L1 distance between two CSS objects):",
        "",
        *number_table(
            "input", columns, dict(zip(leakage.inputs, leakage.shift.tolist(), strict=True))
        ),
        "",
        f"`{IMAGE_MINUS_BACKGROUND}`: the image minus the mean image of the same sampling's",
        "other objects (each half of the objects takes the other half's), as the stream",
        "subtracts its survey backgrounds. It removes what every object of a survey shares;",
        "what the subtraction leaves of the shift is how differently the survey's sampling",
        "changes each object's image.",
        "",
        f"Separability above {LEAK_THRESHOLD} at some cadence ({len(flagged)} inputs): "
        + ", ".join(f"`{name}`" for name in flagged)
        + ".",
        "",
        "Macro-F1 of the shipped models on the same curves at each cadence (7 classes):",
        "",
        *number_table("model", list(views), _scores(models, views, labels)),
    ]
