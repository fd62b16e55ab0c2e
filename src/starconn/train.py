"""Training minima: k networks at once as one vmapped ensemble (torch.func).

``train_minima`` trains one network per seed with Adam on minibatches of the training set. The
members never interact: each has its own initialisation, its own seeded minibatch order and its
own Adam state (Adam is elementwise, so one Adam over the stacked parameters is k Adams), and a
member that meets the stop rule is frozen at that epoch. Training k members together therefore
gives the same minima as training them one by one (``tests/test_train.py`` checks it); on a GPU
it is several times faster.
"""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm import tqdm

from .data import Dataset, batches

Params = dict[str, torch.Tensor]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite (nothing of that training is returned or stored)."""

    def __init__(self, message: str, seed: int | None = None, step: int | None = None, epoch: int | None = None):
        super().__init__(message)
        self.seed, self.step, self.epoch = seed, step, epoch


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    lr: float
    batch_size: int = 200
    schedule: str = "cosine"  # "cosine" (decay to 0 over `epochs`) or "constant"
    target_loss: float = 0.0  # stop a member once its epoch-mean training loss is below this
    amp: bool = False  # bf16 autocast (CUDA only)

    def as_dict(self) -> dict:
        return asdict(self)


def _lr_factor(schedule: str, total: int) -> Callable[[int], float]:
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    raise ValueError(f"schedule must be 'cosine' or 'constant'; got {schedule!r}")


def params_of(model: nn.Module) -> Params:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def train_minima(
    make_model: Callable[[int], nn.Module],
    seeds: list[int],
    data: Dataset,
    cfg: TrainConfig,
    progress: bool = True,
    loss_fn: Callable = F.cross_entropy,
    desc: str = "minima",
) -> list[tuple[Params, dict]]:
    """Train one network per seed, all as one ensemble; returns ``[(params, info), ...]``.

    ``make_model(seed)`` returns a freshly initialised network; the minibatch order of member
    ``i`` is drawn from a generator seeded with ``seeds[i]``. ``info`` holds the epochs run, the
    last epoch-mean training loss and ``reached_target``: ``False`` when ``cfg.target_loss > 0``
    and the member used up its epochs without its loss going below it (a warning says so too);
    with no target (``target_loss = 0``, a fixed number of epochs) it is ``True``.

    A NaN or infinite training loss raises :class:`TrainingDiverged` naming the seed, the first
    non-finite step (counted from 1 over all epochs) and the training configuration; nothing is
    returned. Non-finite steps are recorded on the device and checked once per epoch (no extra
    synchronisation per step).
    """
    models = [make_model(s) for s in seeds]
    device = data.train_x.device
    for m in models:
        m.to(device).train()
    params, buffers = stack_module_state(models)
    base = models[0]
    k = len(seeds)
    use_amp = cfg.amp and device.type == "cuda"

    def member_loss(p, b, x, y):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = functional_call(base, (p, b), (x,))
        return loss_fn(out.float(), y)

    ensemble_loss = vmap(member_loss, randomness="different")
    opt = torch.optim.Adam(list(params.values()), lr=cfg.lr)
    steps_per_epoch = math.ceil(data.n_train / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(cfg.schedule, cfg.epochs * steps_per_epoch))
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    done: dict[int, tuple[Params, dict]] = {}
    first_bad = torch.zeros(k, dtype=torch.long, device=device)  # first non-finite step, 0: none
    step = 0
    bar = tqdm(range(cfg.epochs), desc=desc, disable=not progress, file=sys.stderr, mininterval=1)
    for epoch in bar:
        total = torch.zeros(k, device=device)
        for idx in zip(*(batches(data.n_train, cfg.batch_size, g, device) for g in gens)):
            idx = torch.stack(idx)
            losses = ensemble_loss(params, buffers, data.train_x[idx], data.train_y[idx])
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            sched.step()
            step += 1
            first_bad = torch.where(~torch.isfinite(losses.detach()) & (first_bad == 0), step, first_bad)
            total += losses.detach() * idx.shape[1]
        mean = (total / data.n_train).tolist()
        for i, loss in enumerate(mean):
            if i in done:
                continue
            if not math.isfinite(loss):
                bad = int(first_bad[i]) or step
                bar.close()
                raise TrainingDiverged(
                    f"{desc}: seed {seeds[i]} diverged: training loss {loss} at step {bad} (epoch {epoch + 1} of "
                    f"{cfg.epochs}, {steps_per_epoch} steps per epoch) with lr={cfg.lr}, batch_size={cfg.batch_size}, "
                    f"schedule={cfg.schedule!r}, amp={cfg.amp}; nothing was stored for it",
                    seed=seeds[i], step=bad, epoch=epoch + 1)
            reached = loss < cfg.target_loss
            if reached or epoch + 1 == cfg.epochs:
                member = {n: p[i].detach().clone() for n, p in params.items()}
                ok = reached or cfg.target_loss <= 0
                if not ok:
                    warnings.warn(f"{desc}: seed {seeds[i]} used all {cfg.epochs} epochs and stopped at training "
                                  f"loss {loss:.3g}, above target_loss {cfg.target_loss}: flagged "
                                  "reached_target=False", stacklevel=2)
                done[i] = (member, {"epochs": epoch + 1, "epoch_loss": loss, "seed": seeds[i],
                                    "target_loss": cfg.target_loss, "reached_target": ok})
        bar.set_postfix(loss=f"{max(mean):.2e}", done=f"{len(done)}/{k}")
        if len(done) == k:
            break
    bar.close()
    return [done[i] for i in range(k)]
