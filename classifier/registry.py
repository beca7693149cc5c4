"""Where model bundles live, and choosing one by name or path."""

from __future__ import annotations

import os
from pathlib import Path

from classifier.bundle import CARD, BundleError, ModelBundle, load_bundle

# The repository's models/ folder (editable installs, the Docker image); DMDT_MODELS_DIR wins.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
# The most accurate shipped bundle; css-dmdtnet (image only) is the fast one.
DEFAULT_MODEL = "css-hybrid"


def models_dir() -> Path:
    return Path(os.environ.get("DMDT_MODELS_DIR", DEFAULT_MODELS_DIR))


def available_models(folder: Path | None = None) -> list[str]:
    folder = folder or models_dir()
    return (
        sorted(p.name for p in folder.iterdir() if (p / CARD).is_file()) if folder.is_dir() else []
    )


def default_model_name(folder: Path | None = None) -> str:
    """:data:`DEFAULT_MODEL`, or else the only bundle in ``folder`` (nothing is loaded)."""
    names = available_models(folder or models_dir())
    return DEFAULT_MODEL if DEFAULT_MODEL in names or len(names) != 1 else names[0]


def find_bundle(name_or_path: str | None, folder: Path | None = None) -> ModelBundle:
    """A checked bundle: a folder path, a name in ``folder`` (default :func:`models_dir`), or
    (no name) :data:`DEFAULT_MODEL`, or else the only bundle there."""
    folder = folder or models_dir()
    names = available_models(folder)
    if name_or_path is None:
        name_or_path = default_model_name(folder)
    candidate = Path(name_or_path)
    bundle_dir = candidate if (candidate / CARD).is_file() else folder / name_or_path
    if not (bundle_dir / CARD).is_file():
        raise BundleError(
            f"no model {name_or_path!r}: not a bundle folder, and not one of {names} in {folder}"
        )
    return load_bundle(bundle_dir)
