"""Classification metrics of the report, from true labels and class probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from training.paper import CLASSES, PAPER_COUNTS

ECE_BINS = 15


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, ECE_BINS - 1)
    total = 0.0
    for b in range(ECE_BINS):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def reweighted_accuracy(recall: np.ndarray) -> float:
    """Accuracy if the classes occurred as in the paper's sample (two-thirds EW)."""
    prior = np.array([PAPER_COUNTS[c] for c in CLASSES], dtype=np.float64)
    return float(np.dot(prior / prior.sum(), recall))


def shift_to_paper_prior(probabilities: np.ndarray, train_counts: np.ndarray) -> np.ndarray:
    """Bayes prior shift: decisions as if the classes occurred as in the paper's sample,
    ``p'(c|x) ~ p(c|x) * prior_paper(c) / prior_train(c)`` (a column past the 7, ``other``,
    keeps its probability)."""
    paper = np.array([PAPER_COUNTS[c] for c in CLASSES], dtype=np.float64)
    ratio = (paper / paper.sum()) / (train_counts / train_counts.sum())
    ratio = np.r_[ratio, np.ones(probabilities.shape[1] - len(ratio))]
    shifted = probabilities * ratio
    return shifted / shifted.sum(axis=1, keepdims=True)


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, macro-F1, balanced and paper-reweighted accuracy, per-class scores and the
    row-normalised confusion matrix (rows: true class, in :data:`CLASSES` order; columns:
    every answer, ``other`` last when the model has it, so an ``other`` is a miss)."""
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(CLASSES)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    answers = list(range(probabilities.shape[1]))
    counts = confusion_matrix(labels, predicted, labels=answers)[: len(CLASSES)].astype(np.float64)
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": float(
            f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)
        ),
        "balanced_accuracy": float(np.mean(recall)),
        "reweighted_accuracy": reweighted_accuracy(recall),
        "ece": expected_calibration_error(probabilities, labels),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(CLASSES)
        },
        "confusion_row_normalised": rows.tolist(),
    }


def rejected(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Per curve: answered ``other`` (a column past the 7 classes) or flagged unknown (top
    probability below ``threshold``)."""
    return (probabilities.argmax(axis=1) >= len(CLASSES)) | (probabilities.max(axis=1) < threshold)


def unknown_separation(known: np.ndarray, other: np.ndarray, threshold: float | None) -> dict:
    """How well ``1 - (top probability of the 7 classes)`` flags the other classes: ROC AUC
    (other = positive), the share of the others rejected when 5% of the known ones are
    (``rejected_at_5pct``), and, at the card's threshold, the share flagged in each set; a
    model with the class ``other`` (an 8th column) adds the share answered ``other`` or
    flagged unknown (``answered_other_or_unknown``)."""
    members = len(CLASSES)
    known_score = 1.0 - known[:, :members].max(axis=1)
    other_score = 1.0 - other[:, :members].max(axis=1)
    truth = np.r_[np.zeros(len(known_score)), np.ones(len(other_score))]
    result = {
        "roc_auc": float(roc_auc_score(truth, np.r_[known_score, other_score])),
        "rejected_at_5pct": float((other_score > np.quantile(known_score, 0.95)).mean()),
        "median_confidence_other": float(np.median(other.max(axis=1))),
    }
    if threshold is not None:
        result["flagged_known"] = float((known.max(axis=1) < threshold).mean())
        result["flagged_other"] = float((other.max(axis=1) < threshold).mean())
        if other.shape[1] > members:
            for name, probabilities in (("known", known), ("other", other)):
                share = float(rejected(probabilities, threshold).mean())
                result[f"answered_other_or_unknown_{name}"] = share
    return result
