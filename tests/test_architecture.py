"""The layering rules of DESIGN.md, checked on the source and on a running API.

The core (``classifier``) imports no other package of ours and no Kafka, Redis, HTTP or torch;
``training`` imports no serving code; the stream and the alert sources import neither the
services nor training; ``training`` is imported by the services only lazily, inside the
training commands; the development helpers are not imported by product code; and starting
the API loads neither ``confluent_kafka`` nor ``torch`` nor ``training``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.cli.main import TRAINING_COMMANDS as COMMANDS_NEEDING_TRAINING

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("classifier", "stream", "sources", "services", "training")
SERVERS = ("confluent_kafka", "redis", "fastapi", "starlette", "uvicorn", "httpx")
TRAINING_COMMANDS = {f"services/cli/{name}.py" for name in COMMANDS_NEEDING_TRAINING}

# package -> what it must never import (at any level)
FORBIDDEN = {
    "classifier": {*PACKAGES} - {"classifier"} | {*SERVERS, "torch", "prometheus_client"},
    "training": {"stream", "sources", "services"},
    "stream": {"services", "training", "sources", "fastapi", "starlette", "torch"},
    "sources": {"services", "training", "fastapi", "starlette", "torch"},
    "services": {"torch"},
}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the root
    module: str  # the full dotted name imported
    lazy: bool  # inside a function

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every absolute import in a file, and whether it is inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module]
            found.extend(Import(str(path.relative_to(root)), n, inner) for n in names)
            visit(child, inner)

    visit(tree, False)
    return found


def _all_imports(root: Path = ROOT) -> list[Import]:
    return [
        found
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        for found in imports_of(path, root)
    ]


def violations(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        package = found.path.split("/")[0]
        if found.top in FORBIDDEN.get(package, set()):
            problems.append(f"{found.path} imports {found.module}")
        serving = package in ("services", "stream", "sources") and found.top == "training"
        if serving and (not found.lazy or found.path not in TRAINING_COMMANDS):
            problems.append(f"{found.path} imports {found.module} (serving code)")
        product = found.path.startswith(("services/api/", "stream/", "sources/", "classifier/"))
        if product and found.module.startswith("services.devtools"):
            problems.append(f"{found.path} imports the development helpers {found.module}")
        if found.path.startswith("services/api/") and found.top == "confluent_kafka":
            problems.append(f"{found.path} imports {found.module} (the API needs no Kafka)")
    return problems


def test_the_packages_keep_the_layering_rules():
    imports = _all_imports()
    assert len(imports) > 300  # the scan saw the tree
    assert violations(imports) == []


@pytest.mark.parametrize(
    ("path", "source", "problem"),
    [
        ("classifier/x.py", "from stream.store import ObjectStore", "imports stream.store"),
        ("classifier/x.py", "def f():\n    import torch", "imports torch"),
        ("training/x.py", "from services.settings import Settings", "imports services"),
        ("services/api/x.py", "from training.nets import build", "(serving code)"),
        ("services/cli/train.py", "from training.pipeline import train", "(serving code)"),
        ("stream/x.py", "from services.devtools.embedded import free_port", "imports services"),
        ("sources/x.py", "from services.devtools.harness import running_service", "helpers"),
        ("services/api/x.py", "import confluent_kafka", "needs no Kafka"),
    ],
)
def test_the_rules_catch_a_broken_one(tmp_path, path, source, problem):
    file = tmp_path / path
    file.parent.mkdir(parents=True)
    file.write_text(source + "\n")
    problems = violations(imports_of(file, tmp_path))
    assert any(problem in p for p in problems), problems


def test_the_lazy_training_import_of_a_training_command_is_allowed(tmp_path):
    file = tmp_path / "services" / "cli" / "train.py"
    file.parent.mkdir(parents=True)
    file.write_text("def run():\n    from training.pipeline import train\n")
    assert violations(imports_of(file, tmp_path)) == []


STARTED_API = """
import sys
from fastapi.testclient import TestClient
from services.cli import build_parser
from services.api.app import create_app
from services.settings import Settings

build_parser().parse_args(["serve"])  # what `dmdt serve` loads before the app
settings = Settings(redis_url="redis://127.0.0.1:1/0")  # no Redis needed to start
with TestClient(create_app(settings)) as client:
    assert client.get("/healthz").status_code == 200
    assert client.get("/models").status_code == 200
print(" ".join(m for m in ("confluent_kafka", "torch", "training") if m in sys.modules))
"""


def test_starting_the_api_loads_no_kafka_client_no_torch_no_training():
    run = subprocess.run(
        [sys.executable, "-c", STARTED_API], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "", f"loaded: {run.stdout.strip()}"
