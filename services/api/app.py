"""The FastAPI application: models loaded once at start, one router per resource."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from classifier.bundle import BundleError
from classifier.inference import OnnxClassifier
from classifier.registry import available_models, default_model_name, find_bundle
from services.api import routes_classify, routes_health, routes_models, routes_objects
from services.api.middleware import ApiKey, BodyLimit, RequestTiming
from services.settings import Settings
from stream.metrics import report_provider

log = logging.getLogger("dmdt.api")
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # no API key needed


def load_models(settings: Settings) -> tuple[dict[str, OnnxClassifier], str]:
    """Every bundle in the models folder, checked; and the default's name."""
    folder = settings.models_dir
    models = {name: OnnxClassifier(find_bundle(name, folder)) for name in available_models(folder)}
    if not models:
        raise BundleError(f"no model bundle in {folder}")
    default = settings.model or default_model_name(folder)
    if default not in models:
        raise BundleError(
            f"default model {default!r} is not among {sorted(models)}; set DMDT_MODEL"
        )
    return models, default


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        log.info("settings: %s", settings.describe())
        app.state.models, app.state.default_model = load_models(settings)
        for model in app.state.models.values():
            report_provider(model, settings.expect_gpu)
        app.state.redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=2.0, socket_connect_timeout=1.0
        )
        yield
        app.state.redis.close()

    app = FastAPI(
        title="dmdt-stream",
        version="0.1.0",
        lifespan=lifespan,
        description="Light-curve classification from dm-dt images.",
    )
    app.state.settings = settings

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.api_key is not None:
        app.add_middleware(ApiKey, key=settings.api_key.get_secret_value(), open_paths=OPEN_PATHS)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "x-api-key"],
        )
    app.add_middleware(RequestTiming)
    app.include_router(routes_health.router)
    app.include_router(routes_models.router)
    app.include_router(routes_classify.router)
    app.include_router(routes_objects.router)
    return app
