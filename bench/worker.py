"""Benchmark: where the scoring worker's time goes, an object at a time, in one process.

    python bench/worker.py [--data ../shared/data] [--points 6] [--batch 10] [--model NAME]

Real CSS curves are stored in a real Valkey (embedded) one point a round, as the stream
grows them; from ``--points`` points on, every object is scored at every round by
:meth:`stream.worker.ScoringWorker.process` in batches of ``--batch`` (no Kafka: results go
to Redis only). Each step of ``process`` is timed where it is called; every row is printed
in milliseconds an object and as a ratio to the network's own cost (ONNX Runtime's
``Session.run`` on the same batches, the baseline, measured in the same run). The survey
backgrounds are written once a second by the worker's housekeeping, not here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import stream.worker as worker_module  # noqa: E402
from bench.dmdt import load_curves  # noqa: E402
from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.readers.base import BandPoint  # noqa: E402
from classifier.registry import default_model_name, find_bundle  # noqa: E402
from services.devtools.embedded import embedded_redis  # noqa: E402
from stream.scoring_queue import ScoringQueue  # noqa: E402
from stream.store import AlertPoints, ObjectStore  # noqa: E402

STORE_STEPS = ("load_many", "keep_coarse_passes", "save_results")


def _timed(spent: dict[str, float], name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started

    return timed


def bench(css: Path, model_name: str, points: int, batch: int, objects: int, rounds: int) -> None:
    model = OnnxClassifier(find_bundle(model_name))
    curves = [c for c in load_curves(css) if len(c[0]) >= points + rounds][:objects]
    spent: dict[str, float] = defaultdict(float)
    with embedded_redis() as url:
        client = redis.Redis.from_url(url)
        store = ObjectStore(client, model.bundle.grid)
        worker = worker_module.ScoringWorker(store, ScoringQueue(client), model, None, "results")
        for name in STORE_STEPS:
            setattr(store, name, _timed(spent, f"Redis: {name}", getattr(store, name)))
        inputs = worker_module.accumulator_inputs
        worker_module.accumulator_inputs = _timed(spent, "inputs (image, features)", inputs)
        session = model.session
        model.session = _Session(session, spent)
        ids = [f"CSS{i}" for i in range(len(curves))]
        candid, scored, total = 0, 0, 0.0
        try:
            for point in range(points + rounds):
                alerts = []
                for oid, (t, mag) in zip(ids, curves, strict=True):
                    candid += 1
                    band_point = BandPoint(candid, float(t[point]), float(mag[point]), 0.05)
                    alerts.append(AlertPoints(oid, {"r": [band_point]}, time.time()))
                store.add_alerts(alerts)
                if point + 1 < points:
                    continue
                if point + 1 == points:  # a first scoring of every object, not counted
                    _score(worker, ids, batch)
                    spent.clear()
                    continue
                started = time.perf_counter()
                scored += _score(worker, ids, batch)
                total += time.perf_counter() - started
        finally:
            worker_module.accumulator_inputs = inputs
            model.session = session
    network = spent["network (ONNX Session.run)"]
    print(
        f"\n## worker: {scored} scorings of {len(ids)} objects, {points}-{points + rounds - 1} "
        f"points, batches of {batch} ({model.bundle.name} {model.bundle.card.version})"
    )
    print("| step | ms/object | share of process | ratio to the network |")
    print("|---|---:|---:|---:|")
    rows = [("ScoringWorker.process, whole", total), *sorted(spent.items(), key=lambda r: -r[1])]
    for name, seconds in rows:
        print(
            f"| {name} | {seconds / scored * 1e3:.3f} | {seconds / total:.1%} | "
            f"{seconds / network:.2f} |"
        )


def _score(worker: worker_module.ScoringWorker, ids: list[str], batch: int) -> int:
    now = time.time()
    return sum(
        len(worker.process([(oid, now) for oid in ids[k : k + batch]]))
        for k in range(0, len(ids), batch)
    )


class _Session:
    """ONNX Runtime's session, its ``run`` timed (the baseline)."""

    def __init__(self, session: Any, spent: dict[str, float]) -> None:
        self._session = session
        self.run = _timed(spent, "network (ONNX Session.run)", session.run)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default=None, help="bundle name (default: the default)")
    parser.add_argument("--points", type=int, default=6, help="points an object at first")
    parser.add_argument("--batch", type=int, default=10, help="objects a batch")
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4, help="points added, each scored")
    args = parser.parse_args()
    bench(
        args.data / "crts_css" / "lightcurves",
        args.model or default_model_name(),
        args.points,
        args.batch,
        args.objects,
        args.rounds,
    )


if __name__ == "__main__":
    main()
