"""The paper's center-finding algorithm (Section 5, Algorithm 1).

Minimise over θ

    J(θ) = (1/r) Σ_i E_{t~U[0,1]} R(tθ + (1−t)θ_i) + λ p(θ, θ_i),   p = ‖θ − θ_i‖²,

with Adam: each step draws ``B_r`` feet θ_i, ``B_t`` values of t for each, and one training
minibatch; the B_r·B_t interpolated networks are evaluated in one vmapped call. Any network that
``torch.func.functional_call`` can run works; BatchNorm layers use batch statistics (train mode)
during the search, and their statistics are recomputed wherever a path is evaluated.
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from tqdm import tqdm

from .data import Dataset, batches
from .train import Params, TrainingDiverged, _lr_factor

INITS = ("mean", "foot", "fresh")


@dataclass(frozen=True)
class CenterConfig:
    epochs: int
    lr: float = 0.01
    lam: float = 0.0  # penalty weight λ on ‖θ − θ_i‖²
    B_r: int = 1
    B_t: int = 3
    batch_size: int = 200
    init: str = "mean"  # "mean" of the feet, one "foot" (the first), or a "fresh" initialisation
    schedule: str = "cosine"
    seed: int = 0
    amp: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def initial_center(feet: list[Params], init: str, fresh: Callable[[], Params] | None = None) -> Params:
    if init == "mean":
        return {k: torch.stack([f[k] for f in feet]).mean(0) for k in feet[0]}
    if init == "foot":
        return {k: v.clone() for k, v in feet[0].items()}
    if init == "fresh":
        if fresh is None:
            raise ValueError("init='fresh' needs a `fresh` initialiser")
        return fresh()
    raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")


def find_center(
    model: nn.Module,
    feet: list[Params],
    data: Dataset,
    cfg: CenterConfig,
    fresh: Callable[[], Params] | None = None,
    progress: bool = True,
    loss_fn: Callable = F.cross_entropy,
) -> tuple[Params, dict]:
    """A center θ* for the feet θ_1..θ_r; returns ``(θ*, {"objective": [...], "risk": [...]})``, the
    per-epoch means of J and of its risk term (J − risk is the penalty's share)."""
    device = data.train_x.device
    stacked_feet = {k: torch.stack([f[k] for f in feet]).to(device) for k in feet[0]}
    theta = {k: v.to(device).clone().requires_grad_(True) for k, v in initial_center(feet, cfg.init, fresh).items()}
    buffers = {k: v.to(device) for k, v in model.named_buffers()}
    model.to(device).train()
    use_amp = cfg.amp and device.type == "cuda"

    def point_loss(p, x, y):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = functional_call(model, (p, buffers), (x,))
        return loss_fn(out.float(), y)

    points_loss = vmap(point_loss, in_dims=(0, None, None), randomness="different")
    opt = torch.optim.Adam(list(theta.values()), lr=cfg.lr)
    steps = math.ceil(data.n_train / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(cfg.schedule, cfg.epochs * steps))
    gen = torch.Generator().manual_seed(cfg.seed)
    r = len(feet)
    history, risks = [], []
    bar = tqdm(range(cfg.epochs), desc="center", disable=not progress, file=sys.stderr, mininterval=1)
    for epoch in bar:
        total, total_risk = torch.zeros((), device=device), torch.zeros((), device=device)
        for idx in batches(data.n_train, cfg.batch_size, gen, device):
            feet_idx = torch.randint(r, (cfg.B_r,), generator=gen).repeat_interleave(cfg.B_t).to(device)
            t = torch.rand(cfg.B_r * cfg.B_t, generator=gen).to(device)
            points = {}
            for k, v in theta.items():
                tk = t.reshape(-1, *([1] * v.dim()))
                points[k] = tk * v.unsqueeze(0) + (1 - tk) * stacked_feet[k][feet_idx]
            risk = points_loss(points, data.train_x[idx], data.train_y[idx]).mean()
            objective = risk
            if cfg.lam:
                sq = sum(((v.unsqueeze(0) - stacked_feet[k][feet_idx[:: cfg.B_t]]) ** 2).flatten(1).sum(1)
                         for k, v in theta.items())
                objective = risk + cfg.lam * sq.mean()
            opt.zero_grad(set_to_none=True)
            objective.backward()
            opt.step()
            sched.step()
            total += objective.detach() * len(idx)
            total_risk += risk.detach() * len(idx)
        history.append(float(total) / data.n_train)
        risks.append(float(total_risk) / data.n_train)
        if not math.isfinite(history[-1]):
            raise TrainingDiverged(f"center search diverged (objective {history[-1]}) in epoch {epoch + 1}")
        bar.set_postfix(J=f"{history[-1]:.3e}", risk=f"{risks[-1]:.3e}")
    bar.close()
    return {k: v.detach() for k, v in theta.items()}, {"objective": history, "risk": risks}
