"""Benchmark: the shipped networks on ONNX Runtime's CUDA provider against its CPU provider.

    python bench/gpu_network.py --make-inputs .device/inputs      # here: real inputs, saved
    python bench/gpu_network.py --inputs .device/inputs [--out F]  # there: the measurement

Made for a lent GPU machine, where only numpy and ONNX Runtime are needed (the device image
has CUDA 13's libraries and a CPU ``onnxruntime``; ``onnxruntime-gpu`` travels in parts, see
``bench/device_parts.py``). The first form computes, here, each shipped bundle's inputs
(image and features) for real CSS curves cut to their first 40 points, as the stream scores
them, into one ``.npz`` a bundle. The second times ``Session.run`` on those inputs for every
bundle, batch size and provider, the CPU provider being the baseline measured in the same
run: p50 / p99 ms a call, objects/s, the ratio to the CPU, and the largest difference of a
logit between the two providers. Inputs start on the host, as in the worker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "classifier" / "models"
BATCHES = (1, 16, 64, 256, 1024)
POINTS = 40  # the stream's young curves
CPU = "CPUExecutionProvider"


def make_inputs(folder: Path, data: Path, curves: int) -> None:
    """Each shipped bundle's inputs for ``curves`` real CSS curves, saved in ``folder``."""
    sys.path.insert(0, str(ROOT))
    from bench.dmdt import load_curves  # noqa: PLC0415 - only here, not on the device
    from classifier.bundle import load_bundle  # noqa: PLC0415
    from classifier.features import FEATURE_NAMES  # noqa: PLC0415
    from classifier.lightcurve import LightCurve  # noqa: PLC0415
    from classifier.model_input import model_inputs, select_features  # noqa: PLC0415

    loaded = [(t[:POINTS], m[:POINTS]) for t, m in load_curves(data)[:curves]]
    light_curves = [LightCurve(t, m) for t, m in loaded]
    folder.mkdir(parents=True, exist_ok=True)
    for bundle_dir in sorted(p for p in MODELS.iterdir() if (p / "card.json").is_file()):
        bundle = load_bundle(bundle_dir)
        inputs = model_inputs(
            light_curves, bundle.grid, FEATURE_NAMES, periodogram=bundle.periodogram
        )
        chosen = select_features(inputs, bundle.feature_names)
        np.savez_compressed(folder / f"{bundle_dir.name}.npz", **chosen)
        print(f"{bundle_dir.name}: {len(light_curves)} curves, inputs {sorted(chosen)}")


def _timed(session, feed: dict[str, np.ndarray], repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """The outputs and the seconds of ``repeat`` calls, after two warm-up calls."""
    for _ in range(2):
        (out,) = session.run(None, feed)
    seconds = np.empty(repeat)
    for k in range(repeat):
        started = time.perf_counter()
        session.run(None, feed)
        seconds[k] = time.perf_counter() - started
    return out, seconds


def measure(folder: Path, repeat: int) -> list[dict]:
    import onnxruntime as ort  # noqa: PLC0415

    available = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}, providers {available}")
    providers = [CPU]
    if "CUDAExecutionProvider" in available:
        providers.append("CUDAExecutionProvider")
    rows = []
    for path in sorted(folder.glob("*.npz")):
        inputs = dict(np.load(path))
        onnx_path = MODELS / path.stem / "model.onnx"
        sessions = {
            p: ort.InferenceSession(str(onnx_path), providers=list(dict.fromkeys([p, CPU])))
            for p in providers
        }
        used = {p: s.get_providers()[0] for p, s in sessions.items()}
        n = len(next(iter(inputs.values())))
        for batch in BATCHES:
            take = np.arange(batch) % n
            feed = {name: values[take] for name, values in inputs.items()}
            outputs, cpu_p50 = {}, None
            for provider, session in sessions.items():
                outputs[provider], seconds = _timed(session, feed, repeat)
                p50, p99 = np.percentile(seconds, [50, 99])
                cpu_p50 = p50 if cpu_p50 is None else cpu_p50
                diff = float(np.abs(outputs[provider] - outputs[providers[0]]).max())
                rows.append(
                    {
                        "bundle": path.stem,
                        "provider": used[provider],
                        "batch": batch,
                        "p50_ms": p50 * 1e3,
                        "p99_ms": p99 * 1e3,
                        "objects_per_s": batch / p50,
                        "p50_ratio_to_cpu": p50 / cpu_p50,
                        "max_logit_diff_to_cpu": diff,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=Path, default=ROOT / ".device" / "inputs")
    parser.add_argument("--make-inputs", type=Path, default=None, metavar="DIR")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--curves", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=50, help="timed calls a batch size")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    if args.make_inputs is not None:
        make_inputs(args.make_inputs, args.data / "crts_css" / "lightcurves", args.curves)
        return
    if not any(args.inputs.glob("*.npz")):
        parser.error(f"no inputs in {args.inputs}: make them first with --make-inputs")
    rows = measure(args.inputs, args.repeat)
    print(
        "| bundle | provider | batch | p50 / p99 ms | objects/s | p50 ratio to CPU | "
        "max logit diff |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['bundle']} | {r['provider']} | {r['batch']} | {r['p50_ms']:.3f} / "
            f"{r['p99_ms']:.3f} | {r['objects_per_s']:,.0f} | {r['p50_ratio_to_cpu']:.2f} | "
            f"{r['max_logit_diff_to_cpu']:.1e} |"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
