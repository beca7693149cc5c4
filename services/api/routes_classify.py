"""``POST /classify`` and ``POST /classify/batch``: class probabilities of light curves, and
on request their dm-dt images and background-subtracted images."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError

from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve, LightCurveError
from services.api.images import ImageFormat, images_of
from services.api.routes_models import get_model
from services.api.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    Classification,
    ClassifyRequest,
    CurveIn,
)
from stream.results import verdicts

router = APIRouter(prefix="/classify", tags=["classify"])


def _curve(body: CurveIn, max_points: int, min_points: int) -> LightCurve:
    if len(body.t) > max_points:
        raise HTTPException(
            status_code=413, detail=f"{len(body.t)} points exceeds the limit of {max_points}"
        )
    curve = LightCurve(body.t, body.mag, body.err, body.band, body.object_id)
    if len(curve) < min_points:
        raise LightCurveError(
            "t", f"{len(curve)} distinct points; the model needs at least {min_points}"
        )
    return curve


def _classifications(
    model: OnnxClassifier, curves: Sequence[LightCurve], images: bool, fmt: ImageFormat
) -> list[Classification]:
    predictions = model.predict_curves(curves)
    return [
        Classification(
            **verdict,
            n_points=len(curve),
            images=images_of(
                model, model.bundle.grid.counts(curve), len(curve), fmt, curve.object_id or ""
            )
            if images
            else None,
        )
        for curve, verdict in zip(curves, verdicts(predictions, model.bundle.card), strict=True)
    ]


@router.post("", response_model=Classification, response_model_exclude_none=True)
def classify(body: ClassifyRequest, request: Request) -> Classification:
    """Classify one light curve (one band) with the chosen model bundle."""
    model = get_model(request, body.model)
    try:
        curve = _curve(body, request.app.state.settings.max_points, model.bundle.card.min_points)
    except LightCurveError as problem:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", problem.field), "msg": problem.reason}]
        ) from None
    return _classifications(model, [curve], body.images, body.image_format)[0]


@router.post("/batch", response_model=BatchResponse, response_model_exclude_none=True)
def classify_batch(body: BatchRequest, request: Request) -> BatchResponse:
    """Classify many light curves in one model run. A curve the model cannot take gets an
    item with its error; the others are classified."""
    settings = request.app.state.settings
    if len(body.curves) > settings.max_batch_curves:
        raise HTTPException(
            status_code=413,
            detail=f"{len(body.curves)} curves exceeds the limit of {settings.max_batch_curves}",
        )
    model = get_model(request, body.model)
    items: list[BatchItem] = []
    good: list[tuple[int, LightCurve]] = []
    for index, curve_in in enumerate(body.curves):
        try:
            good.append(
                (index, _curve(curve_in, settings.max_points, model.bundle.card.min_points))
            )
        except LightCurveError as problem:
            items.append(
                BatchItem(index=index, error=f"curves[{index}].{problem.field}: {problem.reason}")
            )
    done = (
        _classifications(model, [curve for _, curve in good], body.images, body.image_format)
        if good
        else []
    )
    items.extend(
        BatchItem(index=index, classification=c) for (index, _), c in zip(good, done, strict=True)
    )
    return BatchResponse(items=sorted(items, key=lambda item: item.index))
