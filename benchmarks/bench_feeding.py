"""Data feeding: one epoch of shuffled minibatches delivered to the device.

Optimised: the split held whole on the device, batches gathered with the seeded index iterator
``starconn.data.batches`` (what the trainer and the center search do). Straightforward: a
``torch.utils.data.DataLoader`` (batch 200, shuffled, ``num_workers=0``) over a ``TensorDataset``
of the same normalised CPU tensors, and, when the MNIST files are there, over torchvision's
``MNIST`` dataset with ``ToTensor`` + ``Normalize`` (the tutorial way); each batch is moved to the
device. Only the feeding is timed (the consumer sums the labels).
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from starconn.data import MNIST_MEAN, MNIST_STD, batches

from _common import Ctx, Row, compare

BATCH = 200


def consume(loader, device) -> torch.Tensor:
    total = torch.zeros((), dtype=torch.int64, device=device)
    for x, y in loader:
        _x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        total += y.sum()
    return total


def run(ctx: Ctx) -> list[Row]:
    data, device = ctx.data, ctx.device
    n = data.n_train
    cpu_x, cpu_y = data.train_x.cpu(), data.train_y.cpu()
    gen = torch.Generator().manual_seed(0)

    def on_device():
        total = torch.zeros((), dtype=torch.int64, device=device)
        for idx in batches(n, BATCH, gen, device):
            _x, y = data.train_x[idx], data.train_y[idx]  # the gather runs (eager) though x is unused
            total += y.sum()
        return total

    pin = device.type == "cuda"
    workload = f"one epoch, {n} MNIST-shaped examples, batch {BATCH}"
    tensor_loader = DataLoader(TensorDataset(cpu_x, cpu_y), batch_size=BATCH, shuffle=True, pin_memory=pin)
    (t_a, t_b), (c_a, c_b), _ = compare([lambda: consume(tensor_loader, device), on_device], device, ctx.repeats)
    rows = [Row("data feeding", workload, "DataLoader(TensorDataset) → device", "device tensors + batches()",
                t_a, t_b, "—", c_a, c_b)]
    if ctx.mnist_root is not None:
        from torchvision import transforms
        from torchvision.datasets import MNIST

        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
        ds = Subset(MNIST(ctx.mnist_root, train=True, transform=tf), range(n))
        tv_loader = DataLoader(ds, batch_size=BATCH, shuffle=True, pin_memory=pin)
        (t_c, t_d), (c_c, c_d), _ = compare([lambda: consume(tv_loader, device), on_device], device, ctx.repeats)
        rows.append(Row("data feeding", workload, "DataLoader(torchvision MNIST + transforms) → device",
                        "device tensors + batches()", t_c, t_d, "—", c_c, c_d))
    return rows
