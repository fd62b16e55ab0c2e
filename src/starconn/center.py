"""The paper's center-finding algorithm (Section 5, Algorithm 1).

Minimise over θ

    J(θ) = (1/r) Σ_i E_{t~U[0,1]} R(tθ + (1−t)θ_i) + λ p(θ, θ_i),   p = ‖θ − θ_i‖²,

with Adam: each step draws ``B_r`` feet θ_i, ``B_t`` values of t for each, and one training
minibatch; the B_r·B_t interpolated networks are evaluated in one vmapped call. Any network that
``torch.func.functional_call`` can run works; BatchNorm layers use batch statistics (train mode)
during the search, and their statistics are recomputed wherever a path is evaluated.

With a ``checkpoint`` (:class:`starconn.store.Checkpoint`) the search saves its state (θ, Adam,
schedule, generator, epoch, histories) at the end of an epoch, at most once every
``checkpoint.every_s`` seconds, and resumes from it when rerun; see ``train.train_minima``.
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap
from tqdm import tqdm

from .data import Dataset, batches
from .train import (Params, TrainingDiverged, _lr_factor, _optim_state, _restore_optim, _resume_note,
                    _shape_mismatch)

if TYPE_CHECKING:
    from .store import Checkpoint

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
    checkpoint: Checkpoint | None = None,
) -> tuple[Params, dict]:
    """A center θ* for the feet θ_1..θ_r; returns ``(θ*, {"objective": [...], "risk": [...]})``, the
    per-epoch means of J and of its risk term (J − risk is the penalty's share).

    With a ``checkpoint``, the state is saved at the end of an epoch (at most once every
    ``checkpoint.every_s`` seconds; never after the last one) and a rerun resumes from it, with the
    same result as an uninterrupted search; the caller deletes it once the center is stored."""
    device = data.train_x.device
    stacked_feet = {k: torch.stack([f[k] for f in feet]).to(device) for k in feet[0]}
    hit = checkpoint.load() if checkpoint is not None else None
    # a fingerprint of the feet (float64 sum of each foot's parameters) that the checkpoint must match
    sums = [] if checkpoint is None else (
        torch.stack([v.double().flatten(1).sum(1) for v in stacked_feet.values()], 1).flatten().tolist())

    def mismatch(tensors: Params, meta: dict) -> str | None:
        """Why a checkpoint is not one of this search (``None``: it is)."""
        if meta.get("what") != "center":
            return f"checkpoint of {meta.get('what')!r}, not a center search"
        if meta.get("config") != cfg.as_dict():
            return f"configuration {meta.get('config')}, this run {cfg.as_dict()}"
        if (meta.get("n_feet"), meta.get("n_train")) != (len(feet), data.n_train):
            return (f"{meta.get('n_feet')} feet and {meta.get('n_train')} training examples, this run "
                    f"{len(feet)} and {data.n_train}")
        if not 0 < meta.get("epoch", 0) < cfg.epochs:
            return f"epoch {meta.get('epoch')} of {cfg.epochs}"
        saved = meta.get("feet_sums") or []
        if len(saved) != len(sums) or not all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(saved, sums)):
            return "other feet (their parameter sums differ)"
        return _shape_mismatch(tensors, {f"theta/{k}": v for k, v in feet[0].items()})

    if hit is not None:
        tensors, meta = hit
        why = mismatch(tensors, meta)
        if why:
            checkpoint.reject(why)
            hit = None
    if hit is None:
        theta = {k: v.to(device).clone().requires_grad_(True) for k, v in initial_center(feet, cfg.init, fresh).items()}
    else:  # the checkpoint's θ; the initialisation (which may build a fresh network) is not needed
        theta = {k: tensors[f"theta/{k}"].to(device, copy=True).requires_grad_(True) for k in feet[0]}
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
    start = 0
    if hit is not None:
        _restore_optim(opt, sched, theta, tensors, meta)
        gen.set_state(tensors["rng/gen"].cpu())
        with torch.no_grad():
            for k, v in buffers.items():
                if f"buffers/{k}" in tensors:
                    v.copy_(tensors[f"buffers/{k}"])
        history, risks, start = list(meta["objective"]), list(meta["risk"]), int(meta["epoch"])
        _resume_note("center search", start, cfg.epochs, checkpoint)

    def state(epochs_done: int) -> tuple[Params, dict]:
        tensors, meta = _optim_state(opt, sched, theta)
        tensors.update({f"theta/{k}": v.detach() for k, v in theta.items()})
        tensors.update({f"buffers/{k}": v for k, v in buffers.items()})
        tensors["rng/gen"] = gen.get_state()
        meta.update(what="center", epoch=epochs_done, config=cfg.as_dict(), n_feet=r, n_train=data.n_train,
                    feet_sums=sums, objective=history, risk=risks)
        return tensors, meta

    bar = tqdm(range(start, cfg.epochs), desc="center", disable=not progress, file=sys.stderr, mininterval=1,
               initial=start, total=cfg.epochs)
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
        if checkpoint is not None and epoch + 1 < cfg.epochs and checkpoint.due():
            checkpoint.save(*state(epoch + 1))
    bar.close()
    return {k: v.detach() for k, v in theta.items()}, {"objective": history, "risk": risks}
