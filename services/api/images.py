"""The images an answer can carry: the model's dm-dt image of raw counts and the image minus
each background of the model card (and for a stream object, minus its survey's background),
as arrays or as PNG pictures (base64)."""

from __future__ import annotations

import base64
from typing import Literal

import numpy as np

from classifier.inference import OnnxClassifier
from classifier.model_input import images_from_counts
from classifier.render import png_bytes
from services.api.schemas import Images

ImageFormat = Literal["array", "png"]


def encoded(image: np.ndarray, model: OnnxClassifier, title: str, signed: bool, fmt: ImageFormat):
    if fmt == "array":
        return image.tolist()
    label = "pair fraction minus background" if signed else "fraction of all pairs"
    picture = png_bytes(image, model.bundle.grid, title, label, signed=signed)
    return base64.b64encode(picture).decode()


def images_of(
    model: OnnxClassifier,
    counts: np.ndarray,
    n_points: int,
    fmt: ImageFormat,
    title: str = "",
    survey: tuple[str, np.ndarray] | None = None,
) -> Images:
    """The image (fraction of all pairs per bin) and each background-subtracted image;
    ``survey``: (what it is, the image) of the object's survey background."""
    fraction = images_from_counts(counts, n_points)[0, 0]
    grid = model.bundle.grid
    heading = f"{title} {n_points} points".strip()
    backgrounds = dict(model.bundle.backgrounds)
    if survey is not None:
        backgrounds["survey"] = survey[1]
    return Images(
        format=fmt,
        dm_edges=grid.dm_edges.tolist(),
        dt_edges=grid.dt_edges.tolist(),
        image=encoded(fraction, model, heading, False, fmt),
        subtracted={
            name: encoded(fraction - bg, model, f"{heading} minus {name}", True, fmt)
            for name, bg in backgrounds.items()
        },
        survey_background=None if survey is None else survey[0],
    )
