"""``dmdt mixture``: one bundle from a CSS specialist and an every-survey generalist.

The specialist answers the 7 classes and knows Catalina best (``css-hybrid``: every feature,
trained at CSS cadence); the generalist answers the 7 classes or ``other`` and has seen every
survey's sampling and real non-members (``survey-hybrid``: survey-neutral features, cadence
views, transients and quasars). The mixture keeps the generalist's judgement of whether a
curve is one of the 7 at all, and lets both vote on which::

    p(other) = generalist's p(other)
    p(c)     = (1 - p(other)) * (w * specialist's p(c) + (1 - w) * generalist's p(c | one of 7))

each at its own temperature (from its card), ``w`` = :data:`SPECIALIST_WEIGHT`. The two
networks and the rule are written into one ONNX graph taking the specialist's features (the
generalist's are a subset, gathered inside the graph), whose output is ``log p``; the worker,
the API and ``dmdt evaluate`` serve it as any bundle. Its own temperature and unknown
threshold are fitted on the validation split, as ``dmdt ensemble`` does.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, compose, helper, numpy_helper

from classifier.bundle import CARD, ONNX, ModelBundle, ModelCard, load_bundle, sha256_of
from classifier.model_input import model_inputs
from training.export import OPSET, TOLERANCE, ExportError
from training.pipeline import TrainSettings, calibrate, prepare, write_bundle_run

ARCHITECTURE = "hybrid-mixture"
SPECIALIST_WEIGHT = 0.5  # the plain average of the two experts' class votes; not tuned
RULE = (
    "p(other) = generalist's p(other); p(c) = (1 - p(other)) * (w * specialist's p(c) "
    "+ (1 - w) * generalist's p(c | one of 7)), each at its own temperature"
)  # written into the card
OTHER = "other"
_FLOOR = 1e-12  # the least vote a class gets (log 0 is not a number)


class MixtureError(ValueError):
    """Bundles that cannot be mixed, and why."""


def _agree(specialist: ModelBundle, generalist: ModelBundle) -> list[int]:
    """Refuse bundles that do not fit the rule; the generalist's feature columns in the
    specialist's feature vector."""
    s, g = specialist.card, generalist.card
    if list(g.classes) != [*s.classes, OTHER]:
        raise MixtureError(
            f"the generalist's classes must be the specialist's and '{OTHER}': "
            f"{g.classes} vs {s.classes}"
        )
    for field in ("grid", "periodogram", "normalisation", "input_scale"):
        if getattr(s, field) != getattr(g, field):
            raise MixtureError(f"the two bundles' {field} differ")
    if not s.feature_names or not g.feature_names:
        raise MixtureError("both bundles must take features (hybrid networks)")
    missing = [name for name in g.feature_names if name not in s.feature_names]
    if missing:
        raise MixtureError(f"the generalist takes features the specialist does not: {missing}")
    return [s.feature_names.index(name) for name in g.feature_names]


def _scalar(name: str, value: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def mixture_graph(
    specialist: ModelBundle, generalist: ModelBundle, weight: float = SPECIALIST_WEIGHT
) -> onnx.ModelProto:
    """The two bundles' networks and the mixing rule as one ONNX model (module docstring)."""
    columns = _agree(specialist, generalist)
    parts = {
        prefix: compose.add_prefix(onnx.load(bundle.onnx_path), prefix)
        for prefix, bundle in (("s_", specialist), ("g_", generalist))
    }
    n = len(specialist.card.classes)
    constants = [
        numpy_helper.from_array(np.array(columns, dtype=np.int64), "g_columns"),
        _scalar("s_temperature", specialist.card.temperature),
        _scalar("g_temperature", generalist.card.temperature),
        _scalar("weight", weight),
        _scalar("one_minus_weight", 1.0 - weight),
        _scalar("floor", _FLOOR),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "start"),
        numpy_helper.from_array(np.array([n], dtype=np.int64), "n_classes"),
        numpy_helper.from_array(np.array([n + 1], dtype=np.int64), "n_answers"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "class_axis"),
    ]
    node = helper.make_node
    wiring = [
        node("Identity", ["image"], ["s_image"]),
        node("Identity", ["features"], ["s_features"]),
        node("Identity", ["image"], ["g_image"]),
        node("Gather", ["features", "g_columns"], ["g_features"], axis=1),
    ]
    rule = [
        node("Div", ["s_logits", "s_temperature"], ["s_scaled"]),
        node("Softmax", ["s_scaled"], ["s_p"], axis=1),
        node("Div", ["g_logits", "g_temperature"], ["g_scaled"]),
        node("Slice", ["g_scaled", "start", "n_classes", "class_axis"], ["g_scaled_7"]),
        node("Softmax", ["g_scaled_7"], ["g_p_given_member"], axis=1),
        # log p(one of 7) and log p(other) without 1 - p (which float32 rounds to 0)
        node("ReduceLogSumExp", ["g_scaled", "class_axis"], ["g_all"], keepdims=1),
        node("ReduceLogSumExp", ["g_scaled_7", "class_axis"], ["g_members"], keepdims=1),
        node("Sub", ["g_members", "g_all"], ["log_p_member"]),
        node("Slice", ["g_scaled", "n_classes", "n_answers", "class_axis"], ["g_scaled_other"]),
        node("Sub", ["g_scaled_other", "g_all"], ["log_p_other"]),
        node("Mul", ["s_p", "weight"], ["s_vote"]),
        node("Mul", ["g_p_given_member", "one_minus_weight"], ["g_vote"]),
        node("Add", ["s_vote", "g_vote"], ["vote"]),
        node("Add", ["vote", "floor"], ["vote_floored"]),
        node("Log", ["vote_floored"], ["log_vote"]),
        node("Add", ["log_vote", "log_p_member"], ["log_p_classes"]),
        node("Concat", ["log_p_classes", "log_p_other"], ["logits"], axis=1),
    ]
    shapes = {value.name: _dims(value) for value in parts["s_"].graph.input}
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, shapes["s_image"])
    features = helper.make_tensor_value_info("features", TensorProto.FLOAT, shapes["s_features"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n + 1])
    s_graph, g_graph = parts["s_"].graph, parts["g_"].graph
    graph = helper.make_graph(
        [*wiring, *s_graph.node, *g_graph.node, *rule],
        ARCHITECTURE,
        [image, features],
        [logits],
        [*constants, *s_graph.initializer, *g_graph.initializer],
        value_info=[*s_graph.value_info, *g_graph.value_info],
    )
    model = helper.make_model(
        graph,
        opset_imports=_opsets([*parts.values()]),
        functions=[f for part in parts.values() for f in part.functions],
    )
    model.ir_version = max(part.ir_version for part in parts.values())
    onnx.checker.check_model(model, full_check=True)
    return model


def _opsets(models: list[onnx.ModelProto]) -> list[onnx.OperatorSetIdProto]:
    """The operator sets the models import (the default domain at least at :data:`OPSET`);
    a domain imported at two versions is refused."""
    versions: dict[str, int] = {"": OPSET}
    for model in models:
        for opset in model.opset_import:
            held = versions.setdefault(opset.domain, opset.version)
            if held != opset.version:
                raise MixtureError(
                    f"operator set {opset.domain or 'ai.onnx'} at {held} and "
                    f"{opset.version}: export both bundles with one opset"
                )
    return [helper.make_opsetid(domain, version) for domain, version in versions.items()]


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def mixture_reference(
    specialist_logits: np.ndarray,
    generalist_logits: np.ndarray,
    specialist_temperature: float,
    generalist_temperature: float,
    weight: float = SPECIALIST_WEIGHT,
) -> np.ndarray:
    """The rule in numpy (float64), against which the graph is checked: ``log p``."""

    def log_sum_exp(x: np.ndarray) -> np.ndarray:
        top = x.max(axis=1, keepdims=True)
        return top + np.log(np.exp(x - top).sum(axis=1, keepdims=True))

    n = specialist_logits.shape[1]
    s_scaled = specialist_logits / specialist_temperature
    g_scaled = generalist_logits / generalist_temperature
    g_all, g_members = log_sum_exp(g_scaled), log_sum_exp(g_scaled[:, :n])
    vote = weight * np.exp(s_scaled - log_sum_exp(s_scaled)) + (1 - weight) * np.exp(
        g_scaled[:, :n] - g_members
    )
    return np.hstack([np.log(vote + _FLOOR) + g_members - g_all, g_scaled[:, n:] - g_all])


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _logits(session: ort.InferenceSession, feed: dict[str, np.ndarray]) -> np.ndarray:
    (out,) = session.run(None, feed)
    return np.asarray(out, dtype=np.float64)


def check_against_reference(
    path: Path,
    specialist: ModelBundle,
    generalist: ModelBundle,
    inputs: dict[str, np.ndarray],
    weight: float = SPECIALIST_WEIGHT,
) -> float:
    """Largest |log p| difference between the graph and the rule applied to the two bundles'
    own sessions, over batch sizes."""
    columns = _agree(specialist, generalist)
    mixed, alone = _session(path), [_session(b.onnx_path) for b in (specialist, generalist)]
    worst = 0.0
    for size in (1, 7, len(inputs["image"])):
        feed = {name: values[:size] for name, values in inputs.items()}
        own = {"image": feed["image"], "features": feed["features"][:, columns]}
        expected = mixture_reference(
            _logits(alone[0], feed),
            _logits(alone[1], own),
            specialist.card.temperature,
            generalist.card.temperature,
            weight,
        )
        worst = max(worst, float(np.abs(_logits(mixed, feed) - expected).max()))
    return worst


def _source(bundle: ModelBundle) -> dict[str, Any]:
    card = bundle.card
    return {
        "name": card.name,
        "version": card.version,
        "onnx_sha256": card.onnx_sha256,
        "temperature": card.temperature,
        "training_data": card.training_data,
    }


def mixture(
    settings: TrainSettings,
    specialist_folder: Path,
    generalist_folder: Path,
    name: str,
    log=print,
) -> dict[str, Any]:
    """Mix the two bundles into ``settings.out_dir/candidates/hybrid`` (a bundle called
    ``name``), calibrated on validation, and write ``run.json`` there for ``dmdt evaluate``."""
    started = time.time()
    specialist, generalist = load_bundle(specialist_folder), load_bundle(generalist_folder)
    model = mixture_graph(specialist, generalist)
    folder = settings.out_dir / "candidates" / "hybrid"
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / ONNX)
    prepared = prepare(settings, log)
    card = specialist.card
    feature_names = tuple(card.feature_names or ())
    val_in = model_inputs(
        prepared.parts["val"][0], specialist.grid, feature_names, periodogram=card.periodogram
    )
    disagreement = check_against_reference(
        folder / ONNX, specialist, generalist, {k: v[:256] for k, v in val_in.items()}
    )
    if disagreement > TOLERANCE:
        raise ExportError(f"the mixture's graph and its rule differ by {disagreement:.2e}")
    calibration = calibrate(_logits(_session(folder / ONNX), val_in), prepared.y_val)
    written = ModelCard(
        **{
            **card.model_dump(),
            "name": name,
            "version": settings.version,
            "architecture": ARCHITECTURE,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "classes": list(generalist.card.classes),
            "temperature": calibration.temperature,
            "unknown_threshold": calibration.unknown_threshold,
            "min_points": max(card.min_points, generalist.card.min_points),
            "backgrounds": generalist.card.backgrounds,
            "training_data": {
                "mixture": {
                    "rule": RULE,
                    "specialist_weight": SPECIALIST_WEIGHT,
                    "specialist": _source(specialist),
                    "generalist": _source(generalist),
                },
                "split_seed": generalist.card.training_data.get("split_seed"),
            },
            "metrics": {
                "validation_macro_f1": calibration.validation_macro_f1,
                "onnx_max_abs_logit_diff": disagreement,
            },
            "onnx_sha256": sha256_of(folder / ONNX),
        }
    )
    (folder / CARD).write_text(json.dumps(written.model_dump(), indent=1))
    load_bundle(folder)  # the bundle must pass the checks every server runs
    made_from = {"mixture_of": [str(specialist_folder), str(generalist_folder)]}
    report = write_bundle_run(settings, made_from, calibration, disagreement, started)
    log(
        f"mixture: validation macro-F1 {calibration.validation_macro_f1:.3f}, "
        f"T = {calibration.temperature:.2f}, graph vs rule max |log p diff| {disagreement:.1e}"
    )
    return report
