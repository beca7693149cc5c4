"""The stream's classification of one object: written by the worker to Redis
(``dmdt:{oid}:result``) and to the results topic, read back by ``GET /objects/{id}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from classifier.bundle import ModelCard
    from classifier.inference import Predictions

BAND_PREFERENCE = ("r", "g", "i")


class Verdict(BaseModel):
    """What a model says of one curve."""

    label: str
    probabilities: dict[str, float]
    confidence: float
    unknown: bool = Field(description="top probability below the model's threshold")
    model: str
    model_version: str


def verdicts(predictions: Predictions, card: ModelCard) -> list[dict[str, Any]]:
    """The :class:`Verdict` fields of each row of a model's predictions."""
    return [
        {
            "label": label,
            "probabilities": {
                c: float(p) for c, p in zip(predictions.classes, probabilities, strict=True)
            },
            "confidence": float(confidence),
            "unknown": bool(unknown),
            "model": card.name,
            "model_version": card.version,
        }
        for label, probabilities, confidence, unknown in zip(
            predictions.labels,
            predictions.probabilities,
            predictions.confidence,
            predictions.unknown,
            strict=True,
        )
    ]


class StreamResult(Verdict):
    object_id: str
    provider: str = Field(description="ONNX Runtime execution provider that scored it")
    band: str = Field(description="the band scored (see the multi-band rule)")
    n_points: int = Field(description="points of the scored band")
    points_per_band: dict[str, int]
    data_version: int = Field(description="the stored object's version that was scored")
    alert_time: float = Field(description="oldest alert not yet scored, seconds since epoch")
    scored_at: float = Field(description="seconds since the epoch")


def scoring_band(points_per_band: dict[str, int], min_points: int) -> str | None:
    """The multi-band rule: score the band with the most points, once it has ``min_points``;
    ties go to r, then g, then i, then other bands by name. None: no band has enough yet.

    Examples
    --------
    >>> scoring_band({"g": 12, "r": 12, "i": 3}, 10)
    'r'
    >>> scoring_band({"g": 14, "r": 12}, 10)
    'g'
    >>> scoring_band({"g": 4}, 10) is None
    True
    """

    def rank(band: str) -> tuple[int, int, str]:
        order = BAND_PREFERENCE.index(band) if band in BAND_PREFERENCE else len(BAND_PREFERENCE)
        return (-points_per_band[band], order, band)

    eligible = [b for b, n in points_per_band.items() if n >= min_points]
    return min(eligible, key=rank) if eligible else None
