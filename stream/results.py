"""The stream's classification of one object: written by the worker to Redis (through
:meth:`stream.store.ObjectStore.save_results`) and to the results topic, read back by
``GET /objects/{id}``."""

from __future__ import annotations

from pydantic import Field

from classifier.verdict import Verdict


class StreamResult(Verdict):
    """A :class:`~classifier.verdict.Verdict` of the band the worker scored, and what it
    scored (``n_points``: the points of that band)."""

    object_id: str
    provider: str = Field(description="ONNX Runtime execution provider that scored it")
    band: str = Field(description="the band scored (see the multi-band rule)")
    points_per_band: dict[str, int]
    data_version: int = Field(description="the stored object's version that was scored")
    alert_time: float = Field(description="oldest alert not yet scored, seconds since epoch")
    scored_at: float = Field(description="seconds since the epoch")
