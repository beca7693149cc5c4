"""Is a model better than another on the same held-out CSS curves, beyond what the test split
resolves? A paired bootstrap of the macro-F1 difference (the 7 classes).

    python -m training.compare NEW BASELINE DATA_DIR SPLIT_JSON [--resamples 2000]

NEW and BASELINE are bundle folders; the test curves of ``SPLIT_JSON`` are scored whole and
cut to their first 20 and 50 points, both models answering the same curves; each resample
draws the curves with replacement and recomputes both scores on it. Prints the median
difference, its 95% interval and the share of resamples where NEW scores higher.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from classifier.bundle import load_bundle
from classifier.features import FEATURE_NAMES
from classifier.inference import OnnxClassifier
from classifier.model_input import model_inputs, select_features
from training.dataset import Split, load_examples
from training.evaluate import first_points
from training.paper import CLASSES

POINTS = (20, 50, None)  # None: the whole curve


@dataclass(frozen=True)
class Difference:
    """NEW's macro-F1 minus BASELINE's: on the curves, and over the resamples."""

    new: float
    baseline: float
    median: float
    low: float  # 2.5th percentile
    high: float  # 97.5th percentile
    share_better: float


def _macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(
        f1_score(labels, predicted, average="macro", labels=range(len(CLASSES)), zero_division=0)
    )


def macro_f1_difference(
    labels: np.ndarray,
    new: np.ndarray,
    baseline: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
) -> Difference:
    """The paired bootstrap of ``new``'s macro-F1 minus ``baseline``'s (predicted class
    indices of the same curves; an index past the 7 classes, e.g. ``other``, is wrong)."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    differences = np.empty(resamples)
    for k in range(resamples):
        drawn = rng.integers(0, n, n)
        differences[k] = _macro_f1(labels[drawn], new[drawn]) - _macro_f1(
            labels[drawn], baseline[drawn]
        )
    low, median, high = np.percentile(differences, [2.5, 50, 97.5])
    return Difference(
        _macro_f1(labels, new),
        _macro_f1(labels, baseline),
        float(median),
        float(low),
        float(high),
        float((differences > 0).mean()),
    )


def _answers(model: OnnxClassifier, curves: list) -> np.ndarray:
    bundle = model.bundle
    inputs = model_inputs(curves, bundle.grid, FEATURE_NAMES, periodogram=bundle.periodogram)
    return model.logits(select_features(inputs, bundle.feature_names)).argmax(axis=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("new", type=Path, help="the bundle folder to judge")
    parser.add_argument("baseline", type=Path, help="the bundle folder it is judged against")
    parser.add_argument("data_dir", type=Path, help="folder of CSS light curves")
    parser.add_argument("split", type=Path, help="split.json of the runs (its test part)")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    test = load_examples(args.data_dir, Split.load(args.split).parts["test"], "reading test")
    labels = np.array([CLASSES.index(e.label) for e in test])
    models = [OnnxClassifier(load_bundle(folder)) for folder in (args.new, args.baseline)]
    print(f"\n{args.new.name} against {args.baseline.name}, {len(test)} test curves")
    print("| points | new | baseline | difference: median [95% interval] | share better |")
    print("|---|---:|---:|---:|---:|")
    for k in POINTS:
        curves = first_points([e.curve for e in test], k)
        new, baseline = (_answers(model, curves) for model in models)
        d = macro_f1_difference(labels, new, baseline, args.resamples)
        print(
            f"| {k or 'all'} | {d.new:.3f} | {d.baseline:.3f} | "
            f"{d.median:+.3f} [{d.low:+.3f}, {d.high:+.3f}] | {d.share_better:.2f} |"
        )


if __name__ == "__main__":
    main()
