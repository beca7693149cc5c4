"""How well can 20 (or 50) points be classified at all? A specialist random forest trained
and tested only on the first k points of each curve, on a run's split.

    python -m training.short_curve_ceiling ../shared/data/crts_css/lightcurves \\
        reports/css-hybrid/split.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from classifier.features import feature_matrix
from training.dataset import Example, Split, load_examples
from training.forest import fit_forest
from training.paper import CLASSES


def _first_k(examples: list[Example], k: int) -> tuple[np.ndarray, np.ndarray]:
    features = feature_matrix([e.curve.first(k) for e in examples])
    return features, np.array([CLASSES.index(e.label) for e in examples])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("split", type=Path)
    parser.add_argument("--points", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    split = Split.load(args.split)
    train = load_examples(args.data_dir, split.parts["train"], "reading train")
    test = load_examples(args.data_dir, split.parts["test"], "reading test")
    for k in args.points:
        model = fit_forest(*_first_k(train, k), args.seed)
        features, labels = _first_k(test, k)
        score = f1_score(labels, model.predict(features), average="macro")
        print(f"specialist random forest, first {k} points: test macro-F1 {score:.3f}")
    spans = [e.curve.first(20).baseline for e in test]
    nights = [len(np.unique(np.floor(e.curve.first(20).t))) for e in test]
    print(
        f"first 20 points: median span {np.median(spans):.0f} d over {np.median(nights):.0f} nights"
    )


if __name__ == "__main__":
    main()
