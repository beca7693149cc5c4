"""The paper's comparison: light-curve features and a random forest (scikit-learn).

A training artefact for the report, stored with joblib inside the run folder; it is never
served (bundles are ONNX only).
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

FILE = "forest.joblib"


def fit_forest(features: np.ndarray, labels: np.ndarray, seed: int) -> RandomForestClassifier:
    model = RandomForestClassifier(
        n_estimators=500,
        class_weight="balanced_subsample",
        min_samples_leaf=1,
        n_jobs=-1,
        random_state=seed,
    )
    return model.fit(features, labels)


def save(model: RandomForestClassifier, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / FILE)


def load(folder: Path) -> RandomForestClassifier:
    return joblib.load(folder / FILE)
