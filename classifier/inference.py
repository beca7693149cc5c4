"""ONNX Runtime inference for a checked model bundle: CUDA when present, else CPU.

The execution provider really in use is reported (:attr:`OnnxClassifier.provider`), since a
silent CPU fallback on a GPU host is a known trap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

try:
    import onnxruntime as ort
except ImportError:  # neither the cpu nor the gpu extra is installed
    ort = None

from classifier.bundle import BundleError, ModelBundle
from classifier.features import FEATURE_NAMES
from classifier.lightcurve import LightCurve
from classifier.model_input import IMAGE_NORMALISATION, IMAGE_SCALE, model_inputs
from classifier.selection import require_points

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


@dataclass(frozen=True)
class Predictions:
    """Per-row class probabilities (temperature applied) and the decisions drawn from them."""

    classes: tuple[str, ...]
    probabilities: np.ndarray  # (N, n_classes)
    unknown_threshold: float

    @property
    def labels(self) -> list[str]:
        return [self.classes[i] for i in self.probabilities.argmax(axis=1)]

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    @property
    def unknown(self) -> np.ndarray:
        """True where the top probability is below the card's threshold."""
        return self.confidence < self.unknown_threshold


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class OnnxClassifier:
    """A model bundle ready to score; build once, call many times."""

    def __init__(self, bundle: ModelBundle, providers: Sequence[str] | None = None) -> None:
        if ort is None:
            raise RuntimeError(
                "ONNX Runtime is missing: pip install 'dmdt-stream[cpu]' (or [gpu] on a CUDA host)"
            )
        card = bundle.card
        if card.normalisation != IMAGE_NORMALISATION or not np.isclose(
            card.input_scale, IMAGE_SCALE
        ):
            raise BundleError(
                f"{card.name}: images built as {card.normalisation} x "
                f"{card.input_scale}; this code builds {IMAGE_NORMALISATION}"
            )
        unknown = sorted(set(bundle.feature_names or ()) - set(FEATURE_NAMES))
        if unknown:
            raise BundleError(f"{card.name}: trained on features this code lacks: {unknown}")
        available = ort.get_available_providers()
        wanted = [p for p in (providers or PREFERRED_PROVIDERS) if p in available]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Idle intra-op threads would spin and steal the cores that feature extraction and
        # binning need right after each run (measured: 19.4 -> 10.1 ms a curve on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(bundle.onnx_path), options, providers=wanted)
        names = {i.name for i in self.session.get_inputs()}
        if names != set(card.inputs):
            raise BundleError(
                f"{card.name}: ONNX inputs {sorted(names)} differ from the card's "
                f"{sorted(card.inputs)}"
            )
        self.bundle = bundle

    @property
    def provider(self) -> str:
        """The execution provider actually serving (first in the session's list)."""
        return self.session.get_providers()[0]

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Raw model outputs for prepared inputs (see :mod:`classifier.model_input`)."""
        feed = {name: inputs[name] for name in self.bundle.card.inputs}
        (logits,) = self.session.run(None, feed)
        return logits

    def predict_inputs(self, inputs: dict[str, np.ndarray]) -> Predictions:
        card = self.bundle.card
        return Predictions(
            tuple(card.classes),
            softmax(self.logits(inputs), card.temperature),
            card.unknown_threshold,
        )

    def curve_inputs(
        self, curves: Sequence[LightCurve], counts: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Model inputs of light curves, each of at least the card's ``min_points`` (else
        :class:`~classifier.selection.TooFewPointsError`); ``counts``: their raw counts on
        the bundle's grid, if already binned."""
        for curve in curves:
            require_points(len(curve), self.bundle.card.min_points)
        bundle = self.bundle
        return model_inputs(curves, bundle.grid, bundle.feature_names, counts, bundle.periodogram)

    def predict_curves(self, curves: Sequence[LightCurve]) -> Predictions:
        """Classify light curves (see :meth:`curve_inputs`)."""
        return self.predict_inputs(self.curve_inputs(curves))
