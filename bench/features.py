"""Benchmark: what each feature of the hybrid model costs, and what the periodogram's method
changes in a model's answers.

    python bench/features.py [--data ../shared/data] [--curves 400] [--model NAME]

1. **cost**: real CSS curves cut as the stream holds them (the first 40 points, ~a year of
   CSS; and whole, ~300 points over ~8 years): microseconds a curve, one thread, for each
   feature alone, and for the whole vector with the 1.x models' fixed 2**17-frequency
   periodogram (the baseline, measured in the same run) and with the refined one
   (:mod:`classifier.periodogram`); each row as a ratio to the baseline.
2. **answers**: a bundle (default: the default model) on the same curves (whole, first 20,
   first 50 points, and each simulated survey cadence of the training package when it is
   installed), its features computed with the fixed and with the refined periodogram: the
   share of changed labels and unknown flags, and the largest change of a probability. A
   model is trained with one method (its card's ``periodogram``); this says how far the
   other is from it.
3. **reuse**: a stream rescoring a band whose last coarse pass it kept
   (:class:`classifier.periodogram.CoarsePass`), one point later (a rescoring at each alert)
   and at the most growth a pass serves: the refined periodogram's cost with the pass
   against computing it afresh (the baseline, same run), the share of curves the pass served
   (it does not when the baseline grew more), and, for a bundle trained with the refined
   periodogram (``--model``), its answers with the pass against afresh.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import light_curve as lcf
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier import periodogram as pg  # noqa: E402
from classifier.features import PERIODOGRAMS, _series, basic_features, feature_matrix  # noqa: E402
from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.lightcurve import LightCurve  # noqa: E402
from classifier.model_input import model_inputs  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from classifier.registry import find_bundle  # noqa: E402

PREFIX = 40


def css_curves(folder: Path, count: int) -> list[LightCurve]:
    """The first ``count`` CSS curves of the folder (sorted by name) of 50+ points."""
    curves = []
    for path in sorted(folder.glob("*.csv")):
        curve = read_file(path)[0].curve()
        if len(curve) >= 50:
            curves.append(curve)
        if len(curves) == count:
            break
    return curves


def _seconds_per_curve(run: Callable[[], object], n_curves: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best / n_curves


def _one_thread(extractor: lcf.Extractor, series: list) -> Callable[[], object]:
    return lambda: extractor.many(series, sorted=True, check=False, fill_value=np.nan, n_jobs=1)


def _cost_rows(chosen: list[LightCurve]) -> dict[str, float]:
    """Seconds a curve of each row, for one set of curves."""
    series = [_series(c) for c in chosen]
    rows = {
        f"every feature, {method} periodogram": _seconds_per_curve(
            lambda method=method: feature_matrix(chosen, n_jobs=1, periodogram=method),
            len(chosen),
        )
        for method in PERIODOGRAMS
    }
    rows["refined periodogram + folded"] = _seconds_per_curve(
        lambda: pg.refined_periodograms(series, n_jobs=1), len(chosen)
    )
    rows["fixed periodogram + folded"] = _seconds_per_curve(
        _one_thread(lcf.Extractor(pg.fixed_periodogram()), series), len(chosen)
    )
    for feature in basic_features():
        rows[type(feature).__name__] = _seconds_per_curve(
            _one_thread(lcf.Extractor(feature), series), len(chosen)
        )
    powers = [pg.grid_power(c.baseline) for c in chosen]
    print(
        f"{len(chosen)} curves of {np.median([len(c) for c in chosen]):.0f} points (median), "
        f"median baseline {np.median([c.baseline for c in chosen]):.0f} d: refined's coarse "
        f"grid 2**k with k from {min(powers)} to {max(powers)}, median {np.median(powers):.0f}"
    )
    return rows


def bench_cost(curves: Sequence[LightCurve]) -> None:
    short = _cost_rows([c.first(PREFIX) for c in curves])
    whole = _cost_rows(list(curves))
    base = "every feature, fixed periodogram"
    print(f"\n## cost a curve, one thread ({len(curves)} real CSS curves)")
    print("| feature | first 40 points, us | ratio | whole curve, us | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in short:
        print(
            f"| {name} | {short[name] * 1e6:,.1f} | {short[name] / short[base]:.3f} | "
            f"{whole[name] * 1e6:,.1f} | {whole[name] / whole[base]:.3f} |"
        )


def _views(curves: Sequence[LightCurve]) -> dict[str, list[LightCurve]]:
    views = {
        "whole": list(curves),
        "first 20 points": [c.first(20) for c in curves],
        "first 50 points": [c.first(50) for c in curves],
    }
    try:
        from training.cadences import CADENCES, view  # noqa: PLC0415 - the training extra
    except ImportError:
        return views
    rng = np.random.default_rng(2017)
    for name, cadence in CADENCES.items():
        seen = [view(c, cadence, rng) for c in curves]
        views[f"{name} cadence"] = [c for c in seen if len(c) >= 5]
    return views


def bench_answers(curves: Sequence[LightCurve], model_name: str | None) -> None:
    model = OnnxClassifier(find_bundle(model_name))
    bundle = model.bundle
    print(
        f"\n## answers of {bundle.name} {bundle.card.version} (trained with the "
        f"{bundle.periodogram} periodogram): fixed vs refined"
    )
    print(
        "| curves | n | labels changed | unknown flag changed | max abs prob change | "
        "p99 abs prob change |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, chosen in _views(curves).items():
        answers = [
            _answers(model, chosen, lambda method=method: {"periodogram": method})
            for method in PERIODOGRAMS
        ]
        print(f"| {label} | {len(chosen)} | {_changes(*answers)}")


def _answers(model: OnnxClassifier, chosen: list[LightCurve], how: Callable[[], dict]) -> Any:
    """The model's answers on ``chosen``, its features computed with ``how()``'s arguments."""
    bundle = model.bundle
    inputs = model_inputs(chosen, bundle.grid, None)
    if bundle.feature_names is not None:
        inputs["features"] = feature_matrix(chosen, names=bundle.feature_names, **how())
    return model.predict_inputs(inputs)


def _changes(before: Any, after: Any) -> str:
    """Table cells: how far two sets of answers on the same curves are (labels changed,
    unknown flags changed, largest and p99 change of a probability)."""
    change = np.abs(before.probabilities - after.probabilities).max(axis=1)
    labels_changed = np.mean(np.array(before.labels) != np.array(after.labels))
    return (
        f"{labels_changed:.3%} | {np.mean(before.unknown != after.unknown):.3%} | "
        f"{change.max():.3f} | {np.percentile(change, 99):.3f} |"
    )


def _grown(curves: Sequence[LightCurve]) -> dict[str, list[tuple[LightCurve, LightCurve]]]:
    """(curve when its pass was computed, the curve when scored again) pairs: one point more
    (a rescoring at each alert) and the most growth a pass serves."""
    most = 1.0 + pg.REUSE_GROWTH
    long = [c for c in curves if len(c) >= 100 * most]
    return {
        "first 40 -> 41 points": [(c.first(PREFIX), c.first(PREFIX + 1)) for c in curves],
        "first 100 -> 101 points": [(c.first(100), c.first(101)) for c in long],
        f"first 100 -> {int(100 * most)} points": [
            (c.first(100), c.first(int(100 * most))) for c in long
        ],
        "whole: n - 1 -> n points": [(c.first(len(c) - 1), c) for c in curves],
        f"whole: n / {most:g} -> n points": [(c.first(int(len(c) / most) + 1), c) for c in curves],
    }


def bench_reuse(curves: Sequence[LightCurve], model_name: str | None) -> None:
    model = OnnxClassifier(find_bundle(model_name))
    bundle = model.bundle
    refined = bundle.periodogram == "refined" and bundle.feature_names is not None
    print(
        f"\n## reuse of a kept coarse pass ({len(curves)} CSS curves; answers of {bundle.name} "
        f"{bundle.card.version}, " + ("refined" if refined else "not refined: no answers") + ")"
    )
    print(
        "| curves | served | afresh us | with the pass us | ratio | labels changed | "
        "unknown flag changed | max abs prob change | p99 abs prob change |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, pairs in _grown(curves).items():
        passes: list = [None] * len(pairs)
        pg.refined_periodograms([_series(a) for a, _ in pairs], n_jobs=1, passes=passes)
        grown = [_series(b) for _, b in pairs]
        served = np.mean(
            [p.serves(len(t), t[-1] - t[0]) for p, (t, _, _) in zip(passes, grown, strict=True)]
        )
        afresh = _seconds_per_curve(
            lambda grown=grown: pg.refined_periodograms(grown, n_jobs=1), len(grown)
        )
        reused = _seconds_per_curve(
            lambda grown=grown, passes=passes: pg.refined_periodograms(
                grown, n_jobs=1, passes=list(passes)
            ),
            len(grown),
        )
        row = (
            f"| {label} | {served:.1%} | {afresh * 1e6:,.1f} | {reused * 1e6:,.1f} | "
            f"{reused / afresh:.3f} |"
        )
        if refined:
            curves_now = [b for _, b in pairs]
            before = _answers(model, curves_now, dict)
            after = _answers(model, curves_now, lambda kept=passes: {"passes": list(kept)})
            row += f" {_changes(before, after)}"
        print(row)


def bench_batches(curves: Sequence[LightCurve]) -> None:
    """Every feature of a batch of young curves, per curve, by batch size: light-curve's
    extractors curve by curve under ``PARALLEL_FROM`` curves (a coarse periodogram pass under
    ``PERIODOGRAM_PARALLEL_FROM``), against its thread-pooled ``many`` at every size (the
    baseline, in the same run)."""
    print("\n## batches: every feature (refined periodogram), us a curve, by batch size")
    print("| points | batch | one by one below the thresholds | many() always (baseline) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    chosen = pg.PARALLEL_FROM, pg.PERIODOGRAM_PARALLEL_FROM
    for points in (8, 40):
        cut = [LightCurve(c.t[:points], c.mag[:points]) for c in curves if len(c) >= points]
        for batch in (1, 2, 4, 10, 64):
            costs = []
            for thresholds in (chosen, (1, 1)):
                pg.PARALLEL_FROM, pg.PERIODOGRAM_PARALLEL_FROM = thresholds

                def run(size: int = batch, each: list = cut) -> None:
                    for i in range(0, len(each), size):
                        feature_matrix(each[i : i + size], periodogram="refined")

                costs.append(_seconds_per_curve(run, len(cut)))
            pg.PARALLEL_FROM, pg.PERIODOGRAM_PARALLEL_FROM = chosen
            print(
                f"| {points} | {batch} | {costs[0] * 1e6:,.0f} | {costs[1] * 1e6:,.0f} | "
                f"{costs[0] / costs[1]:.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--curves", type=int, default=400)
    parser.add_argument("--model", default=None, help="bundle (default: the default model)")
    parser.add_argument("--only", choices=("cost", "answers", "reuse", "batches"))
    args = parser.parse_args()
    curves = css_curves(args.data / "crts_css" / "lightcurves", args.curves)
    if args.only in (None, "cost"):
        bench_cost(curves)
    if args.only in (None, "answers"):
        bench_answers(curves, args.model)
    if args.only in (None, "reuse"):
        bench_reuse(curves, args.model)
    if args.only in (None, "batches"):
        bench_batches(curves)


if __name__ == "__main__":
    main()
