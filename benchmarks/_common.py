"""Shared pieces of the benchmarks: the machine, the data, and a fair timer."""
from __future__ import annotations

import math
import os
import platform
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch

from starconn import config, flops
from starconn.data import DataError, Dataset, mnist


@dataclass
class Ctx:
    device: torch.device
    quick: bool
    repeats: int
    data: Dataset
    data_note: str
    mnist_root: str | None  # torchvision MNIST root when the real data are there, for the DataLoader baseline


@dataclass
class Row:
    name: str
    workload: str
    straight: str
    optimised: str
    t_straight: float  # median wall time (s)
    t_opt: float
    agree: str = "—"  # how far the two paths' results are apart
    cpu_straight: float = float("nan")  # median process CPU time (s)
    cpu_opt: float = float("nan")
    flops: float = float("nan")  # model FLOPs of the timed work (the same for both ways; starconn.flops)
    meta: dict = field(default_factory=dict)  # what the GPU plan reads (network, step, examples, lever, …)

    @property
    def speedup(self) -> float:
        return self.t_straight / self.t_opt

    def rate(self, t: float) -> float:
        """Achieved model FLOP/s of a way that took ``t`` seconds (NaN without a FLOP count)."""
        return self.flops / t if self.flops == self.flops and t > 0 else math.nan

    @property
    def cpu_speedup(self) -> float:
        return self.cpu_straight / self.cpu_opt if self.cpu_opt > 0 else float("nan")


def peak_bf16(device: torch.device) -> float:
    """The card's dense bf16 peak FLOP/s (``starconn.flops.PEAK_BF16``; NaN on a CPU or an unknown card)."""
    return flops.peak_bf16(torch.cuda.get_device_name(device)) if device.type == "cuda" else math.nan


@contextmanager
def lever_env(**values: str):
    """Set the ``STARCONN_*`` lever variables (``starconn.levers``) for a block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def compare(fns: list[Callable[[], object]], device: torch.device, repeats: int,
            warm: list[Callable[[], object]] | None = None) -> tuple[list[float], list[float], list[object]]:
    """Median wall and CPU times of each function over ``repeats`` runs, the functions interleaved
    (A B A B …) so that a shared machine's changing load falls on all alike. First one untimed
    warm-up run of each: of ``warm`` (the same code on a small slice of the work) if given, else of
    the functions themselves. Returns the median wall times, the median process CPU times (all
    threads; meaningful on a CPU device only) and the last result of each function."""
    for fn in warm or fns:
        fn()
        sync(device)
    wall: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    results: list[object] = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            results[i] = fn()
            sync(device)
            wall[i].append(time.perf_counter() - t0)
            cpu[i].append(time.process_time() - c0)
    return [statistics.median(w) for w in wall], [statistics.median(c) for c in cpu], results


def head(data: Dataset, n: int = 400) -> Dataset:
    """The first ``n`` training and test examples (the warm-up workload)."""
    return Dataset(data.name, data.train_x[:n], data.train_y[:n], data.test_x[:n], data.test_y[:n], data.source)


def rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """‖a − b‖ / ‖b‖ over all parameters. (Adam divides by √v, so in coordinates whose gradient is
    rounding noise the two ways' last-bit differences grow into visible ones: a max |Δ| says little.)"""
    num = sum(float(((a[k].double() - b[k].double()) ** 2).sum()) for k in a)
    den = sum(float((b[k].double() ** 2).sum()) for k in b)
    return (num / den) ** 0.5


def load_data(device: torch.device, n_train: int, n_test: int) -> tuple[Dataset, str, str | None]:
    """MNIST (first n examples) from STARCONN_DATA if it is there, else random MNIST-shaped tensors."""
    try:
        d = mnist(device, n_train=n_train, n_test=n_test)
        return d, f"MNIST, first {n_train} train / {n_test} test examples", str(config.data_dir())
    except DataError:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n_train + n_test, 1, 28, 28, generator=g)
        y = torch.randint(10, (n_train + n_test,), generator=g)
        d = Dataset("random", x[:n_train].to(device), y[:n_train].to(device), x[n_train:].to(device),
                    y[n_train:].to(device), source="random MNIST-shaped tensors")
        return d, f"random MNIST-shaped tensors ({n_train} / {n_test}; MNIST not found in STARCONN_DATA)", None


def machine(device: torch.device) -> list[str]:
    lines = [
        f"date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}",
        f"device: {config.device_name(device)}" + (f" (CUDA {torch.version.cuda})" if device.type == "cuda" else ""),
        f"CPU: {platform.processor() or platform.machine()}, os.cpu_count() = {os.cpu_count()}, "
        f"torch threads = {torch.get_num_threads()}",
        f"torch {torch.__version__}, Python {platform.python_version()}",
    ]
    if hasattr(os, "getloadavg"):
        lines.append("load average (1/5/15 min) at start: " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    return lines
