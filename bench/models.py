"""Benchmark: the in-process cost of model bundles against a baseline bundle, interleaved.

    python bench/models.py BASELINE BUNDLE [BUNDLE ...] [--repeat 300]

Each argument is a bundle name in the models folder or a bundle path. Every bundle scores
the same real 289-point CSS curve, one curve a call and then batches of 64; calls alternate
between bundles so that a noisy machine slows them alike. Prints p50/p99 per curve and
batch throughput, each beside its ratio to the first bundle. For a model change: pass the
previous bundle first (``git show OLD:models/NAME/...`` into a folder) and the new one after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import CURVE  # noqa: E402
from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from classifier.registry import find_bundle  # noqa: E402

BATCH = 64


def interleaved(models: list[OnnxClassifier], curves: list, repeat: int) -> list[list[float]]:
    """Seconds of each call, per model; the models take turns, after one warm-up call each."""
    for model in models:
        model.predict_curves(curves)
    seconds: list[list[float]] = [[] for _ in models]
    for _ in range(repeat):
        for model, spent in zip(models, seconds, strict=True):
            start = time.perf_counter()
            model.predict_curves(curves)
            spent.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", help="baseline first; names or paths")
    parser.add_argument("--repeat", type=int, default=300, help="single-curve calls a bundle")
    args = parser.parse_args()
    if len(args.bundles) < 2:
        parser.error("give a baseline bundle and at least one more")
    curve = read_file(CURVE)[0].curve()
    models = [OnnxClassifier(find_bundle(name)) for name in args.bundles]
    single = interleaved(models, [curve], args.repeat)
    batched = interleaved(models, [curve] * BATCH, max(3, args.repeat // 30))
    base_p50 = np.percentile(single[0], 50)
    base_rate = BATCH / np.median(batched[0])
    print(f"{len(curve)}-point curve, {args.repeat} calls a bundle, interleaved, CPU")
    print("| bundle | grid | p50 / p99 ms | p50 ratio | curves/s, batches of 64 | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for name, model, spent, spent_batch in zip(args.bundles, models, single, batched, strict=True):
        p50, p99 = np.percentile(spent, 50), np.percentile(spent, 99)
        rate = BATCH / np.median(spent_batch)
        print(
            f"| {name} | {model.bundle.grid.name} | {p50 * 1e3:.2f} / {p99 * 1e3:.2f} | "
            f"{p50 / base_p50:.2f} | {rate:,.0f} | {rate / base_rate:.2f} |"
        )


if __name__ == "__main__":
    main()
