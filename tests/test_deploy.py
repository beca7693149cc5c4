"""The deployment files agree with the schema and with the code (Docker has no engine here,
so these checks are what can be run): the compose file validates against the Compose
Specification's JSON schema; each dmdt service runs a real subcommand with real settings; the
ports, topics, Prometheus targets and Grafana datasource agree with one another."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from services.cli import build_parser
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
DMDT_SERVICES = {
    name: service
    for name, service in COMPOSE["services"].items()
    if str(service.get("image", "")).startswith("dmdt-stream")
}


def _env_file() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "dmdt.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


def _setting_names() -> set[str]:
    return {f"DMDT_{name.upper()}" for name in Settings.model_fields}


def test_compose_file_validates_against_the_compose_spec_schema():
    schema = json.loads((DEPLOY / "schema" / "compose-spec.json").read_text())
    jsonschema.Draft201909Validator(schema).validate(COMPOSE)
    broken = {**COMPOSE, "services": {**COMPOSE["services"], "api": {"command": 3}}}
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        jsonschema.Draft201909Validator(schema).validate(broken)


def test_each_service_runs_a_real_subcommand_with_real_settings(monkeypatch):
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    assert set(DMDT_SERVICES) == {"ingest", "worker", "worker-gpu", "api"}
    for name, service in DMDT_SERVICES.items():
        assert service["command"][0] in subcommands, name
        assert set(service.get("environment", {})) <= _setting_names(), name
        assert service["env_file"] == "dmdt.env"
    env = _env_file()
    assert set(env) <= _setting_names()
    per_service = {"DMDT_METRICS_PORT", "DMDT_API_KEY"}  # per service; the key from a secret
    assert _setting_names() - per_service <= set(env), "every setting in the one env file"
    for key, value in env.items():  # the values parse as the processes will read them
        monkeypatch.setenv(key, value)
    parsed = Settings()
    assert parsed.kafka_bootstrap == "kafka:9092" and parsed.cors_origins == []


def test_ports_targets_and_topics_agree():
    env = _env_file()
    api_port = env["DMDT_API_PORT"]
    assert DMDT_SERVICES["api"]["ports"] == [f"{api_port}:{api_port}"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["dmdt-api"]["static_configs"][0]["targets"] == [f"api:{api_port}"]
    for role in ("ingest", "worker"):
        (dns,) = jobs[f"dmdt-{role}"]["dns_sd_configs"]
        for name in dns["names"]:
            assert str(dns["port"]) == DMDT_SERVICES[name]["environment"]["DMDT_METRICS_PORT"]
    created = re.findall(r"([\w.-]+):\d+", COMPOSE["services"]["kafka-topics"]["command"][0])
    assert {
        env["DMDT_ALERT_TOPIC"],
        env["DMDT_RESULTS_TOPIC"],
        env["DMDT_DEAD_LETTER_TOPIC"],
    } <= set(created)
    assert env["DMDT_KAFKA_BOOTSTRAP"] == "kafka:9092" and env["DMDT_REDIS_URL"].startswith(
        "redis://redis:6379"
    )
    gpu = DMDT_SERVICES["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["environment"]["DMDT_EXPECT_GPU"] == "true"
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]


def test_grafana_provisioning_points_at_the_dashboard_and_the_datasource():
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "dmdt-stream.json").read_text())
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert uids == {datasource["uid"]} and datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "dmdt.yml").read_text()
    )["providers"][0]
    mounts = COMPOSE["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_dockerfile_has_both_targets_a_health_check_and_no_root():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)", text, flags=re.MULTILINE)
    assert {"build", "build-gpu", "runtime-base", "gpu", "cpu"} == set(stages)
    assert stages[-1] == "cpu"  # the default target
    assert "HEALTHCHECK" in text and "/healthz" in text and 'ENTRYPOINT ["dmdt"]' in text
    assert text.count("USER dmdt") == 2 and "COPY models" not in text
    for name, service in DMDT_SERVICES.items():
        assert service["build"]["target"] in stages, name


def test_the_image_copies_every_package_the_distribution_installs():
    """A package missing from the image's COPY lines (as ``stream/`` and ``sources/`` would
    have been after a move) installs an image whose commands fail to import."""
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {name.rstrip("*") for name in include["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert packages == copied
