"""The networks. Each maps ``image`` ``(N, 1, n_dm, n_dt)`` -- and for the hybrid also
``features`` ``(N, F)`` -- to class logits; softmax and temperature are applied at run time.

* ``mahabal2017``: the paper's shallow net: Conv 16 5x5 valid, ReLU, MaxPool 2, Conv 64 5x5,
  ReLU, Dense to the classes (trained with Adam lr 2e-4, L2 2.5e-3).
* ``dmdtnet``: two blocks of two padded 3x3 convolutions with batch norm and max-pooling, then
  a dropout-regularised dense head. dm-dt images are not translation invariant (a pixel's
  position *is* its dm and dt), so the head keeps every position instead of global pooling.
* ``hybrid``: the ``dmdtnet`` trunk beside a small MLP on the light-curve features (as ZTF's
  SCoPe combines dm-dt images and features); the feature standardisation (training mean and
  spread) is part of the network, so the exported graph takes raw features.
"""

from __future__ import annotations

import torch
from torch import nn

from classifier.defaults import TRUNK_CHANNELS

ARCHITECTURES = ("mahabal2017", "dmdtnet", "hybrid")


class Mahabal2017(nn.Module):
    """The paper's network."""

    def __init__(self, shape: tuple[int, int], n_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 64, 5),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            width = self.body(torch.zeros(1, 1, *shape)).shape[1]
        self.head = nn.Linear(width, n_classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(image))


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class DmDtTrunk(nn.Module):
    """Convolutional trunk shared by ``dmdtnet`` and ``hybrid``: image -> vector."""

    def __init__(
        self, shape: tuple[int, int], width: int = 128, channels: tuple[int, int] = TRUNK_CHANNELS
    ) -> None:
        super().__init__()
        first, second = channels
        self.conv = nn.Sequential(_block(1, first), _block(first, second), nn.Flatten())
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, 1, *shape)).shape[1]
        self.dense = nn.Sequential(nn.Dropout(0.3), nn.Linear(flat, width), nn.ReLU())
        self.width = width

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.dense(self.conv(image))


class DmDtNet(nn.Module):
    """``channels``: the two convolution blocks' widths; the experiments use a narrower
    net, ``(16, 32)``, to train dozens of variants in minutes on a CPU."""

    def __init__(
        self, shape: tuple[int, int], n_classes: int, channels: tuple[int, int] = TRUNK_CHANNELS
    ) -> None:
        super().__init__()
        self.trunk = DmDtTrunk(shape, channels=channels)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.trunk.width, n_classes))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(image))


class Hybrid(nn.Module):
    feature_mean: torch.Tensor  # buffers (saved with the weights, not trained)
    feature_scale: torch.Tensor

    def __init__(
        self,
        shape: tuple[int, int],
        n_classes: int,
        feature_mean: torch.Tensor,
        feature_scale: torch.Tensor,
        channels: tuple[int, int] = TRUNK_CHANNELS,
    ) -> None:
        super().__init__()
        self.register_buffer("feature_mean", feature_mean.float())
        self.register_buffer("feature_scale", feature_scale.float())
        self.trunk = DmDtTrunk(shape, channels=channels)
        n_features = feature_mean.shape[0]
        self.features = nn.Sequential(
            nn.Linear(n_features, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 64), nn.ReLU()
        )
        self.head = nn.Sequential(
            nn.Dropout(0.3),
            nn.Linear(self.trunk.width + 64, 128),
            nn.ReLU(),
            nn.Linear(128, n_classes),
        )

    def forward(self, image: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        scaled = (features - self.feature_mean) / self.feature_scale
        return self.head(torch.cat([self.trunk(image), self.features(scaled)], dim=1))


def build(
    architecture: str,
    shape: tuple[int, int],
    n_classes: int,
    feature_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
    trunk_channels: tuple[int, int] = TRUNK_CHANNELS,
) -> nn.Module:
    """A fresh network; ``hybrid`` needs the training features' (mean, scale);
    ``trunk_channels`` sets the convolution widths of ``dmdtnet`` and ``hybrid``."""
    if architecture == "mahabal2017":
        return Mahabal2017(shape, n_classes)
    if architecture == "dmdtnet":
        return DmDtNet(shape, n_classes, trunk_channels)
    if architecture == "hybrid":
        if feature_stats is None:
            raise ValueError("the hybrid network needs feature statistics")
        return Hybrid(shape, n_classes, *feature_stats, channels=trunk_channels)
    raise ValueError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}")


def uses_features(architecture: str) -> bool:
    return architecture == "hybrid"
