"""The FastAPI application: models loaded and checked once at start, one router per resource,
shared handles as dependencies (:mod:`services.api.dependencies`)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

from classifier.registry import served_models
from services.api import (
    routes_backgrounds,
    routes_classify,
    routes_health,
    routes_models,
    routes_objects,
    routes_results,
    routes_web,
)
from services.api.errors import validation_failed
from services.api.middleware import ApiKey, BodyLimit, RequestTiming
from services.settings import Settings
from services.version import package_version
from stream.metrics import report_provider
from stream.redis_client import connect
from stream.store import ObjectStore

log = logging.getLogger("dmdt.api")
# no API key needed: health, metrics, and the web page itself (its data calls need the key)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/"})
OPEN_PREFIXES = (routes_web.STATIC_PREFIX,)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        log.info("settings: %s", settings.describe())
        served = served_models(settings.models_dir, settings.model)
        for model in served.models.values():
            report_provider(model, settings.expect_gpu)
        client = connect(
            settings.redis_url,
            settings.redis_cluster,
            socket_timeout=2.0,
            socket_connect_timeout=1.0,
        )
        app.state.served = served
        app.state.store = ObjectStore(client, served.default_model.bundle.grid)
        yield
        client.close()

    app = FastAPI(
        title="dmdt-stream",
        version=package_version(),
        lifespan=lifespan,
        description="Light-curve classification from dm-dt images.",
    )
    app.state.settings = settings
    app.add_exception_handler(RequestValidationError, validation_failed)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.api_key is not None:
        app.add_middleware(
            ApiKey,
            key=settings.api_key.get_secret_value(),
            open_paths=OPEN_PATHS,
            open_prefixes=OPEN_PREFIXES,
        )
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
    app.include_router(routes_results.router)
    app.include_router(routes_backgrounds.router)
    routes_web.mount(app)
    return app
