"""Where Rubin alert schemas come from: a Confluent schema registry, a folder, or the
``lsst-alert-packet`` package, looked up by the schema id of the Confluent wire format.

Rubin frames each alert as byte 0 = 0, a 4-byte big-endian schema id (``major * 100 +
minor``: 900 is v9.0) and the schemaless Avro body; the body cannot be read without the writer
schema the id names. The schemas are Rubin's (``lsst/alert_packet``, GPL-3.0), so they are
not shipped here: they come from

* a schema registry (``DMDT_LSST_SCHEMA_REGISTRY``, e.g. Rubin's public one):
  ``GET {url}/schemas/ids/{id}``, cached by id;
* a folder laid out as ``9.0/lsst.v9_0.alert.avsc`` (or ``9/0/...``, as in the package) with
  the records the alert schema names beside it (``DMDT_LSST_SCHEMA_DIR``);
* the ``lsst-alert-packet`` distribution when it is installed (``pip install
  'dmdt-stream[lsst]'``): its schema folder is read as files, its code is not imported.

A schema is returned as one self-contained JSON schema (the named records inlined at first
use), ready for :class:`classifier.readers.avro_plan.ReadPlan` and ``fastavro``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

PACKAGE = "lsst-alert-packet"
PACKAGE_SCHEMAS = "lsst/alert/packet/schema"
REGISTRY_TIMEOUT_S = 10.0
MAX_SCHEMA_BYTES = 4 << 20


class UnknownSchemaError(ValueError):
    """No configured source holds the schema an alert names."""


class SchemaRegistryError(ConnectionError):
    """The schema registry did not answer (the alert is fine: try again later)."""


def schema_id(version: str) -> int:
    """The wire-format id of a schema version: ``major * 100 + minor``.

    Examples
    --------
    >>> schema_id("9.0"), schema_id("11.1")
    (900, 1101)
    """
    major, _, minor = version.partition(".")
    if not (major.isdigit() and minor.isdigit() and int(minor) < 100):
        raise ValueError(f"schema version {version!r} is not MAJOR.MINOR (e.g. 10.0)")
    return int(major) * 100 + int(minor)


def schema_version(identifier: int) -> str:
    """``"M.m"`` of a wire-format id.

    >>> schema_version(1000)
    '10.0'
    """
    return f"{identifier // 100}.{identifier % 100}"


def _inlined(node: Any, namespace: str, named: dict[str, Any], seen: set[str]) -> Any:
    """``node`` with every reference to a not-yet-defined named record replaced by its
    definition (read by ``named``); later references stay names, as Avro requires."""
    if isinstance(node, list):
        return [_inlined(item, namespace, named, seen) for item in node]
    if isinstance(node, str):
        full = node if "." in node else f"{namespace}.{node}"
        if full in seen or full not in named:
            return node
        return _inlined(named[full], namespace, named, seen)
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if node.get("type") in ("record", "enum", "fixed"):
        space = node.get("namespace", namespace)
        name = node["name"] if "." in node["name"] else f"{space}.{node['name']}"
        seen.add(name)
        if node["type"] == "record":
            out["fields"] = [
                {**f, "type": _inlined(f["type"], space, named, seen)} for f in node["fields"]
            ]
        return out
    for key in ("items", "values", "type"):  # arrays, maps, and {"type": ...} wrappers
        if key in node:
            out[key] = _inlined(node[key], namespace, named, seen)
    return out


def _load_folder_schema(folder: Path, version: str) -> dict[str, Any]:
    """The alert schema of ``version`` in ``folder`` (one version's files), inlined."""
    major, minor = version.split(".")
    alert = folder / f"lsst.v{major}_{minor}.alert.avsc"
    named: dict[str, Any] = {}
    for path in sorted(folder.glob("*.avsc")):
        try:
            node = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise UnknownSchemaError(f"{path}: not a readable JSON schema ({error})") from None
        if isinstance(node, dict) and "name" in node:
            space = node.get("namespace", "")
            name = node["name"] if "." in node["name"] or not space else f"{space}.{node['name']}"
            named[name] = node
    top = json.loads(alert.read_text())
    return _inlined(top, top.get("namespace", ""), named, set())


class SchemaSource(Protocol):
    """Gives the writer schema of a wire-format id, or raises :class:`UnknownSchemaError`."""

    def schema(self, identifier: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FolderSchemas:
    """Schemas in a folder: ``M.m/`` or ``M/m/`` per version."""

    root: Path

    def _folder(self, identifier: int) -> Path | None:
        major, minor = identifier // 100, identifier % 100
        for folder in (self.root / f"{major}.{minor}", self.root / str(major) / str(minor)):
            if (folder / f"lsst.v{major}_{minor}.alert.avsc").is_file():
                return folder
        return None

    def versions(self) -> list[str]:
        names = (p.name.split(".")[1] for p in self.root.rglob("lsst.v*_*.alert.avsc"))
        return sorted({name[1:].replace("_", ".") for name in names}, key=schema_id)

    def schema(self, identifier: int) -> dict[str, Any]:
        folder = self._folder(identifier)
        if folder is None:
            raise UnknownSchemaError(
                f"schema id {identifier} (Rubin alert schema v{schema_version(identifier)}) is "
                f"not in {self.root}; it holds {', '.join(self.versions()) or 'none'}"
            )
        return _load_folder_schema(folder, schema_version(identifier))


@dataclass(frozen=True)
class RegistrySchemas:
    """A Confluent schema registry: ``GET {url}/schemas/ids/{id}`` (the catalog caches)."""

    url: str
    timeout_s: float = REGISTRY_TIMEOUT_S

    def schema(self, identifier: int) -> dict[str, Any]:
        address = f"{self.url.rstrip('/')}/schemas/ids/{identifier}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout_s) as response:
                body = response.read(MAX_SCHEMA_BYTES + 1)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise UnknownSchemaError(
                    f"schema id {identifier} is not in the registry {self.url}"
                ) from None
            raise SchemaRegistryError(f"schema registry {self.url}: HTTP {error.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SchemaRegistryError(f"schema registry {self.url}: {reason}") from None
        if len(body) > MAX_SCHEMA_BYTES:
            raise UnknownSchemaError(f"{address}: the schema is larger than {MAX_SCHEMA_BYTES} B")
        try:
            schema = json.loads(json.loads(body)["schema"])
        except (ValueError, KeyError, TypeError) as error:
            raise UnknownSchemaError(f"{address}: not a registry schema answer ({error})") from None
        if not isinstance(schema, dict):
            raise UnknownSchemaError(f"{address}: the schema is not an Avro record")
        return schema


@cache
def package_schemas_root() -> Path | None:
    """The schema folder of the installed ``lsst-alert-packet``, or None."""
    try:
        root = Path(str(metadata.distribution(PACKAGE).locate_file(PACKAGE_SCHEMAS)))
    except metadata.PackageNotFoundError:
        return None
    return root if root.is_dir() else None


@dataclass(eq=False)  # hashed by identity: compiled readings are cached per catalog
class SchemaCatalog:
    """The configured source, schemas cached by id.

    Without a registry or a folder it reads the ``lsst-alert-packet`` package's schemas, if
    installed; an id no source holds is an :class:`UnknownSchemaError` that says what to set.
    """

    source: SchemaSource | None = None
    _cache: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def configured(
        cls, registry_url: str | None = None, folder: Path | None = None
    ) -> SchemaCatalog:
        """From the settings: the registry if given, else the folder, else the package."""
        if registry_url:
            return cls(RegistrySchemas(registry_url))
        if folder is not None:
            return cls(FolderSchemas(folder))
        package = package_schemas_root()
        return cls(FolderSchemas(package) if package is not None else None)

    def schema(self, identifier: int) -> dict[str, Any]:
        if identifier not in self._cache:
            if self.source is None:
                raise UnknownSchemaError(
                    f"schema id {identifier} (Rubin alert schema v{schema_version(identifier)})"
                    " is not available: set DMDT_LSST_SCHEMA_REGISTRY (a Confluent schema "
                    "registry) or DMDT_LSST_SCHEMA_DIR, or pip install 'dmdt-stream[lsst]'"
                )
            self._cache[identifier] = self.source.schema(identifier)
        return self._cache[identifier]
