"""Request and response bodies of the HTTP API: the schema and the documentation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, StrictFloat

from classifier.survey_background import HALF_LIFE_IMAGES, MIN_IMAGES
from classifier.verdict import Verdict
from stream.results import StreamResult

EXAMPLE_CURVE: dict[str, JsonValue] = {
    "t": [58464.743, 58465.735, 58470.701, 58478.744, 58488.722],
    "mag": [16.72, 16.75, 16.69, 16.81, 16.77],
    "err": [0.02, 0.02, 0.03, 0.02, 0.02],
    "band": "r",
}


class CurveIn(BaseModel):
    """One light curve, columnar: times (MJD, days), magnitudes, optional errors, one band.
    Numbers are JSON numbers: a string or a boolean in their place is refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CURVE]})

    t: list[StrictFloat] = Field(description="times, MJD (days)")
    mag: list[StrictFloat] = Field(description="magnitudes, same length as t")
    err: list[StrictFloat] | None = Field(None, description="magnitude errors, same length as t")
    band: str = Field("single", min_length=1, max_length=32)
    object_id: str | None = Field(None, max_length=128)


class ClassifyRequest(CurveIn):
    model: str | None = Field(None, description="bundle name (default: the served default)")
    images: StrictBool = Field(
        False, description="also return the dm-dt image and the background-subtracted images"
    )
    image_format: Literal["array", "png"] = Field(
        "array", description="images as arrays (rows = dm bins), or PNG pictures (base64)"
    )


class GridImage(BaseModel):
    """A dm-dt image on a grid, as an array or a PNG picture."""

    format: Literal["array", "png"]
    dm_edges: list[float]
    dt_edges: list[float]
    image: list[list[float]] | str = Field(
        description="fraction of all pairs per bin (rows = dm bins), or its PNG in base64"
    )


class Images(GridImage):
    subtracted: dict[str, list[list[float]] | str] = Field(
        description="image minus each background of the model card (arrays or PNG), and for "
        "a stream object, minus its survey and band's background ('survey')"
    )
    survey_background: str | None = Field(
        None,
        description="what 'survey' subtracted: the stream's measured background of the "
        "object's survey and band, or the card's cadence background while fewer than "
        f"{MIN_IMAGES} images are measured",
    )


class SurveyBackgroundSummary(BaseModel):
    survey: str
    band: str
    images: int = Field(
        description=f"scored images added (older ones fade, half-life {HALF_LIFE_IMAGES:,})"
    )
    ready: bool = Field(description="enough images to be used for the survey's objects")


class SurveyBackgroundImage(SurveyBackgroundSummary, GridImage):
    """A survey and band's background: the mean fraction of all pairs per bin."""


class Classification(Verdict):
    """A :class:`~classifier.verdict.Verdict`, and on request the curve's images."""

    images: Images | None = None


class ModelSummary(BaseModel):
    name: str
    version: str
    architecture: str
    classes: list[str]
    grid: str
    min_points: int


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    curves: list[CurveIn] = Field(min_length=1, description="light curves, one band each")
    model: str | None = Field(None, description="bundle name (default: the served default)")
    images: StrictBool = Field(False, description="also return each curve's images")
    image_format: Literal["array", "png"] = Field("array", description="arrays, or PNG (base64)")


class BatchItem(BaseModel):
    index: int = Field(description="position of the curve in the request")
    classification: Classification | None = None
    error: str | None = Field(None, description="why this curve was not classified")


class BatchResponse(BaseModel):
    items: list[BatchItem]


class CurvePoints(BaseModel):
    """One band's stored points, in time order (``err``: null where unknown)."""

    t: list[float] = Field(description="times, MJD (days)")
    mag: list[float]
    err: list[float | None]


class ObjectState(BaseModel):
    """What the stream knows of an object: its points per band, its latest classification,
    and on request its per-band images."""

    object_id: str
    data_version: int = Field(description="bumped by every alert that brought new points")
    points_per_band: dict[str, int]
    result: StreamResult | None = Field(None, description="latest classification, if any")
    images: dict[str, Images] | None = None
    points: dict[str, CurvePoints] | None = Field(
        None, description="on request, each band's stored points (the light curve)"
    )
