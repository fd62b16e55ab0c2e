"""Model FLOPs per example of the book's networks, counted by ``torch.utils.flop_counter``.

The count runs the network on the ``meta`` device (shapes only, no arithmetic, no memory), one
example: the forward pass, or forward and backward for a training step (the gradient of the
parameters, not of the input). These are *model* FLOPs, the numerator of model FLOPs utilisation
(MFU): the work the mathematics needs, whatever extra a batching rule or kernel performs.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import models

INPUTS = {"mnist": (1, 28, 28), "mnist32": (1, 32, 32), "cifar10": (3, 32, 32)}  # dataset -> (C, H, W)
# dense bf16 peak of a card's matrix units (datasheet, without sparsity), by a substring of its name;
# MFU = achieved model FLOP/s ÷ this. The workplace measured 769-798 TFLOP/s for an 8192³ bf16
# matrix product on an H200 (/work/.library/device/KINDS.md, 2026-11-04): ~80 % of the datasheet.
PEAK_BF16 = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12}


def peak_bf16(card: str) -> float:
    """The dense bf16 peak FLOP/s of the card named ``card`` (NaN if unknown)."""
    return next((v for k, v in PEAK_BF16.items() if k in card), float("nan"))


@lru_cache(maxsize=None)
def per_example(model_name: str, dataset: str, width: float = 1.0, train: bool = True) -> float:
    """FLOPs of one example through ``model_name`` at ``width`` on ``dataset``'s inputs: forward and
    backward when ``train``, else the forward pass."""
    shape = INPUTS[dataset]
    with torch.device("meta"):
        kw = {} if model_name == "fnn" else {"in_channels": shape[0]}
        model = models.build(model_name, width=width, **kw)
        x = torch.empty(1, *shape)
    counter = FlopCounterMode(display=False)
    with counter:
        model.train(train)
        out = model(x)
        if train:
            out.sum().backward()
    return float(counter.get_total_flops())
