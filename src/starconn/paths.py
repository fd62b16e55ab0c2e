"""Paths between minima and what is measured along them.

A network's parameters are a dict of tensors θ; a point on the segment θa → θb is
θ(t) = (1−t)·θa + t·θb. The linear path joins two minima directly; the fold-line (2-PL path)
θi → θ* → θj goes through a center θ*. Loss and accuracy are measured on a whole split at n
points, vmapped over the points; networks with BatchNorm get their statistics recomputed on
training data at every point before it is evaluated (on the whole training set, or on a fixed
random subset of it, :func:`bn_subset`, when ``STARCONN_BN_EXAMPLES`` asks). Evaluation runs under
``torch.inference_mode`` (``STARCONN_INFERENCE``, :mod:`starconn.levers`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from . import levers

Params = dict[str, torch.Tensor]


def flat(p: Params) -> torch.Tensor:
    return torch.cat([v.reshape(-1) for v in p.values()])


def distance(a: Params, b: Params) -> float:
    return float(torch.sqrt(sum(((a[k] - b[k]).double() ** 2).sum() for k in a)))


def segment(a: Params, b: Params, ts: torch.Tensor) -> Params:
    """Stacked points θ(t) = (1−t)θa + tθb for each t in ``ts`` (leading dimension len(ts))."""
    out = {}
    for k in a:
        t = ts.to(a[k]).reshape(-1, *([1] * a[k].dim()))
        out[k] = torch.lerp(a[k].unsqueeze(0), b[k].unsqueeze(0), t)
    return out


def path_length(points: list[Params]) -> float:
    """Euclidean length of the polygonal path through ``points``."""
    return sum(distance(p, q) for p, q in zip(points, points[1:]))


def ngd_bound(a: Params, center: Params, b: Params) -> float:
    """Eq. 8: (‖θ1−θ*‖ + ‖θ*−θ2‖) / ‖θ1−θ2‖, an upper bound on NGD(θ1, θ2) for a 2-PL center θ*."""
    return path_length([a, center, b]) / distance(a, b)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def bn_subset(x: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """A fixed random subset of ``n`` of the examples ``x`` (all of them when ``n`` is 0 or at
    least their number), in their order: what BatchNorm statistics are computed from when
    ``STARCONN_BN_EXAMPLES`` = ``n``."""
    if n <= 0 or n >= len(x):
        return x
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return x[idx.to(x.device)]


def recompute_bn(model: nn.Module, params: Params, x: torch.Tensor, batch_size: int = 1000) -> dict:
    """BatchNorm running statistics of the network θ recomputed on ``x`` (cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.track_running_stats) for m in bns]
    for m in bns:
        m.momentum, m.track_running_stats = None, True
    with levers.no_grad():
        buffers = {k: torch.zeros_like(v) for k, v in model.named_buffers()}
        for k in buffers:
            if k.endswith("running_var"):
                buffers[k].fill_(1)
        model.train()
        for i in range(0, len(x), batch_size):
            functional_call(model, (params, buffers), (x[i : i + batch_size],))
    model.eval()
    for m, (mom, track) in zip(bns, saved):
        m.momentum, m.track_running_stats = mom, track
    return buffers


class Evaluator:
    """Loss (mean cross-entropy) and accuracy (%) of many parameter points on one split."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, bn_x: torch.Tensor | None = None,
                 batch_size: int = 10000, points_per_call: int = 8):
        self.model, self.x, self.y = model.eval(), x, y
        self.bn_x = bn_x if bn_x is not None else x
        self.batch_size, self.points_per_call = batch_size, points_per_call
        self.bn = has_batchnorm(model)

    def __call__(self, points: Params) -> tuple[torch.Tensor, torch.Tensor]:
        levers.set_backends()
        with levers.no_grad():
            return self._evaluate(points)

    def _evaluate(self, points: Params) -> tuple[torch.Tensor, torch.Tensor]:
        n = next(iter(points.values())).shape[0]
        loss, correct = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
        if self.bn:
            for i in range(n):
                p = {k: v[i] for k, v in points.items()}
                buffers = recompute_bn(self.model, p, self.bn_x)
                loss[i], correct[i] = self._sums(lambda x, p=p, b=buffers: functional_call(self.model, (p, b), (x,)).unsqueeze(0))
        else:
            fwd = vmap(lambda p, x: functional_call(self.model, p, (x,)), in_dims=(0, None))
            for s in range(0, n, self.points_per_call):
                chunk = {k: v[s : s + self.points_per_call] for k, v in points.items()}
                loss[s : s + len(next(iter(chunk.values())))], correct[s : s + len(next(iter(chunk.values())))] = \
                    self._sums(lambda x, c=chunk: fwd(c, x))
        return loss / len(self.y), 100 * correct / len(self.y)

    def _sums(self, forward) -> tuple[torch.Tensor, torch.Tensor]:
        loss = correct = 0
        for i in range(0, len(self.y), self.batch_size):
            x, y = self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
            out = forward(x).float()  # (points, batch, classes)
            yy = y.expand(out.shape[0], -1)
            loss = loss + F.cross_entropy(out.transpose(1, 2), yy, reduction="none").double().sum(1)
            correct = correct + (out.argmax(-1) == yy).double().sum(1)
        return loss.cpu(), correct.cpu()

    def single(self, p: Params) -> tuple[float, float]:
        loss, acc = self({k: v.unsqueeze(0) for k, v in p.items()})
        return float(loss[0]), float(acc[0])


@dataclass
class Curve:
    """Loss and accuracy at positions ``s`` along a path (s ∈ [0, 1] linear, [0, 2] fold-line)."""

    s: list[float]
    loss: list[float]
    acc: list[float]

    @property
    def loss_barrier(self) -> float:
        """The paper's loss barrier: the maximum loss along the path."""
        return max(self.loss)

    @property
    def acc_barrier(self) -> float:
        """The paper's accuracy barrier: the minimum accuracy along the path."""
        return min(self.acc)


def ts(n: int) -> torch.Tensor:
    return torch.linspace(0, 1, n, dtype=torch.float64)


def linear_curve(ev: Evaluator, a: Params, b: Params, n: int) -> Curve:
    t = ts(n)
    loss, acc = ev(segment(a, b, t))
    return Curve(t.tolist(), loss.tolist(), acc.tolist())


def fold_curve(seg_a: Curve, seg_b: Curve) -> Curve:
    """The fold-line θa → θ* → θb from the curves of its segments θa → θ* and θb → θ*."""
    s = seg_a.s + [2 - t for t in reversed(seg_b.s[:-1])]
    return Curve(s, seg_a.loss + seg_b.loss[-2::-1], seg_a.acc + seg_b.acc[-2::-1])


def mean(xs: list[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else math.nan
