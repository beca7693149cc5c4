"""Every setting of every process, from ``DMDT_*`` environment variables (one class).

Each service logs its effective settings at start (:meth:`Settings.describe`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.models import DEFAULT_MODELS_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DMDT_", frozen=True)

    models_dir: Path = Field(DEFAULT_MODELS_DIR, description="folder of model bundles")
    model: str | None = Field(None, description="default bundle (default: the only one)")
    api_host: str = Field("127.0.0.1", description="dmdt serve: address to listen on")
    api_port: int = Field(8000, ge=1, le=65535, description="dmdt serve: port")
    max_body_bytes: int = Field(8 << 20, ge=1024, description="largest accepted HTTP body")
    max_points: int = Field(100_000, ge=2, description="most points in one light curve")

    def describe(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.model_dump().items())
