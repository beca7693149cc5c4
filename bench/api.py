"""Benchmark: ``POST /classify`` latency for one real 300-point light curve, over loopback.

    python bench/api.py [--requests 300]

Starts ``dmdt serve`` on a free loopback port, sends a bounded number of sequential requests
(then stops the server), and prints p50/p99 beside the baseline measured in the same run:
the same classification called in-process (``OnnxClassifier.predict_curves``), so the
ratio is the cost of HTTP, JSON and validation.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.readers import read_file  # noqa: E402
from services.models import find_bundle  # noqa: E402

CURVE = ROOT / "classifier" / "samples" / "css_1001008003392-EA.csv"  # 289 points


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    curve = read_file(CURVE)[0].curve()
    body = json.dumps({"t": curve.t.tolist(), "mag": curve.mag.tolist(), "err": curve.err.tolist()})

    model = OnnxClassifier(find_bundle(None))
    model.predict_curves([curve])
    direct = []
    for _ in range(args.requests):
        start = time.perf_counter()
        model.predict_curves([curve])
        direct.append(time.perf_counter() - start)

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
        http = []
        with httpx.Client(base_url=url, headers={"content-type": "application/json"}) as client:
            client.post("/classify", content=body).raise_for_status()
            for _ in range(args.requests):
                start = time.perf_counter()
                client.post("/classify", content=body).raise_for_status()
                http.append(time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait(timeout=10)

    def stats(values: list[float]) -> tuple[float, float]:
        return float(np.percentile(values, 50)) * 1e3, float(np.percentile(values, 99)) * 1e3

    (d50, d99), (h50, h99) = stats(direct), stats(http)
    print(
        f"{len(curve)}-point curve, {args.requests} sequential requests, model "
        f"{model.bundle.name} on {model.provider}"
    )
    print(f"in-process predict_curves: p50 {d50:.2f} ms, p99 {d99:.2f} ms")
    print(
        f"POST /classify over loopback: p50 {h50:.2f} ms, p99 {h99:.2f} ms, "
        f"{len(http) / sum(http):.0f} requests/s"
    )
    print(f"ratio HTTP/in-process at p50: {h50 / d50:.2f}")


if __name__ == "__main__":
    main()
