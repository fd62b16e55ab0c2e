"""The paper's networks, as plain ``nn.Module``s usable through ``torch.func.functional_call``."""
from __future__ import annotations

import torch
from torch import nn


class FNN(nn.Module):
    """Fully connected ReLU network 784-500-300-10 (hidden widths scaled by ``width``)."""

    def __init__(self, width: float = 1.0, in_features: int = 784, num_classes: int = 10):
        super().__init__()
        h1, h2 = max(1, round(500 * width)), max(1, round(300 * width))
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(in_features, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build(name: str, width: float = 1.0, seed: int | None = None, **kw) -> nn.Module:
    """A freshly initialised model (PyTorch's default initialisation, seeded if ``seed`` given)."""
    builders = {"fnn": FNN}
    if name not in builders:
        from .params import ParamError

        raise ParamError(f"unknown model {name!r}; allowed: {', '.join(builders)}")
    if seed is not None:
        torch.manual_seed(seed)
    return builders[name](width=width, **kw)
