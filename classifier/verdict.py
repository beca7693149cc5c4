"""The typed classification result, produced by one function for every caller.

:func:`verdicts` turns a model run into :class:`Verdict` objects; ``dmdt predict``,
``POST /classify`` (one curve and batches) and the stream worker all call it, and extend the
verdict with what they add (:meth:`Verdict.extended`): the API its images, the worker the
object, band and data version it scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:  # onnxruntime loads only where a model runs
    from classifier.inference import OnnxClassifier
    from classifier.lightcurve import LightCurve


class Verdict(BaseModel):
    """What a model says of one curve."""

    label: str = Field(
        description="the most probable of the model's classes; models trained with the class "
        "'other' answer 'other' for what is none of the periodic classes (transients, quasars, "
        "constant stars...)"
    )
    probabilities: dict[str, float] = Field(
        description="every class of the model's card (with 'other' when it has it), summing to 1"
    )
    confidence: float
    unknown: bool = Field(description="top probability below the model's threshold")
    model: str
    model_version: str
    n_points: int = Field(description="points used (exact duplicates counted once)")

    @classmethod
    def extended(cls, verdict: Verdict, **fields: Any) -> Self:
        """This subclass of :class:`Verdict` built from ``verdict`` and its own ``fields``."""
        return cls.model_validate({**verdict.model_dump(), **fields})


def verdicts(
    model: OnnxClassifier, inputs: dict[str, np.ndarray], n_points: Sequence[int]
) -> list[Verdict]:
    """Run ``model`` once on prepared inputs (:mod:`classifier.model_input`) of curves with
    ``n_points`` points each; one verdict per row."""
    predictions = model.predict_inputs(inputs)
    card = model.bundle.card
    return [
        Verdict(
            label=label,
            probabilities={
                c: float(p) for c, p in zip(predictions.classes, probabilities, strict=True)
            },
            confidence=float(confidence),
            unknown=bool(unknown),
            model=card.name,
            model_version=card.version,
            n_points=int(n),
        )
        for label, probabilities, confidence, unknown, n in zip(
            predictions.labels,
            predictions.probabilities,
            predictions.confidence,
            predictions.unknown,
            n_points,
            strict=True,
        )
    ]


def classify_curves(model: OnnxClassifier, curves: Sequence[LightCurve]) -> list[Verdict]:
    """Verdicts for light curves, each of at least the card's ``min_points``
    (:class:`~classifier.selection.TooFewPointsError` otherwise)."""
    return verdicts(model, model.curve_inputs(curves), [len(c) for c in curves])
