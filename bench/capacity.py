"""Capacity figures measured here, one process each, and the Rubin capacity model computed
from them (consumers, workers, shards, memory).

    python bench/capacity.py [--data ../shared/data] [--out reports/capacity]

1. **memory per object** in Valkey, by points in its band: ``MEMORY USAGE`` of every key of
   the object (accumulator, candids, bands, meta) and of its latest result, against the
   bare accumulator bytes (the baseline: what the state is, before Redis' overheads);
2. **worker throughput**: objects/s one ``ScoringWorker`` scores from stored accumulators of
   real CSS curves (batches of 64, no broker), per model, as a ratio to ``css-dmdtnet``
   measured in the same run;
3. **ingest throughput**: ``AlertIngest`` on real ZTF alerts (``bench/stream.py``'s table,
   with its ratio to ``fastavro.reader`` in the same run).

The model is written to ``OUT/rubin.md``; every number in it comes from this run.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stream import bench_ingest  # noqa: E402
from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.lightcurve import LightCurve  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from classifier.readers.base import BandPoint  # noqa: E402
from classifier.registry import find_bundle  # noqa: E402
from services.devtools.demo import SAMPLES  # noqa: E402
from services.devtools.embedded import embedded_redis  # noqa: E402
from stream import keys, lifecycle  # noqa: E402
from stream.redis_client import connect  # noqa: E402
from stream.scoring_queue import ScoringQueue  # noqa: E402
from stream.store import ObjectStore  # noqa: E402
from stream.worker import ScoringWorker  # noqa: E402

POINTS = (10, 30, 100, 300, 1000)
MODELS = ("css-dmdtnet", "css-hybrid")
# Rubin (LSST Science Requirements; Graham et al. 2019 on alert production)
RUBIN_ALERTS_PER_NIGHT = 10_000_000
RUBIN_NIGHT_HOURS = 10.0
RUBIN_VISIT_ALERTS = 10_000  # one visit's alerts, arriving together
RUBIN_VISIT_S = 39.0  # a visit every ~39 s (30 s exposure + readout and slew)
ABSORB_S = 10.0  # design target: a visit's alerts stored and scored within this
HEADROOM = 1.5
SHARD_MEMORY_GB = 24.0  # usable memory of one master (a 32 GB node with room for forks)


@functools.cache
def _sample_curves() -> list[LightCurve]:
    """The bundled real CSS curves, read once."""
    return [read_file(path)[0].curve() for path in sorted(SAMPLES.glob("css_*.csv"))]


def _points(n: int) -> list[BandPoint]:
    """The first ``n`` points of the real CSS curves, end to end (new times per copy)."""
    points: list[BandPoint] = []
    offset = 0.0
    while len(points) < n:
        for curve in _sample_curves():
            for t, m, e in zip(curve.t, curve.mag, curve.err, strict=True):
                points.append(BandPoint(len(points) + 1, t + offset, m, e))
        offset += 10_000.0
    return points[:n]


def _curve_points(object_index: int, n: int) -> list[BandPoint]:
    """``n`` points of one real CSS curve (curves taken in turn)."""
    curves = _sample_curves()
    curve = curves[object_index % len(curves)]
    take = min(n, len(curve))
    return [
        BandPoint(i + 1, t, m, e)
        for i, (t, m, e) in enumerate(
            zip(curve.t[:take], curve.mag[:take], curve.err[:take], strict=True)
        )
    ]


@dataclass
class Memory:
    points: int
    accumulator_bytes: float
    object_bytes: float


def measure_memory(client, objects: int = 50) -> list[Memory]:
    bundle = find_bundle("css-hybrid")
    store = ObjectStore(client, bundle.grid, max_points_per_band=max(POINTS))
    rows = []
    for n in POINTS:
        points = _points(n)
        ids = [f"mem{n}x{k}" for k in range(objects)]
        for oid in ids:
            store.add_points(oid, {"r": points})
        usage = [
            sum(
                int(client.memory_usage(key) or 0) for key in client.keys(keys.object_key(oid, "*"))
            )
            for oid in ids
        ]
        blob = len(client.get(keys.points(ids[0], "r"))) + len(client.get(keys.counts(ids[0], "r")))
        rows.append(Memory(n, blob, float(np.mean(usage))))
    return rows


def measure_worker(client, model_name: str, objects: int, n: int) -> tuple[float, float]:
    """Objects/s one worker scores, and the mean bytes of a result in Redis."""
    model = OnnxClassifier(find_bundle(model_name))
    store = ObjectStore(client, model.bundle.grid)
    queue = ScoringQueue(client)
    ids = [f"{model_name}:{k}" for k in range(objects)]
    for k, oid in enumerate(ids):
        store.add_points(oid, {"r": _curve_points(k, n)})
    worker = ScoringWorker(store, queue, model, None, "results", max_batch=64, max_wait_s=0.0)
    queue.push({oid: time.time() for oid in ids[:64]})  # warm-up: sessions, numba, caches
    lifecycle.run_once(worker, worker.take() or [])
    queue.push({oid: time.time() for oid in ids[64:]})
    started = time.perf_counter()
    scored = 0
    while batch := worker.take():
        scored += len(lifecycle.run_once(worker, batch) or [])
    rate = scored / (time.perf_counter() - started)
    result_bytes = float(np.mean([client.memory_usage(keys.result(oid)) for oid in ids[64:128]]))
    return rate, result_bytes


def rubin_model(
    ingest_rate: float, worker_rates: dict[str, float], memory: list[Memory], result_bytes: float
) -> str:
    mean_rate = RUBIN_ALERTS_PER_NIGHT / (RUBIN_NIGHT_HOURS * 3600)
    burst_rate = RUBIN_VISIT_ALERTS / ABSORB_S
    consumers = math.ceil(burst_rate * HEADROOM / ingest_rate)
    lines = [
        "# Capacity model for Rubin/LSST",
        "",
        "Computed by `python bench/capacity.py` from figures it measured in the same run on",
        "this 2-core machine (one process a core; every rate is one process). Rubin: "
        f"{RUBIN_ALERTS_PER_NIGHT:,} alerts a night over ~{RUBIN_NIGHT_HOURS:.0f} h "
        f"(mean {mean_rate:,.0f}/s), arriving as {RUBIN_VISIT_ALERTS:,} alerts a visit every "
        f"~{RUBIN_VISIT_S:.0f} s. Design target: a visit's alerts stored and scored within "
        f"{ABSORB_S:.0f} s ({burst_rate:,.0f} alerts/s while a visit lasts), with {HEADROOM}x "
        "headroom. Every alert of a visit is a distinct object, so coalescing does not "
        "reduce the scoring within a visit (it does across visits of a field).",
        "",
        "## Measured here",
        "",
        "| what | per process |",
        "|---|---:|",
        f"| ingest (`AlertIngest`: decode, store, queue, commit), real ZTF alerts "
        f"| {ingest_rate:,.0f} alerts/s |",
    ]
    for name, rate in worker_rates.items():
        lines.append(
            f"| worker, {name}, 100-point objects, batches of 64 | {rate:,.0f} objects/s |"
        )
    lines += [
        "",
        "| points in the band | accumulator bytes (baseline) "
        "| Redis bytes an object (all its keys) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for row in memory:
        lines.append(
            f"| {row.points} | {row.accumulator_bytes:,.0f} | {row.object_bytes:,.0f} "
            f"| {row.object_bytes / row.accumulator_bytes:.2f} |"
        )
    lines += [
        "",
        f"A result (the latest classification, JSON) adds {result_bytes:,.0f} bytes an object.",
        "",
        "## What Rubin needs",
        "",
        "| part | sizing rule | count |",
        "|---|---|---:|",
        f"| ingest consumers | {burst_rate:,.0f}/s x {HEADROOM} / {ingest_rate:,.0f}/s "
        f"| {consumers} |",
        "| alert topic partitions | at least the consumers, a multiple for rebalancing "
        f"| {max(6, 2 * consumers)} |",
    ]
    for name, rate in worker_rates.items():
        workers = math.ceil(burst_rate * HEADROOM / rate)
        lines.append(
            f"| workers ({name}) | {burst_rate:,.0f}/s x {HEADROOM} / {rate:,.0f}/s | {workers} |"
        )
    lines += [
        "",
        "Memory (one band scored; an object's other bands cost the same again per band):",
        "",
        "| objects kept | points a band | GB | masters at "
        f"{SHARD_MEMORY_GB:.0f} GB (x2 with a replica each) |",
        "|---:|---:|---:|---:|",
    ]
    for objects in (10_000_000, 50_000_000):
        for row in memory:
            if row.points not in (30, 100, 300):
                continue
            gigabytes = objects * (row.object_bytes + result_bytes) / 1e9
            lines.append(
                f"| {objects:,} | {row.points} | {gigabytes:,.0f} "
                f"| {math.ceil(gigabytes / SHARD_MEMORY_GB)} |"
            )
    lines += [
        "",
        "Scoring queue shards (`DMDT_QUEUE_SHARDS`): at least the number of masters, so that",
        "no master holds the whole queue.",
        "",
        "## Caveats, measured or known",
        "",
        "- Rates are one process on one core of this machine, with the other core busy with",
        "  the servers; a server core is faster, and the figures scale with processes (the scale",
        "  test runs 3 ingests and 2 workers on one Valkey Cluster, `tests/test_scale.py`).",
        "- Redis Cluster replication is asynchronous: a master killed before its replica has a",
        "  write loses it, after ingest may have committed the offsets. The failover test",
        "  (`tests/test_cluster.py`) kills a master once its replica has caught up; a `WAIT`",
        "  after each batch's writes would close the window at a latency cost (not done).",
        "- The default model's features dominate its worker cost (issue 16).",
        "- Past 512 points a band the candids set leaves Valkey's compact integer encoding",
        "  (`set-max-intset-entries`, 512 by default) for a hash table: the jump at 1,000",
        "  points above. Raising that setting to `DMDT_MAX_POINTS_PER_BAND` keeps it compact.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "capacity")
    parser.add_argument("--objects", type=int, default=640, help="worker: objects to score")
    parser.add_argument("--alerts", type=int, default=3000, help="ingest: alerts to read")
    args = parser.parse_args()
    ingest_rate = bench_ingest(args.data / "ztf_alerts", args.alerts)
    with embedded_redis() as url:
        client = connect(url)
        memory = measure_memory(client)
        print("\n## memory an object")
        for row in memory:
            print(f"| {row.points} | {row.accumulator_bytes:,.0f} | {row.object_bytes:,.0f} |")
        worker_rates, result_sizes = {}, []
        for name in MODELS:
            rate, result_bytes = measure_worker(client, name, args.objects, 100)
            worker_rates[name] = rate
            result_sizes.append(result_bytes)
        print("\n## worker: objects/s, one process")
        print("| model | objects/s | ratio to css-dmdtnet |")
        print("|---|---:|---:|")
        for name, rate in worker_rates.items():
            print(f"| {name} | {rate:,.0f} | {rate / worker_rates['css-dmdtnet']:.2f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    report = rubin_model(ingest_rate, worker_rates, memory, float(np.mean(result_sizes)))
    (args.out / "rubin.md").write_text(report)
    print(f"\nwrote {args.out / 'rubin.md'}")


if __name__ == "__main__":
    main()
