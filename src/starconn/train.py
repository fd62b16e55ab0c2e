"""Training minima: k networks at once as one vmapped ensemble (torch.func).

``train_minima`` trains one network per seed with Adam on minibatches of the training set. The
members never interact: each has its own initialisation, its own seeded minibatch order and its
own Adam state (Adam is elementwise, so one Adam over the stacked parameters is k Adams), and a
member that meets the stop rule is frozen at that epoch. Training k members together therefore
gives the same minima as training them one by one (``tests/test_train.py`` checks it); on a GPU
it is several times faster.

Given a :class:`starconn.store.Checkpoint`, ``train_minima`` (and ``center.find_center``) saves its
whole state at the end of an epoch (at most once every ``checkpoint.every_s`` seconds): the
parameters, BatchNorm buffers, Adam moments and step counts, the learning-rate schedule, the
minibatch generators, the epoch and what each member has reached; a rerun with the same
checkpoint resumes from it and gives the same result as an uninterrupted run (bit for bit on a
CPU). Without a checkpoint nothing is saved.
"""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm import tqdm

from .data import Dataset, batches

if TYPE_CHECKING:
    from .store import Checkpoint

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


# ---------------------------------------------------------------- checkpoint helpers (also used by center)
def _optim_state(opt: torch.optim.Optimizer, sched, named: Params) -> tuple[Params, dict]:
    """Adam's per-parameter state as tensors ``adam/<state>/<param>``, and the schedule as JSON."""
    tensors = {f"adam/{sk}/{n}": sv for n, p in named.items() for sk, sv in opt.state.get(p, {}).items()
               if isinstance(sv, torch.Tensor)}
    meta = {"sched": sched.state_dict(), "lr": [g["lr"] for g in opt.param_groups],
            "initial_lr": [g.get("initial_lr") for g in opt.param_groups]}
    return tensors, meta


def _restore_optim(opt: torch.optim.Optimizer, sched, named: Params, tensors: Params, meta: dict) -> None:
    for tk, v in tensors.items():
        if tk.startswith("adam/"):
            _, sk, n = tk.split("/", 2)
            p = named[n]
            # Adam keeps its step counts on the CPU (unless capturable/fused), the moments beside the parameter
            on_cpu = sk == "step" and not any(g.get("capturable") or g.get("fused") for g in opt.param_groups)
            opt.state[p][sk] = v.clone() if on_cpu else v.to(p.device, copy=True)
    for g, lr, ilr in zip(opt.param_groups, meta["lr"], meta["initial_lr"]):
        g["lr"] = lr
        if ilr is not None:
            g["initial_lr"] = ilr
    sched.load_state_dict(meta["sched"])


def _shape_mismatch(tensors: Params, expected: dict[str, torch.Tensor]) -> str | None:
    """Why the checkpoint's tensors do not fit (``None`` when every expected tensor is there, same shape)."""
    for n, v in expected.items():
        if n not in tensors:
            return f"no tensor {n!r}"
        if tuple(tensors[n].shape) != tuple(v.shape) or tensors[n].dtype != v.dtype:
            return (f"{n!r} is {tuple(tensors[n].shape)} {tensors[n].dtype}, this run has "
                    f"{tuple(v.shape)} {v.dtype}")
    return None


def _resume_note(what: str, epoch: int, epochs: int, checkpoint: Checkpoint) -> None:
    tqdm.write(f"resuming {what} from epoch {epoch}/{epochs} (checkpoint {checkpoint.path}, "
               f"{checkpoint.elapsed_s:.3g} s of work kept)", file=sys.stderr)


def train_minima(
    make_model: Callable[[int], nn.Module],
    seeds: list[int],
    data: Dataset,
    cfg: TrainConfig,
    progress: bool = True,
    loss_fn: Callable = F.cross_entropy,
    desc: str = "minima",
    checkpoint: Checkpoint | None = None,
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

    With a ``checkpoint`` (:class:`starconn.store.Checkpoint`) the state is saved at the end of an
    epoch, at most once every ``checkpoint.every_s`` seconds (never after the last epoch: the
    result follows at once), and a run that finds a checkpoint of the same seeds and configuration
    resumes from it (a message says so). The result equals an uninterrupted run's; the caller
    deletes the checkpoint (``checkpoint.clear()``) once it has stored the minima.
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
    step = start = 0

    def state(epochs_done: int) -> tuple[Params, dict]:
        tensors, meta = _optim_state(opt, sched, params)
        tensors.update({f"params/{n}": p.detach() for n, p in params.items()})
        tensors.update({f"buffers/{n}": b for n, b in buffers.items()})
        tensors.update({f"rng/{i}": g.get_state() for i, g in enumerate(gens)})
        tensors["first_bad"] = first_bad
        tensors.update({f"done/{i}/{n}": v for i, (member, _) in done.items() for n, v in member.items()})
        meta.update(what="minima", epoch=epochs_done, step=step, seeds=list(seeds), config=cfg.as_dict(),
                    n_train=data.n_train, done={str(i): info for i, (_, info) in done.items()})
        return tensors, meta

    def mismatch(tensors: Params, meta: dict) -> str | None:
        """Why a checkpoint is not one of this training (``None``: it is)."""
        if meta.get("what") != "minima":
            return f"checkpoint of {meta.get('what')!r}, not minima"
        if meta.get("seeds") != list(seeds):
            return f"seeds {meta.get('seeds')}, this run {list(seeds)}"
        if meta.get("config") != cfg.as_dict():
            return f"configuration {meta.get('config')}, this run {cfg.as_dict()}"
        if meta.get("n_train") != data.n_train:
            return f"{meta.get('n_train')} training examples, this run {data.n_train}"
        if not 0 < meta.get("epoch", 0) < cfg.epochs:
            return f"epoch {meta.get('epoch')} of {cfg.epochs}"
        return _shape_mismatch(tensors, {**{f"params/{n}": p for n, p in params.items()},
                                         **{f"buffers/{n}": b for n, b in buffers.items()}})

    hit = checkpoint.load() if checkpoint is not None else None
    if hit is not None:
        tensors, meta = hit
        why = mismatch(tensors, meta)
        if why:
            checkpoint.reject(why)
        else:
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(tensors[f"params/{n}"])
                for n, b in buffers.items():
                    b.copy_(tensors[f"buffers/{n}"])
            _restore_optim(opt, sched, params, tensors, meta)
            for i, g in enumerate(gens):
                g.set_state(tensors[f"rng/{i}"].cpu())
            first_bad = tensors["first_bad"].to(device)
            step, start = int(meta["step"]), int(meta["epoch"])
            done = {int(i): ({n: tensors[f"done/{i}/{n}"].to(device) for n in params}, info)
                    for i, info in meta["done"].items()}
            _resume_note(f"training {desc}", start, cfg.epochs, checkpoint)
    bar = tqdm(range(start, cfg.epochs), desc=desc, disable=not progress, file=sys.stderr, mininterval=1,
               initial=start, total=cfg.epochs)
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
        if checkpoint is not None and epoch + 1 < cfg.epochs and checkpoint.due():
            checkpoint.save(*state(epoch + 1))
    bar.close()
    return [done[i] for i in range(k)]
