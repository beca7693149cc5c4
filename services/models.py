"""Where model bundles live, and choosing one by name or path."""

from __future__ import annotations

import os
from pathlib import Path

from classifier.bundle import CARD, BundleError, ModelBundle, load_bundle

# The repository's models/ folder (editable installs, the Docker image); DMDT_MODELS_DIR wins.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def models_dir() -> Path:
    return Path(os.environ.get("DMDT_MODELS_DIR", DEFAULT_MODELS_DIR))


def available_models() -> list[str]:
    folder = models_dir()
    return (
        sorted(p.name for p in folder.iterdir() if (p / CARD).is_file()) if folder.is_dir() else []
    )


def find_bundle(name_or_path: str | None) -> ModelBundle:
    """A checked bundle: a folder path, a name in :func:`models_dir`, or (no name) the only
    bundle there."""
    names = available_models()
    if name_or_path is None:
        if len(names) != 1:
            raise BundleError(f"choose a model with --model: {models_dir()} holds {names}")
        name_or_path = names[0]
    chosen = name_or_path
    candidate = Path(chosen)
    folder = candidate if (candidate / CARD).is_file() else models_dir() / chosen
    if not (folder / CARD).is_file():
        raise BundleError(
            f"no model {chosen!r}: not a bundle folder, and not one of "
            f"{available_models()} in {models_dir()}"
        )
    return load_bundle(folder)
