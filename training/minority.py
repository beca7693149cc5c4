"""Minority classes (RRd, LPV and RS CVn have 174-529 training curves against ~700): four
ways to train the study network, compared on macro-F1 and the minority classes' recall.

* ``none``: plain cross-entropy;
* ``class weights``: inverse-frequency weights in the loss (what the shipped models do);
* ``oversampling``: minority curves repeated until every class has as many as the largest;
* ``error-bar resampling``: as many new curves, each magnitude drawn within its error bar
  (Gaussian, sigma = err), as the paper tried (it found no gain).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from tqdm import tqdm

from classifier.grid import DmDtGrid
from training.augment import resampled_within_errors
from training.paper import CLASSES
from training.study import StudyData, predict, scores, study_images, train_net

METHODS = ("none", "class weights", "oversampling", "error-bar resampling")


def balanced_extra(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices of training curves to add (with repeats) so every class matches the largest."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    extra = [
        rng.choice(np.flatnonzero(labels == c), counts.max() - counts[c])
        for c in range(len(counts))
        if 0 < counts[c] < counts.max()
    ]
    return np.concatenate(extra) if extra else np.zeros(0, dtype=np.int64)


def minority_study(
    data: StudyData, grid: DmDtGrid, images: dict[str, np.ndarray], baseline: dict
) -> dict[str, dict]:
    """``{method: {"macro_f1": ..., "recall": {class: ...}}}`` on the test part, from
    ``images`` of each part on ``grid``; ``class weights`` is the baseline's."""
    y_train = data.labels["train"]
    extra = balanced_extra(y_train, data.config.seed)
    rng = np.random.default_rng(data.config.seed)
    resampled = [resampled_within_errors(data.curves["train"][i], rng) for i in extra]
    resampled_images = study_images(resampled, grid)
    train_sets = {
        "none": (images["train"], y_train),
        "oversampling": (
            np.concatenate([images["train"], images["train"][extra]]),
            np.concatenate([y_train, y_train[extra]]),
        ),
        "error-bar resampling": (
            np.concatenate([images["train"], resampled_images]),
            np.concatenate([y_train, y_train[extra]]),
        ),
    }
    results = {"class weights": baseline}
    unweighted = replace(data.config, class_weighted=False)
    for method, (x, y) in tqdm(train_sets.items(), desc="minority methods", leave=False):
        model = train_net(
            x, y, images["val"], data.labels["val"], len(CLASSES), unweighted, desc=method
        )
        results[method] = scores(data.labels["test"], predict(model, images["test"]))
    return {method: results[method] for method in METHODS}
