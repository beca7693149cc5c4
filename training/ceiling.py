"""How well can a curve be classified at all from what a survey gives of it? A specialist
random forest trained and tested only on one kind of view of each curve of a run's split:
its first k points, or one survey's sampling (:mod:`training.cadences`, the test views
being the very ones ``dmdt evaluate`` scores). A reference for the models' scores on the same
views, not a bound: on whole CSS curves the hybrid scores ~0.03 above the forest.

    python -m training.ceiling ../shared/data/crts_css/lightcurves \\
        reports/css-hybrid/split.json --points 20 50 --cadences ztf lsst sparse gaia eros
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from classifier.features import feature_matrix
from classifier.lightcurve import LightCurve
from training.cadences import CADENCES, nights, survey_views
from training.dataset import Split, load_examples
from training.evaluate import CADENCE_SEED
from training.forest import fit_forest
from training.paper import CLASSES


def specialist_f1(
    train: Sequence[LightCurve],
    train_labels: np.ndarray,
    test: Sequence[LightCurve],
    test_labels: np.ndarray,
    seed: int,
) -> float:
    """Test macro-F1 of a forest fitted on ``train``'s features."""
    model = fit_forest(feature_matrix(train), train_labels, seed)
    return float(f1_score(test_labels, model.predict(feature_matrix(test)), average="macro"))


def describe(curves: Sequence[LightCurve]) -> str:
    """Median points, nights (:func:`training.cadences.nights`) and span of ``curves``."""
    per_curve = [len(nights(c.t)) for c in curves]
    return (
        f"median {np.median([len(c) for c in curves]):.0f} points on "
        f"{np.median(per_curve):.0f} nights over {np.median([c.baseline for c in curves]):.0f} d"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("split", type=Path)
    parser.add_argument("--points", type=int, nargs="*", default=[20, 50])
    parser.add_argument("--cadences", nargs="*", default=[], choices=sorted(CADENCES))
    parser.add_argument("--rounds", type=int, default=2, help="views of a training curve")
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    split = Split.load(args.split)
    train = load_examples(args.data_dir, split.parts["train"], "reading train")
    test = load_examples(args.data_dir, split.parts["test"], "reading test")
    train_labels = np.array([CLASSES.index(e.label) for e in train])
    test_labels = np.array([CLASSES.index(e.label) for e in test])
    for k in args.points:
        test_views = [e.curve.first(k) for e in test]
        score = specialist_f1(
            [e.curve.first(k) for e in train], train_labels, test_views, test_labels, args.seed
        )
        print(f"first {k} points ({describe(test_views)}): test macro-F1 {score:.3f}")
    if not args.cadences:
        return
    tested = survey_views([e.curve for e in test], CADENCE_SEED)
    rounds = [survey_views([e.curve for e in train], args.seed + r) for r in range(args.rounds)]
    for name in args.cadences:
        views = [v for made in rounds for v in made[name]]
        score = specialist_f1(
            views, np.tile(train_labels, args.rounds), tested[name], test_labels, args.seed
        )
        print(f"{name} cadence ({describe(tested[name])}): test macro-F1 {score:.3f}")


if __name__ == "__main__":
    main()
