"""Training loop: seeded, device-agnostic, class-weighted, early stopping on validation macro-F1.

The learning rate follows a plateau schedule (halved when validation stalls) or a cosine
decay over ``max_epochs``; with ``weight_average``, validation and the returned weights are an
exponential moving average of the weights over the steps, its batch-norm statistics measured
again on training rows, which smooths the epoch-to-epoch swings of a model trained on many
surveys' views.

Inputs are dicts of arrays named like the network's ``forward`` arguments (``image``, and
``features`` for the hybrid), plus integer labels or, for training, label sets: a boolean
``(n, n_classes)`` mask of the classes each example may be (an EROS binary is EW or EA). The
loss of a set is ``-log`` of its summed probability (the partial-label likelihood), which for
one class is the usual cross-entropy. Given a teacher's probabilities for the training rows
(``soft_targets``), the loss is ``(1 - w)`` times that plus ``w`` times the cross-entropy
against the teacher's answer (``w``: ``distill_weight``), knowledge distillation (Hinton et
al. 2015, arXiv:1503.02531), rows weighted alike.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from tqdm import tqdm

Schedule = Literal["plateau", "cosine"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)


@dataclass(frozen=True)
class FitConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 20
    seed: int = 2017
    class_weighted: bool = True  # inverse-frequency weights in the loss
    schedule: Schedule = "plateau"
    weight_average: float = 0.0  # decay of the weights' moving average a step (0: none)
    distill_weight: float = 0.5  # share of the loss given to a teacher's answers, when given

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: expected one of {SCHEDULES}")
        if not 0.0 <= self.weight_average < 1.0:
            raise ValueError(f"weight_average {self.weight_average}: expected 0 <= decay < 1")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight {self.distill_weight}: expected 0 <= weight <= 1")


RECALIBRATION_ROWS = 4096  # training rows the averaged weights' batch norms are measured on

# The paper's optimiser settings for its network (Adam, lr 2e-4, L2 2.5e-3).
PAPER_FIT = FitConfig(lr=2e-4, weight_decay=2.5e-3, batch_size=64, max_epochs=400, patience=40)


@dataclass
class FitResult:
    model: nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def as_mask(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels as one-hot rows; a label-set mask as it is."""
    if labels.ndim == 2:
        if labels.shape[1] != n_classes or not labels.any(axis=1).all():
            raise ValueError("a label-set mask needs one column a class and a class in every row")
        return labels.astype(bool)
    return np.eye(n_classes, dtype=bool)[labels]


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse class frequency, mean 1: each class weighs the same in the loss. An example
    with a set of ``k`` classes counts ``1/k`` towards each."""
    mask = as_mask(labels, n_classes)
    counts = (mask / mask.sum(axis=1, keepdims=True)).sum(axis=0)
    weights = counts.sum() / (n_classes * np.where(counts > 0, counts, 1.0))
    return torch.tensor(weights, dtype=torch.float32)


def set_loss(
    logits: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor | None
) -> torch.Tensor:
    """Weighted mean of ``-log P(class in set)``; an example weighs the mean weight of its
    set's classes (``CrossEntropyLoss(weight=...)`` for one class a set)."""
    log_p = torch.log_softmax(logits, dim=1)
    losses = -torch.logsumexp(log_p.masked_fill(~mask, -math.inf), dim=1)
    return _weighted_mean(losses, mask, weights)


def soft_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor | None
) -> torch.Tensor:
    """Weighted mean cross-entropy against probabilities ``targets`` (a teacher's answers),
    each row weighing as in :func:`set_loss` by its label set ``mask``."""
    losses = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1)
    return _weighted_mean(losses, mask, weights)


def _weighted_mean(
    losses: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor | None
) -> torch.Tensor:
    if weights is None:
        return losses.mean()
    row_weights = (mask * weights).sum(dim=1) / mask.sum(dim=1)
    return (losses * row_weights).sum() / row_weights.sum()


def _tensors(inputs: dict[str, np.ndarray], where: torch.device) -> dict[str, torch.Tensor]:
    return {name: torch.as_tensor(values, device=where) for name, values in inputs.items()}


@torch.no_grad()
def predict_logits(
    model: nn.Module, inputs: dict[str, np.ndarray], batch_size: int = 1024
) -> np.ndarray:
    """Logits for every row of ``inputs`` (evaluation mode)."""
    model.eval()
    where = next(model.parameters()).device
    tensors = _tensors(inputs, where)
    n = len(next(iter(tensors.values())))
    out = [
        model(**{k: v[i : i + batch_size] for k, v in tensors.items()}).cpu()
        for i in range(0, n, batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def _restart_epoch_norms(model: nn.Module) -> None:
    """Batch norms with ``momentum=None`` keep the exact mean over the current epoch's
    batches: forget the statistics of the epochs before."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.momentum is None:
            module.reset_running_stats()


class WeightAverage:
    """An exponential moving average of a model's weights, updated after each step. Its
    batch-norm statistics are measured again before it is used (:meth:`recalibrate`): the
    running statistics of the steps belong to none of the averaged weights."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model)
        self._averaged = list(self.model.parameters())

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for averaged, current in zip(self._averaged, model.parameters(), strict=True):
            averaged.lerp_(current, 1.0 - self.decay)

    @torch.no_grad()
    def recalibrate(
        self, inputs: dict[str, torch.Tensor], rows: torch.Tensor, batch_size: int
    ) -> None:
        """The batch norms' statistics of the averaged weights: the exact mean over
        ``rows`` of the training ``inputs``, passed in batches as in training."""
        norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average
        self.model.train()
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            self.model(**{k: v[batch] for k, v in inputs.items()})
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        self.model.eval()


def _scheduler(optimiser: torch.optim.Optimizer, config: FitConfig) -> Any:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=config.max_epochs, eta_min=config.lr / 100
        )
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, mode="max", factor=0.5, patience=config.patience // 3
    )


def fit(
    model: nn.Module,
    train: dict[str, np.ndarray],
    train_labels: np.ndarray,
    val: dict[str, np.ndarray],
    val_labels: np.ndarray,
    n_classes: int,
    config: FitConfig = FitConfig(),
    desc: str = "training",
    soft_targets: np.ndarray | None = None,
) -> FitResult:
    """Train ``model`` on integer labels or label-set masks (``train_labels``), and on a
    teacher's probabilities for the same rows when ``soft_targets`` are given; returns it
    with the weights of its best validation macro-F1 (``val_labels``: integer labels)."""
    torch.manual_seed(config.seed)
    where = device()
    model = model.to(where)
    tensors = _tensors(train, where)
    labels = torch.as_tensor(as_mask(train_labels, n_classes), device=where)
    weights = class_weights(train_labels, n_classes).to(where) if config.class_weighted else None
    if soft_targets is not None and soft_targets.shape != labels.shape:
        raise ValueError(f"soft targets {soft_targets.shape}: expected {tuple(labels.shape)}")
    teacher = None if soft_targets is None else torch.as_tensor(soft_targets, device=where)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(optimiser, config)
    average = WeightAverage(model, config.weight_average) if config.weight_average else None
    judged = model if average is None else average.model  # the weights validated and kept
    generator = torch.Generator(device="cpu").manual_seed(config.seed)
    n = len(labels)
    best_f1, best_epoch, best_state = -math.inf, 0, copy.deepcopy(model.state_dict())
    history = []
    progress = tqdm(range(1, config.max_epochs + 1), desc=desc, unit="epoch", leave=False)
    for epoch in progress:
        model.train()
        _restart_epoch_norms(model)
        order = torch.randperm(n, generator=generator).to(where)
        total = 0.0
        for start in range(0, n, config.batch_size):
            batch = order[start : start + config.batch_size]
            optimiser.zero_grad()
            logits = model(**{k: v[batch] for k, v in tensors.items()})
            loss = set_loss(logits, labels[batch], weights)
            if teacher is not None:
                taught = soft_loss(logits, teacher[batch], labels[batch], weights)
                loss = (1 - config.distill_weight) * loss + config.distill_weight * taught
            loss.backward()
            optimiser.step()
            if average is not None:
                average.update(model)
            total += float(loss.detach()) * len(batch)
        if average is not None:
            average.recalibrate(tensors, order[:RECALIBRATION_ROWS], config.batch_size)
        predicted = predict_logits(judged, val).argmax(axis=1)
        val_f1 = float(f1_score(val_labels, predicted, average="macro"))
        if config.schedule == "plateau":
            scheduler.step(val_f1)
        else:
            scheduler.step()
        history.append({"epoch": epoch, "train_loss": total / n, "val_macro_f1": val_f1})
        progress.set_postfix(loss=f"{total / n:.3f}", val_f1=f"{val_f1:.3f}")
        if val_f1 > best_f1:
            best_f1, best_epoch, best_state = val_f1, epoch, copy.deepcopy(judged.state_dict())
        elif epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    return FitResult(model.eval(), best_epoch, history)


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Temperature T minimising the validation NLL of ``softmax(logits / T)``, each row
    weighted by ``weights`` (default: equally)."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels)
    w = torch.ones(len(y), dtype=torch.float64) if weights is None else torch.as_tensor(weights)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        nll = nn.functional.cross_entropy(z / log_t.exp(), y, reduction="none")
        loss = (nll * w).sum() / w.sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.detach().exp())
