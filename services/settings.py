"""Every setting of every process, from ``DMDT_*`` environment variables (one class).

Each service logs its effective settings at start (:meth:`Settings.describe`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from classifier.defaults import DEFAULT_MODEL
from classifier.readers.lsst_schemas import SchemaCatalog
from classifier.registry import DEFAULT_MODELS_DIR
from services.secrets import masked
from stream import defaults


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DMDT_", frozen=True)

    models_dir: Path = Field(
        DEFAULT_MODELS_DIR,
        description="folder of model bundles (empty: those installed with the package)",
    )
    model: str | None = Field(
        None,
        description=f"bundle the API defaults to and the worker uses (default: {DEFAULT_MODEL})",
    )
    api_host: str = Field("127.0.0.1", description="address the API and metrics listen on")
    api_port: int = Field(8000, ge=1, le=65535, description="dmdt serve: port")
    max_body_bytes: int = Field(8 << 20, ge=1024, description="largest accepted HTTP body")
    max_points: int = Field(100_000, ge=2, description="most points in one light curve")
    api_key: SecretStr | None = Field(
        None, description="if set, every API route but health and metrics needs X-API-Key"
    )
    cors_origins: list[str] = Field(
        [], description="origins allowed to call the API from a browser (JSON list)"
    )
    max_batch_curves: int = Field(256, ge=1, description="most curves in POST /classify/batch")
    max_png_curves: int = Field(
        4, ge=1, description="most curves drawn as PNG in one request (a picture per background)"
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis or Valkey server")
    redis_cluster: bool = Field(
        False, description="DMDT_REDIS_URL names one node of a Redis (or Valkey) Cluster"
    )
    queue_shards: int = Field(
        1,
        ge=1,
        le=1024,
        description="scoring queue shards (the same in every process; a cluster spreads them)",
    )
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    alert_topic: str = Field("ztf-alerts", description="topic of ZTF Avro alerts")
    lsst_alert_topic: str | None = Field(
        None, description="topic of Rubin/LSST alerts, read beside the ZTF one (none: not read)"
    )
    lsst_schema_registry: str | None = Field(
        None, description="Confluent schema registry URL of the Rubin alert schemas"
    )
    lsst_schema_dir: Path | None = Field(
        None,
        description="folder of Rubin alert schemas (9.0/lsst.v9_0.alert.avsc ...); default: "
        "those of the installed lsst-alert-packet",
    )
    lsst_forced_sources: bool = Field(
        False, description="LSST: also store prvDiaForcedSources (forced photometry) as points"
    )
    results_topic: str = Field("dmdt-results", description="topic of classifications (JSON)")
    dead_letter_topic: str = Field(
        "ztf-alerts-dead", description="alerts that could not be decoded or stored, with reason"
    )
    consumer_group: str = Field("dmdt-ingest", description="ingest's Kafka consumer group")
    ingest_batch: int = Field(
        defaults.INGEST_BATCH, ge=1, description="ingest: most messages handled together"
    )
    fetch_wait_ms: int = Field(
        defaults.FETCH_WAIT_MS,
        ge=1,
        le=10_000,
        description="ingest: longest a broker may hold a fetch (raise it for slow broker storage)",
    )
    magnitude: Literal["dc", "difference"] = Field(
        defaults.MAGNITUDE,
        description="ingest: store DC (apparent; LSST scienceFlux) or positive difference "
        "magnitudes (LSST psfFlux)",
    )
    max_points_per_band: int = Field(
        defaults.MAX_POINTS_PER_BAND,
        ge=2,
        description="ingest: points stored per object and band; later ones dropped",
    )
    hot_objects_mb: float = Field(
        defaults.HOT_OBJECTS_MB,
        ge=0,
        description="ingest: memory (MiB) for the objects it wrote last, whose next alert then "
        "costs one round trip to Redis (0: none kept)",
    )
    worker_max_batch: int = Field(
        defaults.WORKER_MAX_BATCH, ge=1, description="worker: most objects in one ONNX run"
    )
    worker_max_wait_ms: float = Field(
        defaults.WORKER_MAX_WAIT_MS,
        ge=0,
        description="worker: longest wait to fill a batch after its first object",
    )
    rescore_min_new_points: int = Field(
        defaults.RESCORE_MIN_NEW_POINTS,
        ge=0,
        description="worker: new points (all bands) before an object is scored again (0: any "
        "change)",
    )
    rescore_min_interval_s: float = Field(
        defaults.RESCORE_MIN_INTERVAL_S,
        ge=0,
        description="worker: seconds between two scorings of an object",
    )
    rescore_max_delay_s: float = Field(
        defaults.RESCORE_MAX_DELAY_S,
        ge=0,
        description="worker: longest an alert waits for a result, whatever the two above",
    )
    claim_lease_s: float = Field(
        defaults.CLAIM_LEASE_S,
        gt=0,
        description="worker: a claim older than this (its worker died) is re-queued",
    )
    min_points: int | None = Field(
        None, ge=2, description="worker: points a band needs to be scored (default: the card's)"
    )
    expect_gpu: bool = Field(
        False, description="this host should run ONNX on CUDA: a CPU fallback is logged and alerted"
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="ingest/worker: Prometheus port (none: no endpoint)"
    )

    @field_validator("lsst_schema_registry", "lsst_schema_dir", "lsst_alert_topic", mode="before")
    @classmethod
    def _empty_url_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("models_dir", mode="before")
    @classmethod
    def _empty_is_the_installed_bundles(cls, value: object) -> object:
        return DEFAULT_MODELS_DIR if value == "" else value

    def lsst_schemas(self) -> SchemaCatalog:
        """Where Rubin alert schemas come from: the registry, else the folder, else the
        installed ``lsst-alert-packet``."""
        return SchemaCatalog.configured(self.lsst_schema_registry, self.lsst_schema_dir)

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_no_key(cls, value: object) -> object:
        return None if value in ("", None) else value

    def describe(self) -> str:
        """``name=value, ...`` for the logs, secrets masked (the API key, URL passwords).

        Examples
        --------
        >>> text = Settings(redis_url="redis://user:hunter2@db:6379/0", api_key="k").describe()
        >>> "hunter2" in text, "redis://user:***@db:6379/0" in text, "api_key=***" in text
        (False, True, True)
        >>> text = Settings(redis_url="redis://u:a@b@db:6379/0?password=c%40d").describe()
        >>> "a@b" in text or "c%40d" in text, "redis://u:***@db:6379/0?password=***" in text
        (False, True)
        """
        return ", ".join(f"{name}={masked(value)}" for name, value in self.model_dump().items())
