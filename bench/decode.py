"""Benchmark: decoding alert packets, ours against fastavro on the same bytes.

    python bench/decode.py [--data ../shared/data/ztf_alerts] [--lsst ../shared/data/lsst_alerts]

ZTF: Avro containers, ours (:func:`decode_alerts`) against ``fastavro.reader``. LSST: Rubin's
Confluent-framed alerts, ours (:func:`decode_lsst_alerts`) against
``fastavro.schemaless_reader`` with the same parsed writer schema: the real alert(s) given
(``*.avro`` framed files under --lsst; default the bundled one) and the bundled CSS curves
replayed as Rubin 11.0 alerts (a year of ``prvDiaSources``). Every alert is decoded by both
in the same run (minimum of --repeat passes; this machine is noisy); the figure that matters
is the ratio.
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

from classifier.readers import SchemaCatalog, read_file  # noqa: E402
from classifier.readers.lsst import (  # noqa: E402
    WIRE_HEADER,
    decode_lsst_alerts,
    is_lsst_packet,
    wire_schema_id,
)
from classifier.readers.ztf import decode_alerts  # noqa: E402
from sources.lsst_alerts import LsstAlertWriter, curve_alerts  # noqa: E402

SAMPLES = ROOT / "classifier" / "samples"


def best_pass(func, blobs: list[bytes], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for blob in blobs:
            func(blob)
        runs.append((time.perf_counter() - start) / len(blobs))
    return min(runs)


def report(name: str, blobs: list[bytes], theirs: float, ours: float, what: str) -> None:
    size = sum(map(len, blobs)) / len(blobs) / 1024
    print(f"{name}: {len(blobs)} alerts, mean {size:.0f} KB, one core")
    print(f"  fastavro.{what} (records only): {theirs * 1e3:.3f} ms/alert, {1 / theirs:,.0f}/s")
    print(f"  ours (records -> alert objects): {ours * 1e3:.3f} ms/alert, {1 / ours:,.0f}/s")
    print(f"  ratio ours/fastavro: {ours / theirs:.2f}")


def ztf(data: Path, repeat: int) -> None:
    blobs = [p.read_bytes() for p in sorted(data.rglob("*.avro"))]
    blobs = [b for b in blobs if b.startswith(b"Obj\x01") and not is_lsst_packet(b[:4096])]
    theirs = best_pass(lambda b: list(fastavro.reader(io.BytesIO(b))), blobs, repeat)
    ours = best_pass(decode_alerts, blobs, repeat)
    report("ZTF", blobs, theirs, ours, "reader")


def lsst_alerts(folder: Path, catalog: SchemaCatalog) -> dict[str, list[bytes]]:
    """The real framed alerts under ``folder`` and the bundled CSS curves as Rubin alerts."""
    real = [p.read_bytes() for p in sorted(folder.rglob("*.avro"))]
    real = [b for b in real if b[:1] == b"\0"]
    writer = LsstAlertWriter(catalog, "11.0")
    replayed = [
        alert.packet
        for path in sorted(SAMPLES.glob("css_*.csv"))
        for photometry in read_file(path)
        for alert in curve_alerts(photometry.curve(), f"CSS{photometry.object_id}", writer)
    ]
    return {"LSST real": real, "LSST replayed CSS (11.0)": replayed}


def lsst(folder: Path, repeat: int) -> None:
    catalog = SchemaCatalog.configured()
    parsed = {}

    def theirs(blob: bytes) -> dict:
        identifier = wire_schema_id(blob)
        if identifier not in parsed:
            parsed[identifier] = fastavro.parse_schema(catalog.schema(identifier))
        return fastavro.schemaless_reader(io.BytesIO(blob[WIRE_HEADER:]), parsed[identifier])

    for name, blobs in lsst_alerts(folder, catalog).items():
        if blobs:
            fast = best_pass(theirs, blobs, repeat)
            ours = best_pass(lambda b: decode_lsst_alerts(b, catalog), blobs, repeat)
            report(name, blobs, fast, ours, "schemaless_reader")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=SAMPLES, help="ZTF alert folder")
    parser.add_argument("--lsst", type=Path, default=SAMPLES, help="Rubin alert folder")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ztf(args.data, args.repeat)
    lsst(args.lsst, args.repeat)


if __name__ == "__main__":
    main()
