"""``dmdt ensemble``: one bundle from several trained networks, their logits averaged.

The members are candidates of earlier ``dmdt train`` runs on the same split (their
``split.json`` must match) with the same classes, grid, features and periodogram; they differ
in training seed or views. The averaged network is exported as one ONNX graph, so the worker
and the API serve it as any bundle (the features are computed once; each member adds only its
network, ~0.2 ms an object). Its temperature and unknown threshold are fitted afresh on the
validation split, as ``dmdt train`` does for a single network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from classifier.bundle import ModelBundle, load_bundle
from classifier.defaults import ENSEMBLE_NAME, TRUNK_CHANNELS
from classifier.model_input import model_inputs
from training.dataset import Split
from training.export import write_bundle
from training.fit import predict_logits
from training.nets import build
from training.pipeline import WEIGHTS, TrainSettings, calibrate, prepare, write_bundle_run

ARCHITECTURE = "hybrid-ensemble"


class EnsembleError(ValueError):
    """Members that cannot be averaged, and why."""


class MeanLogits(nn.Module):
    """The members' logits, averaged: one network to export."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, image: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(image, features) for member in self.members]).mean(dim=0)


def _member(folder: Path) -> tuple[ModelBundle, nn.Module]:
    """A member's bundle and its network, rebuilt from the saved weights."""
    bundle = load_bundle(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise EnsembleError(f"{folder}: no {WEIGHTS} (only networks trained here can join)")
    if bundle.card.feature_names is None:
        raise EnsembleError(f"{folder}: a {bundle.card.architecture} network takes no features")
    n_features = len(bundle.card.feature_names)
    placeholder = (torch.zeros(n_features), torch.ones(n_features))  # loaded with the weights
    channels = (bundle.card.training_data or {}).get("trunk_channels", TRUNK_CHANNELS)
    network = build(
        bundle.card.architecture,
        bundle.grid.shape,
        len(bundle.card.classes),
        placeholder,
        (int(channels[0]), int(channels[1])),
    )
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return bundle, network.eval()


def _agree(runs: Sequence[Path], bundles: Sequence[ModelBundle], split: Split) -> None:
    """Refuse members trained on another split, or answering with other inputs or classes."""
    first = bundles[0].card
    for run, bundle in zip(runs, bundles, strict=True):
        if Split.load(run / "split.json").parts != split.parts:
            raise EnsembleError(f"{run}: trained on another split than the ensemble's settings")
        for field in ("classes", "grid", "feature_names", "periodogram"):
            if getattr(bundle.card, field) != getattr(first, field):
                raise EnsembleError(f"{run}: its {field} differ from {runs[0]}'s")


def ensemble(
    settings: TrainSettings, runs: Sequence[Path], name: str = ENSEMBLE_NAME, log=print
) -> dict[str, Any]:
    """Average the ``hybrid`` candidates of ``runs`` into ``settings.out_dir/candidates/hybrid``
    (a bundle called ``name``) and write ``run.json`` there, ready for ``dmdt evaluate``."""
    if len(runs) < 2:
        raise EnsembleError(f"an ensemble needs at least 2 runs, got {len(runs)}")
    started = time.time()
    members = [_member(run / "candidates" / "hybrid") for run in runs]
    bundles = [bundle for bundle, _ in members]
    prepared = prepare(settings, log)
    _agree(runs, bundles, prepared.split)
    card = bundles[0].card
    model = MeanLogits([network for _, network in members])
    val_in = model_inputs(
        prepared.parts["val"][0],
        bundles[0].grid,
        tuple(card.feature_names or ()),
        periodogram=card.periodogram,
    )
    calibration = calibrate(predict_logits(model, val_in), prepared.y_val)
    member_notes = [
        {
            "run": run.name,
            "training_seed": bundle.card.training_data.get("training_seed"),
            "partial_views": bundle.card.training_data.get("partial_views"),
            "validation_macro_f1": bundle.card.metrics.get("validation_macro_f1"),
            "best_epoch": bundle.card.metrics.get("best_epoch"),
        }
        for run, bundle in zip(runs, bundles, strict=True)
    ]
    disagreement = write_bundle(
        model,
        settings.out_dir / "candidates" / "hybrid",
        name=name,
        version=settings.version,
        architecture=ARCHITECTURE,
        grid=bundles[0].grid,
        classes=tuple(card.classes),
        check_inputs={k: v[:256] for k, v in val_in.items()},
        temperature=calibration.temperature,
        unknown_threshold=calibration.unknown_threshold,
        min_points=card.min_points,
        backgrounds=bundles[0].backgrounds,
        training_data={**card.training_data, "ensemble": member_notes},
        metrics={"validation_macro_f1": calibration.validation_macro_f1},
        feature_names=tuple(card.feature_names or ()),
        periodogram=card.periodogram,
    )
    report = write_bundle_run(
        settings, {"members": [str(run) for run in runs]}, calibration, disagreement, started
    )
    log(
        f"ensemble of {len(runs)}: validation macro-F1 {calibration.validation_macro_f1:.3f}, "
        f"T = {calibration.temperature:.2f}, ONNX vs PyTorch max |logit diff| "
        f"{disagreement:.1e}"
    )
    return report
