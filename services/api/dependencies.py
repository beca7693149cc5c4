"""The shared handles of the API, built once at start and handed to routes as dependencies:
the settings, the served models and the stream's store (one Redis client for every request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from classifier.inference import OnnxClassifier
from classifier.registry import ServedModels
from services.api.errors import shortened
from services.settings import Settings
from stream.store import ObjectStore


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_served(request: Request) -> ServedModels:
    return request.app.state.served


def get_store(request: Request) -> ObjectStore:
    """The stream's store, on the default model's grid."""
    return request.app.state.store


def model_named(served: ServedModels, name: str | None) -> OnnxClassifier:
    """The named model (404 if not served), or the default."""
    chosen = name or served.default
    if chosen not in served.models:
        raise HTTPException(
            status_code=404,
            detail=f"no model {shortened(chosen, 64)!r}; served: {sorted(served.models)}",
        )
    return served.models[chosen]


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServedDep = Annotated[ServedModels, Depends(get_served)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
