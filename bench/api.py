"""Benchmark: ``POST /classify`` latency for one real 300-point light curve, over loopback.

    python bench/api.py [--requests 300]

Starts ``dmdt serve`` on a free loopback port, sends a bounded number of sequential requests
per model (then stops the server), and prints p50/p99 beside the baseline measured in the
same run: the same classification called in-process (``OnnxClassifier.predict_curves``), so
the ratio is the cost of HTTP, JSON and validation; and the throughput of
``POST /classify/batch`` beside in-process batches of the same size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.defaults import DEFAULT_MODEL  # noqa: E402
from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from classifier.registry import find_bundle  # noqa: E402
from services.devtools.embedded import free_port  # noqa: E402

CURVE = ROOT / "classifier" / "samples" / "css_1001008003392-EA.csv"  # 289 points


def wait_ready(url: str, seconds: float = 60.0) -> None:
    """Until the server answers (uvicorn listens once the models are loaded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def timed(func, repeat: int) -> list[float]:
    func()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return runs


def p50_p99(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)) * 1e3, float(np.percentile(values, 99)) * 1e3


def bench_model(name: str, curve, url: str, requests: int, batch: int) -> None:
    columns = {"t": curve.t.tolist(), "mag": curve.mag.tolist(), "err": curve.err.tolist()}
    body = json.dumps({**columns, "model": name})
    batch_body = json.dumps({"curves": [columns] * batch, "model": name})
    model = OnnxClassifier(find_bundle(name))
    direct = timed(lambda: model.predict_curves([curve]), requests)
    direct_batch = timed(lambda: model.predict_curves([curve] * batch), max(3, requests // 30))
    with httpx.Client(base_url=url, headers={"content-type": "application/json"}) as client:
        http = timed(lambda: client.post("/classify", content=body).raise_for_status(), requests)
        http_batch = timed(
            lambda: client.post("/classify/batch", content=batch_body).raise_for_status(),
            max(3, requests // 30),
        )
    (d50, d99), (h50, h99) = p50_p99(direct), p50_p99(http)
    print(
        f"| {name} | {d50:.2f} / {d99:.2f} | {h50:.2f} / {h99:.2f} | {h50 / d50:.2f} | "
        f"{batch / np.median(direct_batch):,.0f} | {batch / np.median(http_batch):,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64, help="curves per /classify/batch")
    parser.add_argument("--models", nargs="+", default=[DEFAULT_MODEL, "css-hybrid", "css-dmdtnet"])
    args = parser.parse_args()
    curve = read_file(CURVE)[0].curve()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url)
        print(f"{len(curve)}-point curve, {args.requests} sequential requests, CPU")
        print(
            "| model | in-process p50 / p99 ms | POST /classify p50 / p99 ms | HTTP/in-process "
            f"at p50 | in-process curves/s (batches of {args.batch}) | POST /classify/batch "
            "curves/s |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name in args.models:
            bench_model(name, curve, url, args.requests, args.batch)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
