"""FGSM (Goodfellow et al. 2015), the paper's warning about adversarial examples made
concrete: each test image moved by ``eps`` in the sign of the loss gradient, clipped to the
valid range; beside it, the same size of step in a random sign, to tell an adversarial
direction from mere noise.

Steps are in image units (a bin holding every pair would be 1). Occupied bins are small:
on CSS the median occupied bin is ~1.2e-3, so the steps run from 1% of it to about it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.study import macro_f1, predict
from training.tables import line_figure

EPSILONS = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)


def fgsm(model: nn.Module, images: np.ndarray, labels: np.ndarray, eps: float) -> np.ndarray:
    """Images one signed-gradient step of size ``eps`` up the loss, in [0, 1]."""
    model.eval()
    where = next(model.parameters()).device
    x = torch.as_tensor(images, device=where).requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), torch.as_tensor(labels, device=where))
    (gradient,) = torch.autograd.grad(loss, x)
    moved = x.detach() + eps * gradient.sign()
    return moved.clamp(0.0, 1.0).cpu().numpy()


def fgsm_study(
    model: nn.Module, images: np.ndarray, labels: np.ndarray, seed: int = 2017
) -> dict[str, list[float]]:
    """Macro-F1 at each of :data:`EPSILONS`, adversarial and random-sign."""
    rng = np.random.default_rng(seed)
    scores: dict[str, list[float]] = {"FGSM": [], "random sign": []}
    for eps in EPSILONS:
        scores["FGSM"].append(macro_f1(labels, predict(model, fgsm(model, images, labels, eps))))
        noise = eps * rng.choice([-1.0, 1.0], images.shape).astype(np.float32)
        noisy = np.clip(images + noise, 0.0, 1.0)
        scores["random sign"].append(macro_f1(labels, predict(model, noisy)))
    return scores


def median_occupied(images: np.ndarray) -> float:
    """The median value of the bins that hold any pair: the scale of a meaningful step."""
    return float(np.median(images[images > 0]))


def fgsm_figure(scores: dict[str, list[float]], path: Path) -> Path:
    return line_figure(
        [f"{eps:g}" for eps in EPSILONS],
        scores,
        path,
        (0, 1),
        xlabel="step size eps (image units; a bin holding every pair is 1)",
        ylabel="test macro-F1",
        title="the study network under FGSM",
    )
