"""Synthetic datasets and helpers shared by the tests (a module, not conftest: tests/site has its own conftest)."""
import torch
from torch import nn

from starconn.data import Dataset


def blobs(n: int = 600, d: int = 10, classes: int = 3, seed: int = 0) -> Dataset:
    """A small, separable classification problem: Gaussian clusters around random means."""
    g = torch.Generator().manual_seed(seed)
    means = 3 * torch.randn(classes, d, generator=g)
    y = torch.randint(classes, (2 * n,), generator=g)
    x = means[y] + torch.randn(2 * n, d, generator=g)
    return Dataset("blobs", x[:n], y[:n], x[n:], y[n:], source="synthetic blobs", num_classes=classes)


def mlp(seed: int, sizes: tuple[int, ...] = (10, 32, 24, 16, 3)) -> nn.Sequential:
    """A seeded ReLU network of Linear layers of the given sizes."""
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


class Interrupted(Exception):
    """Raised by :func:`interrupt_after`'s loss: a run stopped midway, as a kill would."""


def interrupt_after(calls: int):
    """A cross-entropy loss that raises :class:`Interrupted` in its ``calls + 1``-th call (one call
    per step: vmap calls it once)."""
    n = [0]

    def loss(out, y):
        n[0] += 1
        if n[0] > calls:
            raise Interrupted
        return torch.nn.functional.cross_entropy(out, y)
    return loss
