"""Memory layout of the conv nets' inputs: channels_last against PyTorch's default (NCHW), for
training VGG16 minima as one vmapped ensemble (``starconn.train.train_minima``, bf16 autocast on
CUDA as the ``paper`` profile does). Issue 9 asks for channels_last to be measured before it is
switched on; the project keeps NCHW until this benchmark shows a gain on the GPU.

Under ``vmap`` over stacked weights, PyTorch's batching rule runs the members' convolutions as one
grouped convolution whose output is not channels_last (checked on the CPU, torch 2.14), so the
layout may not carry past the first layer; the benchmark says whether it pays all the same.

The data are random CIFAR-shaped tensors (the time of a step does not depend on the pixel values).
On CUDA: VGG16 at width 1, 3 members, 25 steps of batch 200 (``--quick``: 10); the CPU uses a
width-1/16 VGG16 and 2 steps (a code-path check there: the layout is a GPU lever).
"""
from __future__ import annotations

import torch

from starconn.data import Dataset
from starconn.models import VGG16
from starconn.train import TrainConfig, train_minima

from _common import Ctx, Row, compare, rel_diff


def run(ctx: Ctx) -> list[Row]:
    cuda = ctx.device.type == "cuda"
    width, k, n = (1.0, 3, 2000 if ctx.quick else 5000) if cuda else (0.0625, 2, 400)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 32, 32, generator=g).to(ctx.device)
    y = torch.randint(10, (n,), generator=g).to(ctx.device)
    nchw = Dataset("random", x, y, x[:200], y[:200], "random CIFAR-shaped tensors")
    cl = Dataset("random", x.contiguous(memory_format=torch.channels_last), y, x[:200], y[:200], nchw.source)
    cfg = TrainConfig(epochs=1, lr=5e-3, batch_size=200, amp=cuda)

    def make(seed: int) -> VGG16:
        torch.manual_seed(seed)
        return VGG16(width=width).to(ctx.device)

    def way(data: Dataset, m: int = n):
        part = Dataset(data.name, data.train_x[:m], data.train_y[:m], data.test_x, data.test_y, data.source)
        return lambda: [p for p, _ in train_minima(make, list(range(k)), part, cfg, progress=False)]

    (t_a, t_b), (c_a, c_b), (ra, rb) = compare([way(nchw), way(cl)], ctx.device, ctx.repeats,
                                               warm=[way(nchw, 400), way(cl, 400)])
    diff = max(rel_diff(a, b) for a, b in zip(ra, rb))
    workload = (f"VGG16 ×{width:g}, ensemble of {k}, {n // 200} steps of batch 200"
                + (", bf16 autocast" if cuda else ""))
    return [Row("conv input layout", workload, "NCHW (contiguous)", "channels_last inputs", t_a, t_b,
                f"‖Δθ‖/‖θ‖ ≤ {diff:.1e}", c_a, c_b)]
