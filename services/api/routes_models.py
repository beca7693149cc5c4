"""The served models and their cards."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.api.dependencies import ServedDep, model_named
from services.api.schemas import ModelSummary

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelSummary])
def list_models(served: ServedDep) -> list[ModelSummary]:
    return [
        ModelSummary(
            name=name,
            version=m.bundle.card.version,
            architecture=m.bundle.card.architecture,
            classes=m.bundle.card.classes,
            grid=m.bundle.grid.name,
            min_points=m.bundle.card.min_points,
        )
        for name, m in sorted(served.models.items())
    ]


@router.get("/{name}")
def model_card(name: str, served: ServedDep) -> dict[str, Any]:
    """The whole model card: classes, grid, backgrounds, training data, metrics."""
    return model_named(served, name).bundle.card.model_dump()
