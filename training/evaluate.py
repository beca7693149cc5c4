"""``dmdt evaluate``: every candidate of a training run, measured on the test split.

Networks are scored through their exported ONNX bundles (what ships is what is measured);
the random forest through scikit-learn. Inputs are built once per set (with every feature;
each candidate takes the features it was trained on) and shared: the full test curves, their
first k points in time order, the test curves as each other survey would have sampled them
(:mod:`training.cadences`), and the "other" classes; the cadence views, the held-out
non-members and EROS-1 whole and cut to their first 20 and 50 points. The model to ship
is the network with the best *validation* macro-F1 (the test split only reports), or the one
``run.json`` names (a run of installed bundles, :mod:`training.bundle_run`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.bundle import CARD, load_bundle
from classifier.features import EARLIER_MODELS_PERIODOGRAM, FEATURE_NAMES, Periodogram
from classifier.grid import DmDtGrid
from classifier.inference import OnnxClassifier, softmax
from classifier.lightcurve import LightCurve
from classifier.model_input import model_inputs, select_features
from training import forest
from training.cadences import MIN_POINTS, survey_views
from training.dataset import Split, label_of, load_examples
from training.metrics import (
    classification_metrics,
    rejected,
    shift_to_paper_prior,
    unknown_separation,
)
from training.nonmembers import part_of
from training.other_class import OTHER
from training.paper import CLASSES
from training.transfer import GROUPS, ErosSet, group_accuracy

POINTS = (5, 10, 20, 50, 100, None)  # None: the whole curve
SHORT = (20, 50)  # the other sets (cadences, non-members, EROS) are also cut to these
CADENCE_SEED = 2017  # the other surveys' views of the test curves


@dataclass(frozen=True)
class Candidate:
    """A trained model as the evaluation sees it: raw and calibrated probabilities."""

    name: str
    kind: str  # "network" or "forest"
    score: Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]
    unknown_threshold: float | None
    validation_macro_f1: float
    grid: DmDtGrid | None = None  # the grid a network's images are built on
    classes: tuple[str, ...] = CLASSES  # its answers, in column order
    periodogram: Periodogram = EARLIER_MODELS_PERIODOGRAM  # how its periodogram is computed


def _network(folder: Path, validation_f1: float) -> Candidate:
    model = OnnxClassifier(load_bundle(folder))
    temperature = model.bundle.card.temperature

    def score(inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        logits = model.logits(select_features(inputs, model.bundle.feature_names))
        return softmax(logits), softmax(logits, temperature)

    return Candidate(
        folder.name,
        "network",
        score,
        model.bundle.card.unknown_threshold,
        validation_f1,
        model.bundle.grid,
        tuple(model.bundle.card.classes),
        model.bundle.periodogram,
    )


def _forest(
    folder: Path, validation_f1: float, features: tuple[str, ...], periodogram: Periodogram
) -> Candidate:
    model = forest.load(folder)

    def score(inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        probabilities = model.predict_proba(select_features(inputs, features)["features"])
        return probabilities, probabilities

    classes = tuple(CLASSES) + ((OTHER,) if len(model.classes_) > len(CLASSES) else ())
    return Candidate(
        "forest", "forest", score, None, validation_f1, classes=classes, periodogram=periodogram
    )


def candidates(run_dir: Path) -> list[Candidate]:
    run = json.loads((run_dir / "run.json").read_text())["candidates"]
    found = []
    for name, info in run.items():
        folder = run_dir / "candidates" / name
        if (folder / CARD).is_file():
            found.append(_network(folder, info["validation_macro_f1"]))
        elif (folder / forest.FILE).is_file():
            names = tuple(info.get("feature_names", FEATURE_NAMES))
            periodogram = info.get("periodogram", EARLIER_MODELS_PERIODOGRAM)
            found.append(_forest(folder, info["validation_macro_f1"], names, periodogram))
    return found


def first_points(curves: Sequence[LightCurve], k: int | None) -> list[LightCurve]:
    """Each curve cut to its first ``k`` points in time order (None: whole)."""
    return [c.first(k) if k and len(c) > k else c for c in curves]


def _eros_scores(model: Candidate, inputs: dict[str, np.ndarray], types: list[str]) -> dict:
    probabilities = model.score(inputs)[1]
    called = [model.classes[i] for i in probabilities.argmax(axis=1)]
    known = [i for i, t in enumerate(types) if t in GROUPS]
    cepheids = np.array([t == "Cepheid" for t in types])
    refused = rejected(probabilities, model.unknown_threshold or 0.0)
    return {
        "n": len(types),
        "group_accuracy": group_accuracy([types[i] for i in known], [called[i] for i in known]),
        "cepheids_other_or_unknown": float(refused[cepheids].mean()) if cepheids.any() else 0.0,
    }


def _at_cadences(
    model: Candidate, by_cadence: Mapping[str, dict[str, np.ndarray]], labels: np.ndarray
) -> tuple[dict[str, float], dict[str, dict[str, float | None]]]:
    """The CSS test curves as each survey would sample them, by cadence: macro-F1, and what
    the answers are (all 7-class curves): the share ``rejected`` (answered ``other`` or
    flagged unknown), the share ``answered_other``, and the accuracy of the answers neither
    (``accepted_accuracy``; None when there is none)."""
    threshold = model.unknown_threshold or 0.0
    f1, answers = {}, {}
    for name, inputs in by_cadence.items():
        probabilities = model.score(inputs)[1]
        f1[name] = classification_metrics(probabilities, labels)["macro_f1"]
        refused = rejected(probabilities, threshold)
        called = probabilities.argmax(axis=1)
        accepted = ~refused
        answers[name] = {
            "rejected": float(refused.mean()),
            "answered_other": float((called >= len(CLASSES)).mean()),
            "accepted_accuracy": (
                float((called[accepted] == labels[accepted]).mean()) if accepted.any() else None
            ),
        }
    return f1, answers


def _at_first_points(
    model: Candidate,
    on_grid: Mapping[str, Mapping[str, dict[str, np.ndarray]]],
    length: str,
    css: np.ndarray,
    labels: np.ndarray,
    eros_types: Mapping[str, list[str]],
) -> dict:
    """The sets beside the CSS test split cut to their first points (``length``:
    ``first_k``; ``css``: the model's probabilities for the CSS test curves cut so): macro-F1
    at each cadence, the share of the CSS test curves (at CSS's and each cadence) and of each
    non-member set answered ``other`` or flagged unknown, EROS-1 group accuracy by band."""
    threshold = model.unknown_threshold or 0.0
    f1, answers = _at_cadences(model, on_grid[f"cadences {length}"], labels)
    return {
        "macro_f1_by_cadence": f1,
        "cadence_rejected": {name: found["rejected"] for name, found in answers.items()},
        "css_rejected": float(rejected(css, threshold).mean()),
        "nonmembers_rejected": {
            name: float(rejected(model.score(inputs)[1], threshold).mean())
            for name, inputs in on_grid[f"outside {length}"].items()
        },
        "eros_group_accuracy": {
            band: _eros_scores(model, inputs, eros_types[band])["group_accuracy"]
            for band, inputs in on_grid[f"eros {length}"].items()
        },
    }


def _shipped(run_dir: Path, networks: Sequence[Candidate]) -> tuple[str, str]:
    """The candidate the report leads with, and why: the one ``run.json`` names (a run of
    installed bundles), else the network with the best validation macro-F1."""
    named = json.loads((run_dir / "run.json").read_text()).get("shipped")
    if named:
        return named, "named"
    return max(networks, key=lambda m: m.validation_macro_f1).name, "validation"


def _record_in_card(folder: Path, metrics: dict) -> None:
    """Put the headline test figures into the bundle's card (the hash covers the ONNX only)."""
    card = json.loads((folder / CARD).read_text())
    card["metrics"]["test"] = {
        key: metrics[key]
        for key in (
            "n",
            "macro_f1",
            "accuracy",
            "balanced_accuracy",
            "reweighted_accuracy",
            "ece",
            "ece_before_temperature",
            "macro_f1_by_points",
            "macro_f1_by_cadence",
            "answers_by_cadence",
            "at_first_points",
        )
    }
    card["metrics"]["test"]["recall"] = {c: v["recall"] for c, v in metrics["per_class"].items()}
    card["metrics"]["test"]["unknown_roc_auc"] = metrics["unknown"]["roc_auc"]
    (folder / CARD).write_text(json.dumps(card, indent=1))
    load_bundle(folder)


def evaluate(
    data_dir: Path,
    run_dir: Path,
    log=print,
    nonmembers: Mapping[str, Sequence[LightCurve]] | None = None,
    eros: Mapping[str, ErosSet] | None = None,
) -> dict:
    """Metrics of every candidate (written to ``run_dir/evaluation.json``); ``nonmembers``:
    held-out real curves outside the 7 classes by set (transients, quasars), each measured
    as the "other" classes are; ``eros``: EROS-1 test curves by band, scored by group
    accuracy (binary -> EW/EA, RR Lyrae -> RRab/RRc/RRd, Mira -> LPV) and by the share of
    Cepheids (no CSS class) answered ``other`` or flagged unknown."""
    split = Split.load(run_dir / "split.json")
    models = candidates(run_dir)
    default_grid = next(m.grid for m in models if m.grid is not None)
    test = load_examples(data_dir, split.parts["test"], "reading test")
    other_names = split.parts["other"]
    if any(OTHER in m.classes for m in models):  # trained on some: measure the held-out ones
        other_names = [name for name in other_names if part_of(name) == "test"]
    other = load_examples(data_dir, other_names, "reading other")
    labels = np.array([CLASSES.index(e.label) for e in test])
    train_labels = [label_of(name) for name in split.parts["train"]]
    train_counts = np.array([train_labels.count(c) for c in CLASSES], dtype=np.float64)
    curve_sets: dict[str, dict[str, list[LightCurve]]] = {
        "points": {
            f"first_{k}" if k else "all": first_points([e.curve for e in test], k) for k in POINTS
        },
        "cadences": survey_views([e.curve for e in test], CADENCE_SEED),
        "other": {"css": [e.curve for e in other]},
        "outside": {
            name: [c for c in curves if len(c) >= MIN_POINTS]
            for name, curves in (nonmembers or {}).items()
        },
        "eros": {band: found.curves for band, found in (eros or {}).items()},
    }
    for kind in ("cadences", "outside", "eros"):
        for k in SHORT:
            curve_sets[f"{kind} first_{k}"] = {
                name: first_points(curves, k) for name, curves in curve_sets[kind].items()
            }
    eros_types = {band: found.types for band, found in (eros or {}).items()}
    built: dict[str, dict[str, dict[str, dict[str, np.ndarray]]]] = {}

    def inputs_of(model: Candidate) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """Every set's inputs on the model's grid with its periodogram (built once per
        pair; the forest takes the first network's grid, its features do not depend on it)."""
        grid = model.grid or default_grid
        key = json.dumps([grid.to_dict(), model.periodogram])
        if key not in built:
            built[key] = {
                kind: {
                    name: model_inputs(curves, grid, FEATURE_NAMES, periodogram=model.periodogram)
                    for name, curves in by.items()
                }
                for kind, by in curve_sets.items()
            }
        return built[key]

    log(f"test {len(test)} curves, other {len(other)} curves, {len(models)} candidates")

    results: dict = {
        "models": {},
        "test_size": len(test),
        "other_size": len(other),
        "other_classes": sorted({e.label for e in other}),
    }
    for model in models:
        on_grid = inputs_of(model)
        sets, by_cadence = on_grid["points"], on_grid["cadences"]
        raw, calibrated = model.score(sets["all"])
        metrics = classification_metrics(calibrated, labels)
        metrics["ece_before_temperature"] = classification_metrics(raw, labels)["ece"]
        at_prior = classification_metrics(shift_to_paper_prior(calibrated, train_counts), labels)
        metrics["at_paper_prior"] = {
            "recall": {c: v["recall"] for c, v in at_prior["per_class"].items()},
            "reweighted_accuracy": at_prior["reweighted_accuracy"],
        }
        by_points = {name: model.score(inputs)[1] for name, inputs in sets.items()}
        metrics["macro_f1_by_points"] = {
            name: classification_metrics(probabilities, labels)["macro_f1"]
            for name, probabilities in by_points.items()
        }
        metrics["macro_f1_by_cadence"], metrics["answers_by_cadence"] = _at_cadences(
            model, by_cadence, labels
        )
        metrics["unknown"] = unknown_separation(
            calibrated, model.score(on_grid["other"]["css"])[1], model.unknown_threshold
        )
        metrics["nonmembers"] = {
            name: {
                "n": len(inputs["image"]),
                **unknown_separation(calibrated, model.score(inputs)[1], model.unknown_threshold),
            }
            for name, inputs in on_grid["outside"].items()
        }
        metrics["eros"] = {
            band: _eros_scores(model, band_inputs, eros_types[band])
            for band, band_inputs in on_grid["eros"].items()
        }
        metrics["at_first_points"] = {
            f"first_{k}": _at_first_points(
                model, on_grid, f"first_{k}", by_points[f"first_{k}"], labels, eros_types
            )
            for k in SHORT
        }
        metrics["validation_macro_f1"] = model.validation_macro_f1
        metrics["kind"] = model.kind
        metrics["reliability"] = {
            "confidence": calibrated.max(axis=1).tolist(),
            "correct": (calibrated.argmax(axis=1) == labels).tolist(),
            "confidence_raw": raw.max(axis=1).tolist(),
        }
        results["models"][model.name] = metrics
        if model.kind == "network":
            _record_in_card(run_dir / "candidates" / model.name, metrics)
        at_20 = metrics["macro_f1_by_points"]["first_20"]
        cadence_f1 = ", ".join(f"{k} {v:.3f}" for k, v in metrics["macro_f1_by_cadence"].items())
        log(
            f"{model.name:>12}: test macro-F1 {metrics['macro_f1']:.3f}, accuracy "
            f"{metrics['accuracy']:.3f}, at 20 points {at_20:.3f}; at {cadence_f1}"
        )
    networks = [m for m in models if m.kind == "network"]
    results["shipped"], results["shipped_by"] = _shipped(run_dir, networks)
    (run_dir / "evaluation.json").write_text(json.dumps(results))
    return results
