"""The distribution's version, from the installed package metadata (one source: pyproject)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "dmdt-stream"


def package_version() -> str:
    """The installed ``dmdt-stream`` version ("unknown" when run from an uninstalled tree)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
