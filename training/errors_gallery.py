"""Misclassified sources: the most confident errors of a model on the test curves, each with
its light curve, its dm-dt image and its probabilities, so a person can judge label noise vs.
sparse curves vs. truly close classes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve
from classifier.model_input import model_inputs


def confident_errors(
    model: OnnxClassifier,
    curves: Sequence[LightCurve],
    labels: Sequence[str],
    names: Sequence[str],
    count: int,
) -> list[dict]:
    """The ``count`` wrong answers with the highest confidence, most confident first."""
    predictions = model.predict_curves(curves)
    wrong = [i for i, (p, t) in enumerate(zip(predictions.labels, labels, strict=True)) if p != t]
    wrong.sort(key=lambda i: -predictions.confidence[i])
    classes = predictions.classes
    return [
        {
            "name": names[i],
            "truth": labels[i],
            "predicted": predictions.labels[i],
            "confidence": float(predictions.confidence[i]),
            "probabilities": dict(zip(classes, predictions.probabilities[i].tolist(), strict=True)),
            "curve": curves[i],
        }
        for i in wrong[:count]
    ]


def gallery_figure(model: OnnxClassifier, errors: list[dict], path: Path) -> Path:
    """One row per error: the light curve, its model image, the probabilities."""
    figure, axes = plt.subplots(
        len(errors), 3, figsize=(13, 2.4 * len(errors)), layout="constrained", squeeze=False
    )
    for row, error in zip(axes, errors, strict=True):
        curve: LightCurve = error["curve"]
        row[0].errorbar(curve.t, curve.mag, curve.err, fmt=".", markersize=2, linewidth=0.5)
        row[0].invert_yaxis()
        row[0].set_title(
            f"{error['name']}: {error['truth']} called {error['predicted']} "
            f"({error['confidence']:.2f}), {len(curve)} points",
            fontsize=8,
        )
        row[0].set_xlabel("MJD", fontsize=7)
        image = model_inputs([curve], model.bundle.grid, features=None)["image"][0, 0]
        row[1].imshow(image, origin="lower", aspect="auto", cmap="viridis")
        row[1].set_title("dm-dt image (rows dm, columns dt)", fontsize=8)
        row[1].set_xticks([])
        row[1].set_yticks([])
        names = list(error["probabilities"])
        values = [error["probabilities"][n] for n in names]
        colours = ["tab:green" if n == error["truth"] else "tab:grey" for n in names]
        row[2].barh(names, values, color=colours)
        row[2].set_xlim(0, 1)
        row[2].set_title("probabilities (true class in green)", fontsize=8)
        row[2].tick_params(labelsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
