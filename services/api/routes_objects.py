"""``GET /objects/{objectId}``: what the stream holds for an object (needs Redis)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated

import numpy as np
import redis
from fastapi import APIRouter, HTTPException, Path, Query

from classifier.accumulator import DmDtAccumulator
from classifier.inference import OnnxClassifier
from classifier.survey_background import MIN_IMAGES
from services.api.dependencies import ServedDep, StoreDep
from services.api.errors import unavailable
from services.api.images import ImageFormat, images_of
from services.api.routes_backgrounds import measured
from services.api.schemas import CurvePoints, ObjectState
from stream.decoders import MAX_OBJECT_ID_CHARS, survey_of
from stream.results import StreamResult
from stream.store import ObjectStore

router = APIRouter(prefix="/objects", tags=["objects"])


@router.get("/{object_id}", response_model=ObjectState, response_model_exclude_none=True)
def get_object(
    object_id: Annotated[str, Path(max_length=MAX_OBJECT_ID_CHARS)],
    served: ServedDep,
    store: StoreDep,
    images: Annotated[bool, Query(description="also return each band's dm-dt images")] = False,
    image_format: Annotated[
        ImageFormat, Query(description="images as arrays, or PNG pictures (base64)")
    ] = "array",
    points: Annotated[bool, Query(description="also return each band's stored points")] = False,
) -> ObjectState:
    """The stream's latest classification of the object, its points per band and images."""
    model = served.default_model
    try:
        (stored,) = store.load_many([object_id])
        result = store.load_result(object_id)
    except redis.RedisError as error:
        raise unavailable("Redis", error) from None
    if not stored.bands:
        raise HTTPException(status_code=404, detail=f"no object {object_id!r} in the stream")
    survey = _survey_backgrounds(store, model, object_id, stored.bands) if images else {}
    return ObjectState(
        object_id=object_id,
        data_version=stored.version,
        points_per_band={band: acc.n_points for band, acc in sorted(stored.bands.items())},
        result=result,
        images={
            band: images_of(
                model,
                acc.counts,
                acc.n_points,
                image_format,
                f"{object_id} {band}",
                survey.get(band),
            )
            for band, acc in sorted(stored.bands.items())
        }
        if images
        else None,
        points={band: _points(acc) for band, acc in sorted(stored.bands.items())}
        if points
        else None,
    )


def _survey_backgrounds(
    store: ObjectStore, model: OnnxClassifier, object_id: str, bands: Iterable[str]
) -> dict[str, tuple[str, np.ndarray]]:
    """For each band, what to subtract as the object's survey background, and what it is:
    the background the stream has measured (ready), else the card's cadence background
    (absent for a band when the card has none)."""
    survey = survey_of(object_id)
    ready = {b.band: b for b in measured(store) if b.survey == survey and b.ready}
    fallback = model.bundle.backgrounds.get("cadence")
    chosen = {}
    for band in bands:
        if band in ready:
            found = ready[band]
            chosen[band] = (f"{survey} {band}, measured from {found.images} images", found.mean())
        elif fallback is not None:
            chosen[band] = (
                f"the card's cadence background (fewer than {MIN_IMAGES} {survey} images)",
                fallback,
            )
    return chosen


def _points(acc: DmDtAccumulator) -> CurvePoints:
    t, mag, err = acc.points()
    return CurvePoints(
        t=t.tolist(), mag=mag.tolist(), err=[float(e) if math.isfinite(e) else None for e in err]
    )


@router.get("/{object_id}/history", response_model=list[StreamResult])
def get_history(
    object_id: Annotated[str, Path(max_length=MAX_OBJECT_ID_CHARS)], store: StoreDep
) -> list[StreamResult]:
    """The object's last classifications by the stream, newest first (empty if none)."""
    try:
        return store.load_history(object_id)
    except redis.RedisError as error:
        raise unavailable("Redis", error) from None
