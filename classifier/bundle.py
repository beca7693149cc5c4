"""Model bundles: ``NAME/model.onnx`` + ``NAME/card.json``, checked before anything serves them.

The card says everything needed to use the model correctly: classes, the grid (bin edges)
and normalisation the images must be built with, the inputs, the temperature and unknown
threshold, background images, the training data, metrics, and the sha256 of the ONNX file.
Loading verifies the hash, the grid, the input shapes and the backgrounds; nothing is
unpickled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifier.features import EARLIER_MODELS_PERIODOGRAM, Periodogram
from classifier.grid import DmDtGrid, GridError

CARD = "card.json"
ONNX = "model.onnx"


class BundleError(ValueError):
    """A model bundle that must not be served, and why."""


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    architecture: str
    created: str
    classes: list[str] = Field(min_length=2)
    grid: dict[str, Any]
    normalisation: str
    input_scale: float
    inputs: dict[str, list[int | None]]
    feature_names: list[str] | None = None
    periodogram: Periodogram = EARLIER_MODELS_PERIODOGRAM  # how periodogram features are made
    temperature: float = Field(gt=0)
    unknown_threshold: float = Field(ge=0, le=1)
    min_points: int = Field(ge=2)
    backgrounds: dict[str, list[list[float]]] = {}
    training_data: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    onnx_sha256: str


@dataclass(frozen=True)
class ModelBundle:
    card: ModelCard
    grid: DmDtGrid
    onnx_path: Path
    backgrounds: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def uses_features(self) -> bool:
        return "features" in self.card.inputs

    @property
    def feature_names(self) -> tuple[str, ...] | None:
        """The features the model takes, in order (None: image only)."""
        return tuple(self.card.feature_names or ()) if self.uses_features else None

    @property
    def periodogram(self) -> Periodogram:
        """How its periodogram features are computed (:mod:`classifier.periodogram`)."""
        return self.card.periodogram


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_bundle(folder: Path | str) -> ModelBundle:
    """Read and check a bundle folder; raises :class:`BundleError` with the reason."""
    folder = Path(folder)
    card_path, onnx_path = folder / CARD, folder / ONNX
    for path in (card_path, onnx_path):
        if not path.is_file():
            raise BundleError(f"{folder}: missing {path.name}")
    try:
        card = ModelCard.model_validate_json(card_path.read_text())
    except ValidationError as error:
        raise BundleError(
            f"{card_path}: invalid card: {error.errors()[0]['msg']} "
            f"at {'.'.join(map(str, error.errors()[0]['loc']))}"
        ) from None
    actual = sha256_of(onnx_path)
    if actual != card.onnx_sha256:
        raise BundleError(
            f"{onnx_path}: sha256 {actual[:12]}... does not match the card's "
            f"{card.onnx_sha256[:12]}...; refusing to serve a modified model"
        )
    try:
        grid = DmDtGrid.from_dict(card.grid)
    except GridError as error:
        raise BundleError(f"{card_path}: bad grid: {error}") from None
    image_shape = card.inputs.get("image")
    if image_shape is None or list(image_shape[1:]) != [1, *grid.shape]:
        raise BundleError(
            f"{card_path}: image input {image_shape} does not match the grid {grid.shape}"
        )
    if "features" in card.inputs and (
        card.feature_names is None or card.inputs["features"][1:] != [len(card.feature_names)]
    ):
        raise BundleError(f"{card_path}: features input does not match feature_names")
    backgrounds = {
        name: np.asarray(image, dtype=np.float32) for name, image in card.backgrounds.items()
    }
    for name, image in backgrounds.items():
        if image.shape != grid.shape:
            raise BundleError(
                f"{card_path}: background {name!r} has shape {image.shape}, "
                f"not the grid's {grid.shape}"
            )
    return ModelBundle(card, grid, onnx_path, backgrounds)
