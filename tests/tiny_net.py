"""A two-layer network on a ``features`` input, for tests of the training loop."""

import torch


class TinyNet(torch.nn.Module):
    def __init__(self, inputs: int = 4, hidden: int = 8, classes: int = 2) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes)
        )

    def forward(self, features):
        return self.layers(features)
