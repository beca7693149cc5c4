"""Load and soak: where the service saturates, and whether its memory stays flat.

    python bench/load.py [--models css-dmdtnet css-hybrid] [--soak-seconds 120]

Everything runs on this machine over loopback, bounded in time and count.

1. **POST /classify at rising offered rates** (open loop: requests are sent on schedule,
   whatever the answers; 64 connections at most), for each model: achieved throughput and
   p50/p99 latency per step. The saturation point is the first rate whose achieved throughput
   falls below 90 % of the offered rate.
2. **Soak**: the whole stream (ingest, worker, API on embedded Kafka and Redis) fed CSS
   variables as alerts at a steady rate; the resident memory of every process, sampled every
   few seconds, first against last.

Writes ``reports/load/classify_load.png`` and ``reports/load/soak_memory.png`` and prints the
tables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402

from bench.api import CURVE  # noqa: E402
from bench.stream import css_stream  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from services.devtools.embedded import free_port  # noqa: E402
from services.devtools.harness import running_service  # noqa: E402
from sources.replay import replay  # noqa: E402
from stream.kafka import producer_config  # noqa: E402

RATES = (25, 50, 100, 200, 400, 800)
STEP_S = 5.0
OUT = ROOT / "reports" / "load"


async def _step(client: httpx.AsyncClient, body: dict, rate: float) -> tuple[float, list[float]]:
    """Offer ``rate`` requests/s for ``STEP_S``; returns (achieved/s, latencies)."""
    latencies: list[float] = []
    limit = asyncio.Semaphore(64)

    async def one() -> None:
        async with limit:
            started = time.perf_counter()
            answer = await client.post("/classify", json=body)
            if answer.status_code == 200:
                latencies.append(time.perf_counter() - started)

    begin = time.perf_counter()
    tasks = []
    for i in range(int(rate * STEP_S)):
        delay = begin + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return len(latencies) / (time.perf_counter() - begin), latencies


async def _classify_load(url: str, model: str) -> list[tuple[float, float, float, float]]:
    curve = read_file(CURVE)[0].curve()
    body = {"t": curve.t.tolist(), "mag": curve.mag.tolist(), "model": model}
    rows = []
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await client.post("/classify", json=body)
        for rate in RATES:
            achieved, latencies = await _step(client, body, rate)
            p50, p99 = np.percentile(latencies, [50, 99]) * 1e3
            rows.append((rate, achieved, p50, p99))
            print(f"| {model} | {rate} | {achieved:.0f} | {p50:.1f} | {p99:.1f} |", flush=True)
            if achieved < 0.5 * rate:
                break  # far past saturation: more load only queues
    return rows


def classify_load(models: list[str]) -> None:
    print("## POST /classify, open loop, 289-point curve")
    print("| model | offered/s | achieved/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as logs, running_service(Path(logs), free_port()) as service:
        results = {model: asyncio.run(_classify_load(service.api_url, model)) for model in models}
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for model, rows in results.items():
        offered, achieved, p50, p99 = np.array(rows).T
        left.plot(offered, achieved, marker="o", label=model)
        right.plot(offered, p99, marker="o", label=f"{model} p99")
        right.plot(offered, p50, marker=".", linestyle="--", label=f"{model} p50")
        saturated = [r for r in rows if r[1] < 0.9 * r[0]]
        where = f"{saturated[0][0]:.0f}/s" if saturated else f"> {rows[-1][0]:.0f}/s"
        print(f"{model}: saturates at {where} offered")
    top = max(RATES)
    left.plot([0, top], [0, top], color="grey", linewidth=0.8, label="offered = achieved")
    left.set(xlabel="offered requests/s", ylabel="achieved requests/s", xscale="log", yscale="log")
    right.set(xlabel="offered requests/s", ylabel="latency (ms)", xscale="log", yscale="log")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    figure.suptitle("POST /classify on this 2-core machine (open loop, loopback)")
    OUT.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT / "classify_load.png")
    print(f"plot: {OUT / 'classify_load.png'}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def soak(css: Path, seconds: float, rate: float, model: str) -> None:
    messages = css_stream(css, objects=2000, per_object=200)[: int(rate * seconds)]
    samples: dict[str, list[tuple[float, float]]] = {}
    os.environ["DMDT_MODEL"] = model
    with tempfile.TemporaryDirectory() as logs, running_service(Path(logs), free_port()) as service:
        producer = Producer(producer_config(service.settings.kafka_bootstrap))
        sender = threading.Thread(
            target=replay,
            args=(producer, service.settings.alert_topic, messages),
            kwargs={"rate": rate},
        )
        begin = time.monotonic()
        sender.start()
        while sender.is_alive():
            for role, pid in service.pids.items():
                samples.setdefault(role, []).append((time.monotonic() - begin, _rss_mb(pid)))
            time.sleep(3.0)
        sender.join()
    print(f"\n## soak: {len(messages)} alerts at {rate:.0f}/s ({seconds:.0f} s), model {model}")
    print("| process | RSS first MB | RSS last MB | max MB |")
    print("|---|---:|---:|---:|")
    figure, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for role, points in samples.items():
        xs, ys = np.array(points).T
        ax.plot(xs, ys, label=role)
        print(f"| {role} | {ys[1]:.0f} | {ys[-1]:.0f} | {ys.max():.0f} |")
    ax.set(xlabel="seconds", ylabel="resident memory (MB)", title="soak: memory per process")
    ax.legend()
    figure.savefig(OUT / "soak_memory.png")
    print(f"plot: {OUT / 'soak_memory.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--models", nargs="+", default=["css-dmdtnet", "css-hybrid"])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--soak-seconds", type=float, default=120.0)
    parser.add_argument("--soak-rate", type=float, default=300.0)
    parser.add_argument("--only", choices=("load", "soak"))
    args = parser.parse_args()
    if args.only != "soak":
        classify_load(args.models)
    if args.only != "load":
        soak(
            args.data / "crts_css" / "lightcurves",
            args.soak_seconds,
            args.soak_rate,
            args.models[0],
        )


if __name__ == "__main__":
    main()
