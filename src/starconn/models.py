"""The paper's networks, as plain ``nn.Module``s usable through ``torch.func.functional_call``.

Convolutional networks (VGG16, ResNet18/34, CIFAR variants) use :class:`BatchNorm2d`, a BatchNorm
that in training mode normalises with the batch statistics and leaves its running statistics
untouched, so that it runs inside ``torch.func.vmap`` (the ensemble trainer, the center search).
The project's rule is that BatchNorm statistics are recomputed on training data at every evaluated
point (``starconn.paths.recompute_bn``): that function sets ``momentum=None`` (PyTorch's
cumulative average), and in that mode the layer gathers running statistics as usual.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .params import ParamError


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


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training-mode forward uses batch statistics only (vmap-safe).

    With ``momentum=None`` (set by ``paths.recompute_bn``) it is PyTorch's BatchNorm and averages
    the statistics of the batches it sees into its running buffers; in eval mode it uses them.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.momentum is not None:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return super().forward(x)


def _ch(c: int, width: float) -> int:
    return max(1, round(c * width))


VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG16(nn.Module):
    """VGG16 with BatchNorm, CIFAR variant: 13 3×3 conv layers (channels × ``width``), 5 max-pools,
    then one linear layer 512·width → classes. Input (N, ``in_channels``, 32, 32)."""

    def __init__(self, width: float = 1.0, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        layers, c = [], in_channels
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                out = _ch(v, width)
                layers += [nn.Conv2d(c, out, 3, padding=1), BatchNorm2d(out), nn.ReLU()]
                c = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet, CIFAR variant: 3×3 stem conv (no max-pool), four stages of BasicBlocks with
    64, 128, 256, 512 channels (× ``width``), global average pool, linear head."""

    def __init__(self, blocks: tuple[int, ...], width: float = 1.0, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        c = _ch(64, width)
        self.conv1 = nn.Conv2d(in_channels, c, 3, 1, 1, bias=False)
        self.bn1 = BatchNorm2d(c)
        stages = []
        for i, n in enumerate(blocks):
            out = _ch(64 * 2**i, width)
            layers = []
            for j in range(n):
                layers.append(BasicBlock(c, out, 2 if (j == 0 and i > 0) else 1))
                c = out
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(out.mean((2, 3)))


def resnet18(width: float = 1.0, **kw) -> ResNet:
    return ResNet((2, 2, 2, 2), width, **kw)


def resnet34(width: float = 1.0, **kw) -> ResNet:
    return ResNet((3, 4, 6, 3), width, **kw)


BUILDERS = {"fnn": FNN, "vgg16": VGG16, "resnet18": resnet18, "resnet34": resnet34}


def build(name: str, width: float = 1.0, seed: int | None = None, **kw) -> nn.Module:
    """A freshly initialised model (PyTorch's default initialisation, seeded if ``seed`` given)."""
    if name not in BUILDERS:
        raise ParamError(f"unknown model {name!r}; allowed: {', '.join(BUILDERS)}")
    if seed is not None:
        torch.manual_seed(seed)
    return BUILDERS[name](width=width, **kw)
