"""``dmdt train``: from a folder of CSS light curves to candidate model bundles.

Steps: split (written to ``split.json``); read; add partial views of the training curves
(and, when asked, the EROS-1 training part as members with set labels);
build images and features once; train each network (early stopping on validation), fit its
temperature and unknown threshold on validation, export it as a checked ONNX bundle under
``candidates/<architecture>``; fit the random-forest baseline on the same features; compute
the backgrounds; write ``run.json``. ``dmdt evaluate`` then measures everything on the test
split and names the model to ship.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score

from classifier import defaults
from classifier.features import FEATURE_NAMES, NEW_MODELS_PERIODOGRAM, Periodogram
from classifier.grid import DmDtGrid
from classifier.inference import softmax
from classifier.model_input import model_inputs, select_features
from training import forest
from training.augment import MIN_POINTS, with_partial_views
from training.backgrounds import compute_backgrounds
from training.cadences import CADENCES
from training.dataset import Example, Split, list_css, load_examples
from training.distill import teacher_answers
from training.eros_members import eros_members
from training.export import write_bundle
from training.fit import (
    PAPER_FIT,
    FitConfig,
    Schedule,
    fit,
    fit_temperature,
    predict_logits,
)
from training.label_sets import label_mask
from training.nets import ARCHITECTURES, build, uses_features
from training.other_class import OTHER, OtherSources, other_curves
from training.paper import CLASSES

WEIGHTS = "weights.pt"  # a network's trained weights, beside its bundle (dmdt ensemble reads them)
UNKNOWN_QUANTILE = 0.05  # validation curves of the 7 classes rejected (other or unknown)


@dataclass(frozen=True)
class TrainSettings:
    data_dir: Path
    out_dir: Path
    bins: str = defaults.TRAINING_GRID
    seed: int = defaults.TRAINING_SEED  # training: initial weights, shuffles, partial views
    split_seed: int | None = None  # the split's seed; None: ``seed``
    variants: int = defaults.PARTIAL_VIEWS
    noisy_share: float = defaults.NOISY_SHARE  # share of partial views redrawn within errors
    cadence_views: int = 0  # rounds of every other survey's view of each curve
    features: tuple[str, ...] = FEATURE_NAMES  # the hybrid's and the forest's features
    periodogram: Periodogram = NEW_MODELS_PERIODOGRAM  # how their periodogram is computed
    other: OtherSources | None = None  # train the class "other" from these non-members
    eros_dir: Path | None = None  # EROS-1 folder: its train part joins the training curves
    eros_limit: int | None = None  # at most this many EROS curves a type and band
    architectures: tuple[str, ...] = ARCHITECTURES
    trunk_channels: tuple[int, int] = defaults.TRUNK_CHANNELS  # the convolution widths
    max_epochs: int | None = None  # None: each architecture's default
    schedule: Schedule = "plateau"  # the learning rate's (training/fit.py)
    weight_average: float = 0.0  # decay of the weights' moving average a step (0: none)
    teacher: Path | None = None  # a bundle whose answers the networks also learn (distill.py)
    distill_weight: float = 0.5  # the teacher's share of the loss
    per_class: int | None = None  # keep at most this many curves a class (quick runs, tests)
    version: str = defaults.MODEL_VERSION
    extra: dict[str, str] = field(default_factory=dict)


def _limit(names: dict[str, str], per_class: int | None, seed: int) -> dict[str, str]:
    if per_class is None:
        return names
    rng = np.random.default_rng(seed)
    kept = {}
    for label in sorted(set(names.values())):
        chosen = sorted(n for n, lab in names.items() if lab == label)
        for i in sorted(rng.permutation(len(chosen))[:per_class]):
            kept[chosen[i]] = label
    return kept


def _fit_config(architecture: str, settings: TrainSettings) -> FitConfig:
    base = PAPER_FIT if architecture == "mahabal2017" else FitConfig(seed=settings.seed)
    epochs = settings.max_epochs or base.max_epochs
    return FitConfig(
        lr=base.lr,
        weight_decay=base.weight_decay,
        batch_size=base.batch_size,
        max_epochs=epochs,
        patience=min(base.patience, max(epochs // 2, 1)),
        seed=settings.seed,
        schedule=settings.schedule,
        weight_average=settings.weight_average,
        distill_weight=settings.distill_weight,
    )


def unknown_threshold(probabilities: np.ndarray) -> float:
    """The top probability under which a curve is flagged unknown, set on validation curves
    of the 7 classes so that :data:`UNKNOWN_QUANTILE` of them are rejected in all: answered
    ``other`` (a column after the 7, in models that have it) or flagged.

    >>> members = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]])
    >>> tops = [0.9, 0.6, 0.8, 0.7]  # none answered other: the plain quantile
    >>> bool(unknown_threshold(members) == np.quantile(tops, UNKNOWN_QUANTILE))
    True
    """
    top = probabilities.max(axis=1)
    answered_member = probabilities.argmax(axis=1) < len(CLASSES)
    to_flag = UNKNOWN_QUANTILE * len(top) - np.count_nonzero(~answered_member)
    if to_flag <= 0:  # answering ``other`` already rejects that many
        return 0.0
    return float(np.quantile(top[answered_member], to_flag / np.count_nonzero(answered_member)))


def _temperature_weights(y_val: np.ndarray) -> np.ndarray:
    """Validation weights for the temperature: the ``other`` examples together weigh as much
    as one of the 7 classes on average, so the 7 classes' calibration is what is fitted
    (``other`` is most of the validation set, and easy)."""
    weights = np.ones(len(y_val))
    other = y_val >= len(CLASSES)
    if other.any():
        weights[other] = (~other).sum() / (len(CLASSES) * other.sum())
    return weights


def _with_eros(
    settings: TrainSettings, curves: list, labels: list[str], log
) -> dict[str, int] | None:
    """Add the EROS-1 training curves (with their partial views, no cadence views: EROS is
    a survey of its own) to ``curves`` and ``labels``; returns the label counts."""
    if settings.eros_dir is None:
        return None
    found, found_labels = eros_members(
        settings.eros_dir, settings.other is not None, settings.eros_limit
    )
    views, view_labels = with_partial_views(
        found, found_labels, settings.variants, settings.seed + 1, settings.noisy_share
    )
    curves.extend(views)
    labels.extend(view_labels)
    counts = {label: found_labels.count(label) for label in sorted(set(found_labels))}
    log(f"EROS-1 training curves: {counts}, {len(views)} views")
    return counts


def run_classes(other: OtherSources | None) -> tuple[str, ...]:
    """The classes a run trains: the 7, and ``other`` when it has sources for it."""
    return CLASSES if other is None else (*CLASSES, OTHER)


def _with_other(
    settings: TrainSettings, split: Split, examples: dict[str, list[Example]], log
) -> tuple[tuple[str, ...], dict[str, tuple[list, list[str]]], dict[str, int]]:
    """The classes, and per part the curves and labels, with the class ``other`` added
    when the settings ask for it; and how many ``other`` training curves each source gave."""
    parts = {
        part: ([e.curve for e in examples[part]], _labels(examples[part]))
        for part in ("train", "val")
    }
    classes = run_classes(settings.other)
    if settings.other is None:
        return classes, parts, {}
    sources: dict[str, int] = {}
    for part, (curves, labels) in parts.items():
        found = other_curves(part, split, settings.data_dir, curves, settings.other, settings.seed)
        for source, extra in found.items():
            curves.extend(extra)
            labels.extend([OTHER] * len(extra))
            if part == "train":
                sources[source] = len(extra)
    log("class other, training curves: " + ", ".join(f"{k} {v}" for k, v in sources.items()))
    return classes, parts, sources


def _labels(examples: list[Example]) -> list[str]:
    return [e.label for e in examples]


def _training_data(
    settings: TrainSettings,
    split_seed: int,
    train_curves: int,
    train_views: int,
    parts: dict[str, tuple[list, list[str]]],
    classes: tuple[str, ...],
    other_sources: dict[str, int],
) -> dict[str, Any]:
    """What the card says about the training data."""
    training_data: dict[str, Any] = {
        "survey": "CSS (Catalina Sky Survey, Drake et al. 2014)",
        "split_seed": split_seed,
        "training_seed": settings.seed,
        "train_curves": train_curves,
        "train_views": train_views,
        "train_per_class": {c: parts["train"][1].count(c) for c in classes},
        "partial_views": f"{settings.variants} a curve: first k points (k log-uniform 5..n) "
        "or a 30-100% subsample",
        "noisy_share": f"{settings.noisy_share:.0%} of the partial views have every magnitude "
        "redrawn within its error bar (Gaussian, sigma = err)",
        "cadence_views": f"{settings.cadence_views} a curve of each of "
        f"{', '.join(CADENCES)} (training/cadences.py), half cut to their first k points",
        "features": list(settings.features),
        "trunk_channels": list(settings.trunk_channels),
        "fit": f"learning rate schedule {settings.schedule}, weights' moving average "
        + (f"decay {settings.weight_average} a step" if settings.weight_average else "none"),
    }
    if other_sources:
        training_data["other"] = {
            "sources": other_sources,
            "what": "CSS classes outside the 7, constant stars on real CSS cadences, real "
            "transients (Open Supernova Catalog), real quasars (Gaia DR3); split by a hash of "
            "the name (training/nonmembers.py)",
        }
    return training_data


def _fit_forest(
    settings: TrainSettings,
    features: np.ndarray,
    y_train: np.ndarray,
    val_features: np.ndarray,
    y_val: np.ndarray,
    log,
) -> dict[str, Any]:
    """The random-forest baseline, on the training examples of one class (not the sets)."""
    single = y_train.sum(axis=1) == 1
    model = forest.fit_forest(features[single], y_train[single].argmax(axis=1), settings.seed)
    forest.save(model, settings.out_dir / "candidates" / "forest")
    val_f1 = float(f1_score(y_val, model.predict(val_features), average="macro"))
    log(f"forest: validation macro-F1 {val_f1:.3f}")
    return {
        "validation_macro_f1": val_f1,
        "feature_names": list(settings.features),
        "periodogram": settings.periodogram,
    }


@dataclass(frozen=True)
class Prepared:
    """The curves a run trains and validates on: the split (written to ``split.json``), its
    CSS examples, the classes, and per part the curves and labels (``other`` added)."""

    split_seed: int
    split: Split
    examples: dict[str, list[Example]]
    classes: tuple[str, ...]
    parts: dict[str, tuple[list, list[str]]]
    other_sources: dict[str, int]

    @property
    def y_val(self) -> np.ndarray:
        return np.array([self.classes.index(label) for label in self.parts["val"][1]])


def prepare(settings: TrainSettings, log=print) -> Prepared:
    """Split the CSS curves, write ``split.json`` into the run folder, read the training and
    validation curves, and add the class ``other`` when the settings ask for it."""
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    split_seed = settings.seed if settings.split_seed is None else settings.split_seed
    names = _limit(list_css(settings.data_dir), settings.per_class, split_seed)
    split = Split.make(names, split_seed)
    split.save(settings.out_dir / "split.json")
    examples = {
        part: load_examples(settings.data_dir, split.parts[part], f"reading {part}")
        for part in ("train", "val")
    }
    log(
        f"split (seed {split_seed}): "
        + ", ".join(f"{part} {len(names)}" for part, names in split.parts.items())
    )
    classes, parts, other_sources = _with_other(settings, split, examples, log)
    return Prepared(split_seed, split, examples, classes, parts, other_sources)


@dataclass(frozen=True)
class Calibration:
    """A network's temperature and unknown threshold, fitted on validation logits."""

    temperature: float
    unknown_threshold: float
    validation_macro_f1: float


def calibrate(logits: np.ndarray, y_val: np.ndarray) -> Calibration:
    """Fit the temperature (the 7 classes weighted as described in ``_temperature_weights``)
    and set the unknown threshold on the validation members of the 7 classes."""
    temperature = fit_temperature(logits, y_val, _temperature_weights(y_val))
    probabilities = softmax(logits, temperature)
    members = y_val < len(CLASSES)
    return Calibration(
        temperature,
        unknown_threshold(probabilities[members]),
        float(f1_score(y_val, probabilities.argmax(axis=1), average="macro")),
    )


def write_bundle_run(
    settings: TrainSettings,
    made_from: dict[str, list[str]],
    calibration: Calibration,
    disagreement: float,
    started: float,
) -> dict:
    """Write (and return) ``run.json`` of a run whose one candidate, ``hybrid``, was made
    from other bundles or runs (``made_from``: what, named), for ``dmdt evaluate``."""
    report = {
        "settings": {k: str(v) for k, v in asdict(settings).items()},
        **made_from,
        "candidates": {
            "hybrid": {
                "validation_macro_f1": calibration.validation_macro_f1,
                "temperature": calibration.temperature,
                "onnx_max_abs_logit_diff": disagreement,
            }
        },
        "seconds": round(time.time() - started, 1),
    }
    (settings.out_dir / "run.json").write_text(json.dumps(report, indent=1))
    return report


def train(settings: TrainSettings, log=print) -> dict:
    """Run every step; returns (and writes to ``run.json``) what was trained and how it did."""
    started = time.time()
    out = settings.out_dir
    prepared = prepare(settings, log)
    split_seed, examples = prepared.split_seed, prepared.examples
    classes, parts, other_sources = prepared.classes, prepared.parts, prepared.other_sources
    grid = DmDtGrid.preset(settings.bins)
    curves, labels = with_partial_views(
        *parts["train"],
        settings.variants,
        settings.seed,
        settings.noisy_share,
        settings.cadence_views,
    )
    eros_counts = _with_eros(settings, curves, labels, log)
    y_train = label_mask(labels, classes)
    val_curves = parts["val"][0]
    y_val = prepared.y_val
    log(
        f"building images and features: {len(curves)} training views "
        f"({settings.variants} partial views a curve, {settings.noisy_share:.0%} of them "
        f"noisier, {settings.cadence_views} x {len(CADENCES)} survey cadence views), "
        f"{len(y_val)} validation curves, {len(settings.features)} features"
    )
    # Every feature (light-curve computes them all whichever are asked), cut to the run's;
    # a teacher's inputs are cut from the same.
    built = model_inputs(curves, grid, FEATURE_NAMES, periodogram=settings.periodogram)
    train_in = select_features(built, settings.features)
    val_in = model_inputs(val_curves, grid, settings.features, periodogram=settings.periodogram)
    mean = train_in["features"].mean(axis=0)
    scale = np.maximum(train_in["features"].std(axis=0), 1e-6)
    stats = (torch.as_tensor(mean), torch.as_tensor(scale))

    full_train = model_inputs([e.curve for e in examples["train"]], grid, features=None)
    backgrounds = compute_backgrounds(
        full_train["image"][:, 0], _labels(examples["train"]), CLASSES
    )
    training_data = _training_data(
        settings, split_seed, len(examples["train"]), len(curves), parts, classes, other_sources
    )
    training_data["validation_curves"] = len(examples["val"])
    soft = None
    if settings.teacher is not None:
        soft, teacher = teacher_answers(
            settings.teacher, classes, curves, built, grid, settings.periodogram
        )
        training_data["teacher"] = {
            "bundle": teacher,
            "distill_weight": settings.distill_weight,
            "what": "the loss is (1 - w) x the labels' plus w x the cross-entropy against the "
            "teacher's probabilities for every training view (training/distill.py)",
        }
        log(f"teacher {teacher}: answers for {len(soft)} training views")
    if eros_counts is not None:
        training_data["eros"] = {
            "curves": eros_counts,
            "what": "EROS-1 LMC train part (ramp-kits/variable_stars), B and R curves of 5+ "
            "points; binary -> EW|EA, RR Lyrae -> RRab|RRc|RRd (partial-label loss), Mira -> "
            "LPV, Cepheid -> other; the test part is held out",
        }

    report: dict[str, Any] = {
        "settings": {k: str(v) for k, v in asdict(settings).items()},
        "candidates": {},
    }
    for architecture in settings.architectures:
        pick = (lambda d: d) if uses_features(architecture) else (lambda d: {"image": d["image"]})
        model = build(architecture, grid.shape, len(classes), stats, settings.trunk_channels)
        result = fit(
            model,
            pick(train_in),
            y_train,
            pick(val_in),
            y_val,
            len(classes),
            _fit_config(architecture, settings),
            desc=architecture,
            soft_targets=soft,
        )
        calibration = calibrate(predict_logits(result.model, pick(val_in)), y_val)
        folder = out / "candidates" / architecture
        disagreement = write_bundle(
            result.model,
            folder,
            name=f"css-{architecture}",
            version=settings.version,
            architecture=architecture,
            grid=grid,
            classes=classes,
            check_inputs={k: v[:256] for k, v in pick(val_in).items()},
            temperature=calibration.temperature,
            unknown_threshold=calibration.unknown_threshold,
            min_points=MIN_POINTS,
            backgrounds=backgrounds,
            training_data=training_data,
            metrics={
                "validation_macro_f1": calibration.validation_macro_f1,
                "best_epoch": result.best_epoch,
            },
            feature_names=settings.features if uses_features(architecture) else None,
            periodogram=settings.periodogram,
        )
        torch.save(result.model.state_dict(), folder / WEIGHTS)
        (folder / "history.json").write_text(json.dumps(result.history))
        report["candidates"][architecture] = {
            "validation_macro_f1": calibration.validation_macro_f1,
            "best_epoch": result.best_epoch,
            "temperature": calibration.temperature,
            "onnx_max_abs_logit_diff": disagreement,
        }
        log(
            f"{architecture}: validation macro-F1 {calibration.validation_macro_f1:.3f} "
            f"(epoch {result.best_epoch}), T = {calibration.temperature:.2f}, "
            f"ONNX vs PyTorch max |logit diff| {disagreement:.1e}"
        )

    report["candidates"]["forest"] = _fit_forest(
        settings, train_in["features"], y_train, val_in["features"], y_val, log
    )
    report["seconds"] = round(time.time() - started, 1)
    (out / "run.json").write_text(json.dumps(report, indent=1))
    log(f"done in {report['seconds']:.0f} s: {out}")
    return report
