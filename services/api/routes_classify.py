"""``POST /classify``: class probabilities of one light curve, and on request its images."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError

from classifier.image import DmDtImage
from classifier.lightcurve import LightCurve, LightCurveError
from classifier.model_input import IMAGE_SCALE
from services.api.routes_models import get_model
from services.api.schemas import Classification, ClassifyRequest, Images

router = APIRouter(tags=["classify"])


def _curve(body: ClassifyRequest, max_points: int, min_points: int) -> LightCurve:
    if len(body.t) > max_points:
        raise HTTPException(
            status_code=413, detail=f"{len(body.t)} points exceeds the limit of {max_points}"
        )
    try:
        curve = LightCurve(body.t, body.mag, body.err, body.band, body.object_id)
    except LightCurveError as error:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", error.field),
                    "msg": error.reason,
                    "input": None,
                }
            ]
        ) from None
    if len(curve) < min_points:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "t"),
                    "input": None,
                    "msg": f"{len(curve)} distinct points; the model needs at least {min_points}",
                }
            ]
        )
    return curve


@router.post("/classify", response_model=Classification, response_model_exclude_none=True)
def classify(body: ClassifyRequest, request: Request) -> Classification:
    """Classify one light curve (one band) with the chosen model bundle."""
    model = get_model(request, body.model)
    card = model.bundle.card
    curve = _curve(body, request.app.state.settings.max_points, card.min_points)
    predictions = model.predict_curves([curve])
    probabilities = predictions.probabilities[0]
    images = None
    if body.images:
        fraction = DmDtImage.of(curve, model.bundle.grid).image * np.float32(IMAGE_SCALE)
        images = Images(
            dm_edges=model.bundle.grid.dm_edges.tolist(),
            dt_edges=model.bundle.grid.dt_edges.tolist(),
            image=fraction.tolist(),
            subtracted={
                name: (fraction - bg).tolist() for name, bg in model.bundle.backgrounds.items()
            },
        )
    return Classification(
        label=predictions.labels[0],
        probabilities={c: float(p) for c, p in zip(card.classes, probabilities, strict=True)},
        confidence=float(predictions.confidence[0]),
        unknown=bool(predictions.unknown[0]),
        model=card.name,
        model_version=card.version,
        n_points=len(curve),
        images=images,
    )
