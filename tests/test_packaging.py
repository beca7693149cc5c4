"""The distribution as a user gets it: a wheel built from the checkout, installed with the
``cpu`` extra in a fresh virtualenv outside the checkout, with no ``DMDT_*`` setting. It must
carry its model bundles, declare every import its default commands need, and report the
version of its metadata."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from services.devtools.embedded import free_port

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


# what a build must not see: setuptools builds in the source tree (build/, *.egg-info), so
# two test processes building the checkout at once collide; each builds its own copy
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "reports", "runs", ".*cache"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "dmdt-stream"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return next(out.glob("dmdt_stream-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """The fresh virtualenv's ``bin``, an environment without ``DMDT_*``, a folder outside
    the checkout to run in."""
    work = tmp_path_factory.mktemp("fresh")
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    pip = work / "venv" / "bin" / "pip"
    done = subprocess.run(
        [str(pip), "install", "--quiet", f"{wheel}[cpu]"],
        check=False,
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DMDT_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{work / 'venv' / 'bin'}:{env.get('PATH', '')}"
    shutil.copy(ROOT / "classifier" / "samples" / "css_1001006032764-RRab.csv", work)
    return work / "venv" / "bin", env, work


def test_the_wheel_carries_the_model_bundles(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for bundle in ("css-hybrid", "css-dmdtnet", "survey-hybrid", "mixed-two"):
        assert {
            f"classifier/models/{bundle}/model.onnx",
            f"classifier/models/{bundle}/card.json",
        } <= names
    assert not any(name.startswith(("tests/", "bench/", "models/")) for name in names)


def test_predict_from_the_installed_wheel(installed):
    bin_dir, env, work = installed

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [str(bin_dir / "dmdt"), *args]
        return subprocess.run(
            command, check=False, capture_output=True, text=True, env=env, cwd=work
        )

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"dmdt {VERSION}"
    answer = run("predict", "css_1001006032764-RRab.csv")
    assert answer.returncode == 0, answer.stderr[-2000:]
    header, row = answer.stdout.strip().splitlines()[:2]
    assert header.startswith("path,object_id,band,n_points,label")
    assert row.split(",")[4] == "RRab"  # as the checkout's model answers


def test_serve_from_the_installed_wheel(installed):
    bin_dir, env, work = installed
    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "dmdt"), "serve", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read().decode()[-2000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "dmdt serve did not answer in 120 s"
            time.sleep(0.2)
        # generous: a fresh install has no numba cache, so the first answers compile
        http = httpx.Client(base_url=url, timeout=300.0)
        models = {m["name"] for m in http.get("/models").json()}
        assert {"css-hybrid", "css-dmdtnet", "survey-hybrid", "mixed-two"} <= models
        assert http.get("/openapi.json").json()["info"]["version"] == VERSION
        curve = {"t": [1.0, 2.0, 3.5, 5.0, 8.0, 13.0], "mag": [15, 15.2, 15.1, 15.4, 15.0, 15.3]}
        assert http.post("/classify", json=curve).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
