"""The deployment's observability files against the real thing: a real Prometheus (Debian's
``prometheus``) scrapes the real running services (ingest, worker, API on embedded Kafka and
Redis) while alerts stream; then every Grafana panel's PromQL and every recording rule is
evaluated through Prometheus's HTTP API and must return data. ``promtool`` checks the config
and the rules. Set ``DMDT_RENDER_DIR`` to keep a PNG of the panels' data.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import matplotlib
import pytest
import yaml
from confluent_kafka import Producer
from conftest import SHARED_DATA

from classifier.readers import SchemaCatalog
from classifier.readers.lsst_schemas import package_schemas_root
from services.devtools.demo import demo_inputs
from services.devtools.embedded import free_port
from services.devtools.harness import running_service
from sources.lsst_alerts import LsstAlertWriter
from sources.replay import replay, survey_messages
from stream.kafka import producer_config

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "dmdt-stream.json"
RULES = DEPLOY / "prometheus" / "rules.yml"
RATE_WINDOW = "30s"  # what Grafana's $__rate_interval becomes at a 1 s scrape


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return path


def test_promtool_accepts_the_config_and_the_rules():
    promtool = _binary("promtool")
    config = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert config.returncode == 0, config.stdout + config.stderr
    rules = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert rules.returncode == 0 and "SUCCESS: 12 rules found" in rules.stdout, rules.stdout


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (f"{panel['title']} / {target.get('legendFormat', target['refId'])}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]


def _recording_rules() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["record"] for group in groups for rule in group["rules"] if "record" in rule]


def _start_prometheus(tmp: Path, targets: dict[str, str]) -> tuple[subprocess.Popen, str]:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": f"dmdt-{role}", "static_configs": [{"targets": [address]}]}
            for role, address in targets.items()
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            _binary("prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(tmp / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _query(url: str, expr: str) -> list:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _render(url: str, queries: list[tuple[str, str]], start: float, out: Path) -> None:
    """A PNG of what the latency panels show over the run (the data Grafana would plot)."""
    figure, axes = plt.subplots(2, 2, figsize=(12, 7), layout="constrained")
    titles = [
        "Alert -> classification latency",
        "Worker: queue time vs compute time",
        "Throughput in and out",
        "API latency by route",
    ]
    for ax, title in zip(axes.flat, titles, strict=True):
        for name, expr in queries:
            if not name.startswith(title):
                continue
            answer = httpx.get(
                f"{url}/api/v1/query_range",
                params={"query": expr, "start": start, "end": time.time(), "step": 1},
                timeout=10,
            ).json()
            for series in answer["data"]["result"]:
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                label = name.split(" / ", 1)[1]
                for key, value in series["metric"].items():
                    label = label.replace("{{" + key + "}}", value)
                ax.plot(xs, ys, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds into the run")
        ax.legend(fontsize=7)
    figure.savefig(out)
    plt.close(figure)


def _lsst_messages(samples: Path) -> list[tuple[str | None, bytes]]:
    """The real Rubin alert, Rubin's sample alert (its null scienceFlux: points skipped) and a
    solar-system alert (skipped whole)."""
    sample = package_schemas_root() / "11" / "0" / "sample_data" / "fakeAlert.avro"  # type: ignore[operator]
    writer = LsstAlertWriter(SchemaCatalog.configured(), "11.0")
    source = writer.source(1, 1, 60000.0, "g", 20.0, 0.1, 0.0)
    solar_system = writer.encode({**source, "diaObjectId": None, "ssObjectId": 7}, [])
    files = [samples / "lsst_v9.0_7912941781254298.avro", sample]
    return [*survey_messages(files), ("sso", solar_system)]


def test_every_dashboard_panel_returns_data_from_a_real_prometheus(tmp_path, samples):
    queries = [
        (name, expr.replace("$__rate_interval", RATE_WINDOW)) for name, expr in _panel_queries()
    ]
    with running_service(tmp_path, free_port()) as service:
        prometheus, url = _start_prometheus(tmp_path, service.metrics_targets)
        try:
            start = time.time()
            messages = [*survey_messages(demo_inputs()), ("broken", b"not an alert")]
            rate = 400.0
            if os.environ.get("DMDT_RENDER_DIR"):  # a longer steady stream for the picture
                css = sorted((SHARED_DATA / "crts_css" / "lightcurves").glob("*.csv"))[:300]
                rate = 300.0
                messages += itertools.islice(survey_messages(css), int(rate * 60))
            producer = Producer(producer_config(service.settings.kafka_bootstrap))
            replay(producer, service.settings.alert_topic, messages, rate=rate)
            assert service.settings.lsst_alert_topic is not None
            replay(producer, service.settings.lsst_alert_topic, _lsst_messages(samples))
            body = {"t": [1.0, 2.0, 3.5, 5.0, 8.0, 13.0], "mag": [15, 15.2, 15.1, 15.4, 15.0, 15.3]}
            for _ in range(20):
                assert httpx.post(f"{service.api_url}/classify", json=body).status_code == 200
            httpx.get(f"{service.api_url}/objects/CSS1001006032764")
            deadline = time.monotonic() + 120  # scrapes and rule evaluations to come
            while True:
                missing = [name for name, expr in queries if not _query(url, expr)]
                empty_rules = [rule for rule in _recording_rules() if not _query(url, rule)]
                if not (missing or empty_rules) or time.monotonic() > deadline:
                    break
                time.sleep(1.0)
            assert not missing, f"panels without data: {missing}"
            assert not empty_rules, f"recording rules without data: {empty_rules}"
            assert _query(url, 'dmdt_onnx_provider_info{provider="CPUExecutionProvider"}')
            png = tmp_path / "dashboard.png"
            _render(url, queries, start, png)
            assert png.stat().st_size > 10_000
            if os.environ.get("DMDT_RENDER_DIR"):
                shutil.copy(png, Path(os.environ["DMDT_RENDER_DIR"]) / "dashboard.png")
        finally:
            prometheus.terminate()
            prometheus.wait(10)
