"""A run folder made of installed bundles, so that ``dmdt evaluate`` measures them side by side.

``dmdt evaluate DATA --bundles css-hybrid mixed-two --run runs/bundles`` copies each bundle
into ``runs/bundles/candidates/<name>`` and remakes the CSS split of their cards' split seed
(every bundle must share it: one's test curves must not be another's training curves), so
the bundles are scored on the same held-out curves with the same inputs. The first bundle
named is the one the report puts first (its confusion matrix, reliability and pictures).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifier.bundle import CARD, ONNX, BundleError, ModelBundle
from training.dataset import Split, list_css


class BundleRunError(BundleError):
    """Bundles that cannot be measured on one split, and why."""


def _training_records(bundle: ModelBundle) -> list[dict[str, Any]]:
    """The card's training data, and its parts' where it mixes two bundles."""
    data = bundle.card.training_data
    mixed = data.get("mixture", {})
    parts = [mixed[part]["training_data"] for part in ("specialist", "generalist") if part in mixed]
    return [data, *parts]


def _split_of(bundle: ModelBundle) -> tuple[int, set[int]]:
    """The split seed every part of the bundle was trained with, and their training curves'
    counts (a run limited to some curves a class splits them otherwise)."""
    records = _training_records(bundle)
    seeds = {int(r["split_seed"]) for r in records if r.get("split_seed") is not None}
    if not seeds:
        raise BundleRunError(
            f"{bundle.card.name}: its card names no split seed, so its held-out curves are unknown"
        )
    if len(seeds) > 1:
        raise BundleRunError(
            f"{bundle.card.name}: its parts were trained on different splits (seeds "
            f"{sorted(seeds)}); no test curve is held out from all of them"
        )
    return seeds.pop(), {int(r["train_curves"]) for r in records if "train_curves" in r}


def bundle_run(run_dir: Path, bundles: Sequence[ModelBundle], data_dir: Path) -> Path:
    """Write ``run_dir`` (split, candidates, ``run.json``) from ``bundles``; returns it."""
    if not bundles:
        raise BundleRunError("no bundle to measure")
    names = [b.card.name for b in bundles]
    if len(set(names)) != len(names):
        raise BundleRunError(f"two bundles share a name: {names}")
    splits = {b.card.name: _split_of(b) for b in bundles}
    seeds = {name: seed for name, (seed, _) in splits.items()}
    if len(set(seeds.values())) != 1:
        raise BundleRunError(
            f"the bundles were trained on different splits (split seeds {seeds}): one's test "
            "curves would be another's training curves"
        )
    seed = next(iter(seeds.values()))
    split = Split.make(list_css(data_dir), seed)
    for name, (_, trained_on) in splits.items():
        if trained_on - {len(split.parts["train"])}:
            raise BundleRunError(
                f"{name} was trained on {sorted(trained_on)} curves, not the "
                f"{len(split.parts['train'])} of the whole split of seed {seed} in {data_dir}: "
                "its split is another one (trained on some curves a class?)"
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    split.save(run_dir / "split.json")
    candidates = {}
    for bundle in bundles:
        folder = run_dir / "candidates" / bundle.card.name
        folder.mkdir(parents=True, exist_ok=True)
        for kept in (CARD, ONNX):
            shutil.copy2(bundle.onnx_path.parent / kept, folder / kept)
        candidates[bundle.card.name] = {
            "validation_macro_f1": bundle.card.metrics["validation_macro_f1"],
            "version": bundle.card.version,
            "onnx_sha256": bundle.card.onnx_sha256,
        }
    run = {"candidates": candidates, "split_seed": seed, "shipped": names[0]}
    (run_dir / "run.json").write_text(json.dumps(run, indent=1))
    return run_dir
