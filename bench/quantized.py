"""Benchmark: a bundle's network quantized to 8 bits, against the same network in float.

    python bench/quantized.py BUNDLE SPLIT_JSON --out FOLDER [--calibration 300]
    python -m training.compare FOLDER BUNDLE ../shared/data/crts_css/lightcurves SPLIT_JSON

Static post-training quantization by ONNX Runtime (QDQ, weights per channel, activations
calibrated by their min and max over ``--calibration`` validation curves of the split) of the
image trunk (its convolutions, pools and first dense layer); the feature branch and the head
stay in float. Writes a loadable bundle to ``--out`` (the card's hash updated) and prints
the network's cost an object beside the float network's, interleaved in the same run. Its
answers are measured by ``training.compare`` (second command). Needs the training extra.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onnxruntime.quantization import (  # noqa: E402
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: E402

from classifier.bundle import CARD, ONNX, ModelBundle, load_bundle, sha256_of  # noqa: E402
from classifier.inference import OnnxClassifier  # noqa: E402
from classifier.model_input import model_inputs  # noqa: E402
from training.dataset import Split, load_examples  # noqa: E402

CSS = ROOT.parent / "shared" / "data" / "crts_css" / "lightcurves"
TRUNK_OPS = ["Conv", "Relu", "MaxPool", "Gemm", "Reshape"]


class _OneAtATime(CalibrationDataReader):
    """The calibration inputs, one curve a call."""

    def __init__(self, inputs: dict[str, np.ndarray]) -> None:
        self.inputs = inputs
        self.row = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.row == len(self.inputs["image"]):
            return None
        self.row += 1
        return {name: values[self.row - 1 : self.row] for name, values in self.inputs.items()}


def _outside_trunk(onnx_path: Path) -> list[str]:
    """The nodes of the feature branch and the head: every dense layer but those reading a
    trunk's flattened image, the ReLUs after them, and what joins the branches."""
    import onnx  # noqa: PLC0415 - the training extra

    nodes = onnx.load(str(onnx_path)).graph.node
    producer = {output: node.op_type for node in nodes for output in node.output}
    outside: list[str] = []
    outside_outputs: set[str] = set()
    for node in nodes:
        source = producer.get(node.input[0]) if node.input else None
        dense_off_trunk = node.op_type == "Gemm" and source not in ("Reshape", "Flatten")
        after_outside = node.op_type == "Relu" and node.input[0] in outside_outputs
        if dense_off_trunk or after_outside or node.op_type == "Concat":
            outside.append(node.name)
            outside_outputs.update(node.output)
    return outside


def quantize(bundle: ModelBundle, inputs: dict[str, np.ndarray], out: Path) -> ModelBundle:
    """The bundle with its trunk quantized, written to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(bundle.onnx_path), str(prepared))
        quantize_static(
            str(prepared),
            str(out / ONNX),
            _OneAtATime(inputs),
            op_types_to_quantize=TRUNK_OPS,
            nodes_to_exclude=_outside_trunk(prepared),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    card = json.loads((bundle.onnx_path.parent / CARD).read_text())
    card["version"] += "-int8"
    card["onnx_sha256"] = sha256_of(out / ONNX)
    (out / CARD).write_text(json.dumps(card, indent=1))
    return load_bundle(out)


def network_cost(models: dict[str, OnnxClassifier], inputs: dict[str, np.ndarray]) -> None:
    """Median ms an object of each network, batches of 1, 16 and 64, calls interleaved."""
    print("| batch | " + " | ".join(f"{name} ms/object" for name in models) + " | ratio |")
    print("|---:|" + "---:|" * (len(models) + 1))
    for batch in (1, 16, 64):
        feed = {name: values[:batch] for name, values in inputs.items()}
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(max(10, 600 // batch)):
            for name, model in models.items():
                started = time.perf_counter()
                model.logits(feed)
                times[name].append((time.perf_counter() - started) / batch)
        medians = [float(np.median(values)) * 1e3 for values in times.values()]
        cells = " | ".join(f"{value:.3f}" for value in medians)
        print(f"| {batch} | {cells} | {medians[-1] / medians[0]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="bundle folder")
    parser.add_argument("split", type=Path, help="split.json of the bundle's run")
    parser.add_argument("--out", type=Path, required=True, help="folder of the 8-bit bundle")
    parser.add_argument("--data", type=Path, default=CSS, help="CSS light-curve folder")
    parser.add_argument("--calibration", type=int, default=300, help="validation curves")
    args = parser.parse_args()
    if args.out.resolve() == args.bundle.resolve():
        raise SystemExit("--out must not be the bundle's own folder")
    bundle = load_bundle(args.bundle)
    names = Split.load(args.split).parts["val"][: args.calibration]
    curves = [example.curve for example in load_examples(args.data, names)]
    features = tuple(bundle.card.feature_names or ())
    inputs = model_inputs(curves, bundle.grid, features, periodogram=bundle.card.periodogram)
    shutil.rmtree(args.out, ignore_errors=True)
    quantized = quantize(bundle, inputs, args.out)
    print(f"{args.out}: {quantized.onnx_path.stat().st_size:,} bytes")
    network_cost({"float": OnnxClassifier(bundle), "int8": OnnxClassifier(quantized)}, inputs)


if __name__ == "__main__":
    main()
