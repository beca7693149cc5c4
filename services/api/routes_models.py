"""The served models and their cards."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from classifier.inference import OnnxClassifier
from services.api.schemas import ModelSummary

router = APIRouter(prefix="/models", tags=["models"])


def get_model(request: Request, name: str | None) -> OnnxClassifier:
    """The named model (404 if not served), or the default."""
    models: dict[str, OnnxClassifier] = request.app.state.models
    chosen = name or request.app.state.default_model
    if chosen not in models:
        raise HTTPException(
            status_code=404, detail=f"no model {chosen!r}; served: {sorted(models)}"
        )
    return models[chosen]


@router.get("", response_model=list[ModelSummary])
def list_models(request: Request) -> list[ModelSummary]:
    return [
        ModelSummary(
            name=name,
            version=m.bundle.card.version,
            architecture=m.bundle.card.architecture,
            classes=m.bundle.card.classes,
            grid=m.bundle.grid.name,
            min_points=m.bundle.card.min_points,
        )
        for name, m in sorted(request.app.state.models.items())
    ]


@router.get("/{name}")
def model_card(name: str, request: Request) -> dict[str, Any]:
    """The whole model card: classes, grid, backgrounds, training data, metrics."""
    return get_model(request, name).bundle.card.model_dump()
