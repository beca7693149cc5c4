"""Benchmark: dm-dt counts, batch and incremental, against light-curve's Rust DmDt and numpy.

    python bench/dmdt.py [--data ../shared/data/crts_css/lightcurves] [--repeat 7] [--bins crts]

Curves are real Catalina light curves (the bundled samples, or a folder given by --data):
for n up to a real curve's length, its first n points; beyond, a composite of several real
curves (each centred on its median) sampled to n points over the same ~8-year baseline, so
cadence and dm spread stay survey-like. Every timing is the minimum of --repeat runs (this
machine is noisy) and is printed beside ratios to baselines measured in the same run:

* batch: our ``DmDtGrid.counts`` vs. ``light_curve.DmDt.points`` (Rust, one thread, edges
  as given) vs. all pairs through ``numpy.histogram2d``;
* incremental: adding one point to a stored curve of n points (``DmDtAccumulator.add``),
  the streaming hot path, both as the newest point (the usual case in a stream) and as a
  late point inside the curve, vs. recomputing the whole image with Rust.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from pathlib import Path

import light_curve
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.accumulator import DmDtAccumulator  # noqa: E402
from classifier.grid import PRESETS, DmDtGrid  # noqa: E402
from classifier.lightcurve import LightCurve  # noqa: E402
from classifier.readers import read_file  # noqa: E402

SIZES = (50, 200, 1000, 5000)
TARGET_INCREMENT_US = 5.0
TARGET_BATCH_RATIO = 0.5


def load_curves(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    curves = []
    for path in sorted(folder.glob("*.csv")):
        for photometry in read_file(path):
            curve = photometry.curve()
            curves.append((np.asarray(curve.t), np.asarray(curve.mag)))
    if not curves:
        raise SystemExit(f"no CSV light curves in {folder}")
    return curves


def curve_of_size(curves, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The first n points of a real curve, or a composite of real curves sampled to n."""
    longest = max(curves, key=lambda c: len(c[0]))
    if n <= len(longest[0]):
        return longest[0][:n].copy(), longest[1][:n].copy()
    t = np.concatenate([c[0] for c in curves])
    m = np.concatenate([c[1] - np.median(c[1]) + 15.0 for c in curves])
    if len(t) < n:
        raise SystemExit(f"only {len(t)} points available for n = {n}; pass --data")
    pick = rng.choice(len(t), n, replace=False)
    curve = LightCurve(t[pick], m[pick])  # time order, exact duplicates once
    return np.asarray(curve.t), np.asarray(curve.mag)


def best_seconds(func, repeat: int) -> float:
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def incremental_seconds(grid, t, m, rng, repeat: int, late: bool) -> float:
    """Time of one ``add`` to a stored curve of len(t) points, the state held in memory.

    ``late=False``: each new point is the latest (the streaming case, nothing to shift);
    ``late=True``: new points fall at random times inside the curve (out-of-order arrival).
    Each run adds k = n/10 points (at least 10, at most 200) to a fresh state of n points.
    """
    k = max(10, min(200, len(t) // 10))
    later = t[-1] + np.cumsum(rng.uniform(0.01, 2.0, k))
    new_t = rng.uniform(t[0], t[-1], k) if late else later
    new_m = rng.choice(m, k)
    pairs = list(zip(new_t.tolist(), new_m.tolist(), strict=True))
    runs = []
    for _ in range(repeat * 3):
        acc = DmDtAccumulator(grid, capacity=len(t) + k)
        acc.add_many(t, m)
        add = acc.add
        start = time.perf_counter()
        for tn, mn in pairs:
            add(tn, mn)
        runs.append((time.perf_counter() - start) / k)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT / "classifier" / "samples")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--bins", choices=sorted(PRESETS), default="crts", help="grid preset")
    args = parser.parse_args()

    grid = DmDtGrid.preset(args.bins)
    # Rust bins dt = 0 (repeated times) into [0, 1/145); we never bin it. Starting its grid
    # at the smallest positive dt gives it our rule, so the counts must agree exactly.
    rust_dt = grid.dt_edges.copy()
    rust_dt[0] = np.nextafter(0.0, 1.0)
    rust = light_curve.DmDt(
        dt=rust_dt, dm=grid.dm_edges.copy(), dt_type="asis", dm_type="asis", n_jobs=1
    )
    curves = load_curves(args.data)
    rng = np.random.default_rng(2017)
    grid.counts(*curves[0])  # load compiled code before timing
    DmDtAccumulator(grid).add_many(*curves[0])

    print(
        f"dm-dt counts on the {args.bins} grid {grid.shape}; min of {args.repeat} runs; "
        f"curves from {args.data}"
    )
    header = (
        f"{'n':>6} {'ours ms':>9} {'rust ms':>9} {'numpy ms':>9} {'ours/rust':>10} "
        f"{'numpy/rust':>11} {'add new us':>11} {'add late us':>12} {'new/rust batch':>15}"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for n in SIZES:
        t, m = curve_of_size(curves, n, rng)
        ours = best_seconds(lambda t=t, m=m: grid.counts(t, m), args.repeat)
        theirs = best_seconds(lambda t=t, m=m: rust.points(t, m, sorted=True), args.repeat)
        i, j = np.triu_indices(n, k=1)
        numpy_s = best_seconds(
            lambda t=t, m=m, i=i, j=j: np.histogram2d(
                m[j] - m[i], t[j] - t[i], bins=[grid.dm_edges, grid.dt_edges]
            ),
            max(2, args.repeat // 3),
        )
        add = incremental_seconds(grid, t, m, rng, args.repeat, late=False)
        add_late = incremental_seconds(grid, t, m, rng, args.repeat, late=True)
        # Rust's last bins are open on the right, ours closed (numpy's rule): no real pair
        # lands exactly on dm = 8 or dt = 4000, so the counts must agree.
        agree = np.array_equal(grid.counts(t, m), rust.points(t, m, sorted=True).T)
        results[n] = (ours, theirs, add)
        print(
            f"{n:>6} {ours * 1e3:>9.3f} {theirs * 1e3:>9.3f} {numpy_s * 1e3:>9.2f} "
            f"{ours / theirs:>10.2f} {numpy_s / theirs:>11.2f} {add * 1e6:>11.2f} "
            f"{add_late * 1e6:>12.2f} {add / theirs:>15.5f}"
            + ("" if agree else "  (counts differ from Rust!)")
        )

    ours, theirs, add = results[1000]
    print(
        f"\nn = 1000 targets: batch ours/rust {ours / theirs:.2f} (target <= "
        f"{TARGET_BATCH_RATIO}), add one new point {add * 1e6:.2f} us (target <= "
        f"{TARGET_INCREMENT_US} us)"
    )
    sizes = np.array(SIZES, dtype=float)
    adds = np.array([results[n][2] for n in SIZES])
    slope = np.polyfit(np.log(sizes[1:]), np.log(adds[1:]), 1)[0]
    batch_ratio = statistics.median(r[0] / r[1] for r in results.values())
    print(
        f"incremental cost grows as n^{slope:.2f} (O(n) expected); "
        f"median batch ours/rust over sizes {batch_ratio:.2f}"
    )


if __name__ == "__main__":
    main()
