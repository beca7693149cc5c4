"""The bundle registry: where model bundles live, finding one by name or path, loading them.

Every user of models goes through here: the API and the worker (:func:`served_models`,
:func:`find_bundle`), ``dmdt predict``, and the training package's experiments. A bundle is
checked (hash, shapes) when loaded (:func:`classifier.bundle.load_bundle`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.bundle import CARD, BundleError, ModelBundle, load_bundle
from classifier.defaults import DEFAULT_MODEL

if TYPE_CHECKING:  # onnxruntime loads only where models are served
    from classifier.inference import OnnxClassifier

# The bundles installed with the package (package data); DMDT_MODELS_DIR wins.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent / "models"


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


@dataclass(frozen=True)
class ServedModels:
    """Every bundle of a folder, loaded and ready to score, and the default one's name."""

    models: dict[str, OnnxClassifier]
    default: str

    @property
    def default_model(self) -> OnnxClassifier:
        return self.models[self.default]


def served_models(folder: Path | None = None, default: str | None = None) -> ServedModels:
    """Load and check every bundle in ``folder``; ``default`` (else :func:`default_model_name`)
    must be among them."""
    from classifier.inference import OnnxClassifier  # noqa: PLC0415 - onnxruntime loads slowly

    folder = folder or models_dir()
    models = {name: OnnxClassifier(find_bundle(name, folder)) for name in available_models(folder)}
    if not models:
        raise BundleError(f"no model bundle in {folder}")
    chosen = default or default_model_name(folder)
    if chosen not in models:
        raise BundleError(f"default model {chosen!r} is not among {sorted(models)}; set DMDT_MODEL")
    return ServedModels(models, chosen)
