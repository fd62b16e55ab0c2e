"""The paper's center-finding algorithm (Section 5, Algorithm 1).

Minimise over θ

    J(θ) = (1/r) Σ_i E_{t~U[0,1]} R(tθ + (1−t)θ_i) + λ p(θ, θ_i),   p = ‖θ − θ_i‖²,

with Adam: each step draws ``B_r`` feet θ_i, ``B_t`` values of t for each, and one training
minibatch; the B_r·B_t interpolated networks are evaluated in one vmapped call. Any network that
``torch.func.functional_call`` can run works; BatchNorm layers use batch statistics (train mode)
during the search, and their statistics are recomputed wherever a path is evaluated.

The search is a problem of :func:`starconn.engine.optimise` (:class:`CenterSearch`), which brings
the schedule, bf16 autocast, checkpoints and resume, the divergence report and the progress bar.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap

from . import levers
from .data import Dataset, batches
from .engine import Problem, Step, digest, network_loss, optimise
from .paths import Params
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


class CenterSearch(Problem):
    """θ free; a step draws its minibatch, then ``B_r`` feet and ``B_t`` values of t per foot
    (one seeded generator, ``cfg.seed``), and its loss is J on that draw; the epoch-mean J and
    its risk term are recorded (``objective``, ``risk``)."""

    what = "center"
    activity = "center search"
    desc = "center"

    def __init__(self, model: nn.Module, feet: list[Params], data: Dataset, cfg: CenterConfig,
                 fresh: Callable[[], Params] | None = None, loss_fn: Callable = F.cross_entropy):
        self.feet, self.data, self.cfg, self.fresh, self.seeds = feet, data, cfg, fresh, [cfg.seed]
        device = data.train_x.device
        self.stacked = {k: torch.stack([f[k] for f in feet]).to(device) for k in feet[0]}
        self.buffers = {k: v.to(device) for k, v in model.named_buffers()}
        model.to(device).train()
        net = network_loss(model, loss_fn, cfg.amp, device)
        self.points_loss = vmap(lambda p, x, y: net(p, self.buffers, x, y), in_dims=(0, None, None),
                                randomness="different")
        # λ as a tensor and its presence as a flag: one compiled objective serves every λ > 0
        self.penalised, self.lam = bool(cfg.lam), torch.tensor(cfg.lam, device=device)
        self.objective = levers.compiled(self._objective, device)  # STARCONN_COMPILE (starconn.levers)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.history: list[float] = []
        self.risks: list[float] = []
        self._digest: str | None = None

    def init(self) -> Params:
        return initial_center(self.feet, self.cfg.init, self.fresh)

    def shapes(self) -> Params:
        return self.feet[0]  # without building a fresh initialisation

    def identity(self) -> dict:
        self._digest = self._digest or digest(self.feet)
        return {"n_feet": len(self.feet), "n_train": self.data.n_train, "feet": self._digest}

    def generators(self) -> dict[str, torch.Generator]:
        return {"gen": self.gen}

    def batches(self):
        return batches(self.data.n_train, self.cfg.batch_size, self.gen, self.data.train_x.device)

    def loss(self, theta: Params, idx: torch.Tensor) -> Step:
        cfg, device = self.cfg, self.data.train_x.device
        feet_idx = torch.randint(len(self.feet), (cfg.B_r,), generator=self.gen).repeat_interleave(cfg.B_t).to(device)
        t = torch.rand(cfg.B_r * cfg.B_t, generator=self.gen).to(device)
        objective, risk = self.objective(theta, feet_idx, t, self.data.train_x[idx], self.data.train_y[idx])
        return Step(objective.reshape(1), len(idx), {"risk": risk})

    def _objective(self, theta: Params, feet_idx: torch.Tensor, t: torch.Tensor, x: torch.Tensor,
                   y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """J and its risk term on one step's draw (feet, t) and minibatch: a pure tensor function."""
        points = {}
        for k, v in theta.items():
            tk = t.reshape(-1, *([1] * v.dim()))
            points[k] = tk * v.unsqueeze(0) + (1 - tk) * self.stacked[k][feet_idx]
        risk = self.points_loss(points, x, y).mean()
        objective = risk
        if self.penalised:
            sq = sum(((v.unsqueeze(0) - self.stacked[k][feet_idx[:: self.cfg.B_t]]) ** 2).flatten(1).sum(1)
                     for k, v in theta.items())
            objective = risk + self.lam * sq.mean()
        return objective, risk

    def end_epoch(self, epoch: int, theta: Params, totals: dict[str, torch.Tensor]) -> bool:
        self.history.append(float(totals["loss"]) / self.data.n_train)
        self.risks.append(float(totals["risk"]) / self.data.n_train)
        return False

    def postfix(self) -> dict:
        return {"J": f"{self.history[-1]:.3e}", "risk": f"{self.risks[-1]:.3e}"}

    def state(self) -> tuple[Params, dict]:
        return {f"buffers/{k}": v for k, v in self.buffers.items()}, {"objective": self.history, "risk": self.risks}

    def restore(self, tensors: Params, meta: dict) -> None:
        with torch.no_grad():
            for k, v in self.buffers.items():
                v.copy_(tensors[f"buffers/{k}"])
        self.history, self.risks = list(meta["objective"]), list(meta["risk"])

    def result(self, theta: Params, wall_s: float) -> tuple[Params, dict]:
        return theta, {"objective": self.history, "risk": self.risks}


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

    With a ``checkpoint``, the state is saved at the end of an epoch when due (never after the last
    one) and a rerun resumes from it, with the same result as an uninterrupted search; the caller
    deletes it once the center is stored. A NaN or infinite J raises
    :class:`starconn.engine.TrainingDiverged` (seed ``cfg.seed``, first non-finite step)."""
    return optimise(CenterSearch(model, feet, data, cfg, fresh, loss_fn), progress, checkpoint)
