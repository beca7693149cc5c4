"""Benchmark: decoding ZTF alert packets, ours against ``fastavro.reader`` on the same bytes.

    python bench/decode.py [--data ../shared/data/ztf_alerts]

Every alert is decoded by both in the same run (minimum of --repeat passes; this machine is
noisy); the figure that matters is the ratio.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import fastavro

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.readers.ztf import decode_alerts  # noqa: E402


def best_pass(func, blobs: list[bytes], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for blob in blobs:
            func(blob)
        runs.append((time.perf_counter() - start) / len(blobs))
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=ROOT / "classifier" / "samples")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    blobs = [p.read_bytes() for p in sorted(args.data.rglob("*.avro"))]
    size = sum(map(len, blobs)) / len(blobs) / 1024
    theirs = best_pass(lambda b: list(fastavro.reader(io.BytesIO(b))), blobs, args.repeat)
    ours = best_pass(decode_alerts, blobs, args.repeat)
    print(f"{len(blobs)} alerts, mean {size:.0f} KB, one core")
    print(f"fastavro.reader (records only): {theirs * 1e3:.3f} ms/alert, {1 / theirs:,.0f}/s")
    print(f"decode_alerts (records -> ZtfAlert): {ours * 1e3:.3f} ms/alert, {1 / ours:,.0f}/s")
    print(f"ratio ours/fastavro.reader: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
