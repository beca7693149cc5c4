"""``POST /classify`` and ``POST /classify/batch``: class probabilities of light curves, and
on request their dm-dt images and background-subtracted images (each curve binned once, for
the model and the images alike)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError

from classifier.inference import OnnxClassifier
from classifier.lightcurve import LightCurve, LightCurveError
from classifier.selection import require_points
from classifier.verdict import verdicts
from services.api.dependencies import ServedDep, SettingsDep, model_named
from services.api.images import ImageFormat, images_of
from services.api.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    Classification,
    ClassifyRequest,
    CurveIn,
)

router = APIRouter(prefix="/classify", tags=["classify"])


def _curve(body: CurveIn, max_points: int, min_points: int) -> LightCurve:
    if len(body.t) > max_points:
        raise HTTPException(
            status_code=413, detail=f"{len(body.t)} points exceeds the limit of {max_points}"
        )
    curve = LightCurve(body.t, body.mag, body.err, body.band, body.object_id)
    require_points(len(curve), min_points)
    return curve


def _classifications(
    model: OnnxClassifier, curves: Sequence[LightCurve], images: bool, fmt: ImageFormat
) -> list[Classification]:
    counts = model.bundle.grid.counts_many(curves)
    inputs = model.curve_inputs(curves, counts)
    return [
        Classification.extended(
            verdict,
            images=images_of(model, curve_counts, len(curve), fmt, curve.object_id or "")
            if images
            else None,
        )
        for curve, curve_counts, verdict in zip(
            curves, counts, verdicts(model, inputs, [len(c) for c in curves]), strict=True
        )
    ]


@router.post("", response_model=Classification, response_model_exclude_none=True)
def classify(body: ClassifyRequest, served: ServedDep, settings: SettingsDep) -> Classification:
    """Classify one light curve (one band) with the chosen model bundle."""
    model = model_named(served, body.model)
    try:
        curve = _curve(body, settings.max_points, model.bundle.card.min_points)
    except LightCurveError as problem:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", problem.field), "msg": problem.reason}]
        ) from None
    return _classifications(model, [curve], body.images, body.image_format)[0]


@router.post("/batch", response_model=BatchResponse, response_model_exclude_none=True)
def classify_batch(body: BatchRequest, served: ServedDep, settings: SettingsDep) -> BatchResponse:
    """Classify many light curves in one model run. A curve the model cannot take gets an
    item with its error; the others are classified."""
    if len(body.curves) > settings.max_batch_curves:
        raise HTTPException(
            status_code=413,
            detail=f"{len(body.curves)} curves exceeds the limit of {settings.max_batch_curves}",
        )
    if body.images and body.image_format == "png" and len(body.curves) > settings.max_png_curves:
        raise HTTPException(
            status_code=413,
            detail=f"PNG images of {len(body.curves)} curves exceeds the limit of "
            f"{settings.max_png_curves} a request (ask for arrays, or split the batch)",
        )
    model = model_named(served, body.model)
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
