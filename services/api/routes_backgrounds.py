"""``GET /backgrounds``: the cadence background of each survey and band, as the stream's
workers measure it from the objects they score (:mod:`classifier.survey_background`)."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import APIRouter, HTTPException, Path, Query

from classifier.survey_background import SurveyBackground
from services.api.dependencies import ServedDep, StoreDep
from services.api.errors import unavailable
from services.api.images import ImageFormat, encoded
from services.api.schemas import SurveyBackgroundImage, SurveyBackgroundSummary
from stream.store import ObjectStore

router = APIRouter(prefix="/backgrounds", tags=["backgrounds"])
NAME_PATTERN = r"^[A-Za-z0-9_.+\-]{1,32}$"


def measured(store: ObjectStore) -> list[SurveyBackground]:
    """Every survey background the store holds on its grid (503 if Redis cannot be read;
    the details go to the log)."""
    try:
        return store.survey_backgrounds()
    except redis.RedisError as error:
        raise unavailable("Redis", error) from None


def _summary(background: SurveyBackground) -> SurveyBackgroundSummary:
    return SurveyBackgroundSummary(
        survey=background.survey,
        band=background.band,
        images=background.images,
        ready=background.ready,
    )


@router.get("", response_model=list[SurveyBackgroundSummary])
def list_backgrounds(store: StoreDep) -> list[SurveyBackgroundSummary]:
    """The surveys and bands measured so far, with how many images each has seen."""
    return [_summary(background) for background in measured(store)]


@router.get("/{survey}/{band}", response_model=SurveyBackgroundImage)
def get_background(
    survey: Annotated[str, Path(pattern=NAME_PATTERN)],
    band: Annotated[str, Path(pattern=NAME_PATTERN)],
    store: StoreDep,
    served: ServedDep,
    image_format: Annotated[
        ImageFormat, Query(description="the image as an array, or a PNG picture (base64)")
    ] = "array",
) -> SurveyBackgroundImage:
    """One survey and band's background image (fraction of all pairs per bin)."""
    found = {(b.survey, b.band): b for b in measured(store)}
    background = found.get((survey, band))
    if background is None or background.weight <= 0:
        measured_names = sorted(f"{s}/{b}" for s, b in found)
        raise HTTPException(
            status_code=404,
            detail=f"no background of {survey}/{band} yet; measured: {measured_names}",
        )
    model = served.models[served.default]
    title = f"{survey} {band} cadence background, {background.images} images"
    return SurveyBackgroundImage(
        **_summary(background).model_dump(),
        format=image_format,
        dm_edges=store.grid.dm_edges.tolist(),
        dt_edges=store.grid.dt_edges.tolist(),
        image=encoded(background.mean(), model, title, False, image_format),
    )
