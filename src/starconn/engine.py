"""One optimisation engine: Adam on the free parameters of a :class:`Problem`.

Everything the book trains is "Adam over a function of parameter dicts": the minima (one network
per seed, vmapped as an ensemble, ``train.Minima``), the center of a set of minima
(``center.CenterSearch``), the control point of a Bezier curve and the star model
(``baselines.PointsFit``). A problem says what is free, how one step's loss is computed from a
minibatch and its random draws, and what is recorded at the end of an epoch; :func:`optimise`
does the rest, the same way for all of them:

* **schedule**: ``cfg.schedule`` ``"cosine"`` (decay to 0 over all ``cfg.epochs`` epochs, stepped
  once per minibatch) or ``"constant"``, on Adam with learning rate ``cfg.lr``;
* **amp**: with ``cfg.amp`` on a CUDA device the networks run under bf16 autocast
  (:func:`network_loss`), the losses in fp32; elsewhere ``amp`` changes nothing;
* **checkpoint / resume**: given a :class:`starconn.store.Checkpoint`, the whole state (free
  parameters, Adam moments and step counts, the schedule, every seeded generator, the step and
  epoch, first non-finite steps and the problem's own state) is saved at the end of an epoch when
  the checkpoint says it is due (never after the last epoch), and a rerun resumes from it with
  the same result as an uninterrupted run (bit for bit on a CPU). A checkpoint of another
  computation (kind, configuration, seeds, data, fixed tensors) is reported and ignored;
* **divergence**: the loss of every member is checked once per epoch (non-finite steps are
  recorded on the device, no synchronisation per step); a NaN or infinite loss raises
  :class:`TrainingDiverged` naming the seed, the first non-finite step (counted from 1 over all
  epochs), the epoch and the configuration;
* **progress**: a tqdm bar on stderr, starting at the resumed epoch.

To add a problem (a K-piece path between two minima, say), subclass :class:`Problem`: set
``what``, ``activity``, ``desc``, ``cfg`` (any object with ``epochs``, ``lr``, ``batch_size``,
``schedule``, ``amp`` and ``as_dict()``), ``data`` and ``seeds``, and implement ``init``,
``generators``, ``batches``, ``loss``, ``end_epoch`` and ``result`` (plus ``state``/``restore``
if it keeps state of its own across epochs). Switches that change how steps run are the levers
of :mod:`starconn.levers`: Adam's implementation (``STARCONN_ADAM``, :func:`make_optimizer`) and
``torch.compile`` / CUDA graphs of a problem's loss (``STARCONN_COMPILE``: a problem compiles its
pure tensor function with ``levers.compiled``; :func:`optimise` marks each step for CUDA graphs).
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from tqdm import tqdm

from . import config, levers
from .data import Dataset
from .integrity import tensor_digest
from .paths import Params
from .store import Checkpoint

Generators = dict[str, torch.Generator | np.random.Generator]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite (nothing of that training is returned or stored)."""

    def __init__(self, message: str, seed: int | None = None, step: int | None = None, epoch: int | None = None):
        super().__init__(message)
        self.seed, self.step, self.epoch = seed, step, epoch


def lr_factor(schedule: str, total: int) -> Callable[[int], float]:
    """The learning-rate multiplier after ``step`` of ``total`` steps."""
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    raise ValueError(f"schedule must be 'cosine' or 'constant'; got {schedule!r}")


def make_optimizer(params: Params, cfg) -> torch.optim.Optimizer:
    """Adam on the free parameters, in the implementation ``STARCONN_ADAM`` names (default,
    foreach or fused: the same update to rounding, ``tests/test_levers.py``)."""
    values = list(params.values())
    return torch.optim.Adam(values, lr=cfg.lr, **levers.adam_options(values[0].device))


def network_loss(model: nn.Module, loss_fn: Callable, amp: bool, device: torch.device) -> Callable:
    """``loss(p, b, x, y)``: ``loss_fn`` of ``model`` with parameters ``p`` and buffers ``b`` on a
    minibatch, the forward pass under bf16 autocast when ``amp`` and ``device`` is CUDA, the loss
    in fp32. A plain function of tensors, to be vmapped over points."""
    enabled = amp and device.type == "cuda"

    def loss(p: Params, b: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext():
            out = functional_call(model, (p, b), (x,))
        return loss_fn(out.float(), y)

    return loss


def digest(points: list[Params]) -> str:
    """A digest of a list of parameter dicts (``integrity.tensor_digest`` of their tensors, by name:
    a dict loaded from the store and one just trained list them in different orders): what a
    checkpoint of a problem with fixed tensors (feet, endpoints) must match."""
    return tensor_digest(*(p[k] for p in points for k in sorted(p)))


@dataclass
class Step:
    """One step's outcome: ``loss`` (one entry per member; their sum is minimised), ``n`` the
    examples in its minibatch, ``record`` other per-step scalars to average over the epoch."""

    loss: torch.Tensor
    n: int
    record: dict[str, torch.Tensor] = field(default_factory=dict)


class Problem:
    """What :func:`optimise` optimises. Attributes: ``what`` (kind, checked on resume),
    ``activity`` (for "resuming <activity> from epoch …" and divergence reports), ``desc``
    (progress bar), ``cfg`` (``epochs``, ``lr``, ``batch_size``, ``schedule``, ``amp``,
    ``as_dict()``), ``data`` (a :class:`starconn.data.Dataset` on the device), ``seeds`` (one
    per member: entry of the step's loss)."""

    what: str
    activity: str
    desc: str
    cfg: Any
    data: Dataset
    seeds: list[int]

    def init(self) -> Params:
        """The free parameters' initial values (called only when not resuming)."""
        raise NotImplementedError

    def shapes(self) -> Params:
        """Tensors of the free parameters' shapes and dtypes (to check a checkpoint against)."""
        return self.init()

    def identity(self) -> dict:
        """What a checkpoint must match besides ``what`` and ``cfg`` (seeds, data, fixed tensors)."""
        return {"n_train": self.data.n_train}

    def generators(self) -> Generators:
        """Every seeded generator the steps draw from (saved and restored with the checkpoint)."""
        raise NotImplementedError

    def batches(self) -> Iterator[Any]:
        """One epoch of minibatches (whatever :meth:`loss` takes)."""
        raise NotImplementedError

    def loss(self, params: Params, batch: Any) -> Step:
        """The step's loss at the free parameters ``params`` (differentiable in them)."""
        raise NotImplementedError

    def running(self) -> list[int]:
        """Members still training (checked for divergence)."""
        return list(range(len(self.seeds)))

    def end_epoch(self, epoch: int, params: Params, totals: dict[str, torch.Tensor]) -> bool:
        """Record epoch ``epoch`` (0-based) from the summed ``totals`` (``loss`` and each ``record``,
        weighted by examples); ``True`` ends the optimisation early."""
        return False

    def postfix(self) -> dict:
        """What the progress bar shows after an epoch."""
        return {}

    def state(self) -> tuple[Params, dict]:
        """The problem's own state to checkpoint (tensors, JSON-serialisable metadata)."""
        return {}, {}

    def restore(self, tensors: Params, meta: dict) -> None:
        """Restore :meth:`state` from a checkpoint."""

    def result(self, params: Params, wall_s: float) -> Any:
        """What :func:`optimise` returns (``wall_s``: wall time including runs before a resume)."""
        raise NotImplementedError


# ---------------------------------------------------------------- checkpoint state
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


def _identity(problem: Problem) -> dict:
    """What a checkpoint records of its computation, as it reads back from JSON."""
    return json.loads(json.dumps({"configuration": problem.cfg.as_dict(), **problem.identity()}))


def _mismatch(problem: Problem, tensors: Params, meta: dict) -> str | None:
    """Why a checkpoint is not one of this computation (``None``: it is)."""
    if meta.get("what") != problem.what:
        return f"checkpoint of {meta.get('what')!r}, not {problem.what}"
    saved, ours = meta.get("identity") or {}, _identity(problem)
    for k, v in ours.items():
        if saved.get(k) != v:
            return f"{k} {saved.get(k)}, this run {v}"
    if not 0 < meta.get("epoch", 0) < problem.cfg.epochs:
        return f"epoch {meta.get('epoch')} of {problem.cfg.epochs}"
    expected = {**{f"params/{n}": v for n, v in problem.shapes().items()},
                **{f"problem/{n}": v for n, v in problem.state()[0].items()}}
    for n, v in expected.items():
        if n not in tensors:
            return f"no tensor {n!r}"
        if tuple(tensors[n].shape) != tuple(v.shape) or tensors[n].dtype != v.dtype:
            return f"{n!r} is {tuple(tensors[n].shape)} {tensors[n].dtype}, this run has {tuple(v.shape)} {v.dtype}"
    return None


def _resume(problem: Problem, checkpoint: Checkpoint | None) -> tuple[Params, dict] | None:
    """The checkpoint's state when it is one of this computation; else ``None`` (a checkpoint of
    another computation is reported and moved aside)."""
    hit = checkpoint.load() if checkpoint is not None else None
    if hit is None:
        return None
    why = _mismatch(problem, *hit)
    if why:
        checkpoint.reject(why)
        return None
    return hit


def _diverged(problem: Problem, i: int, loss: float, step: int, epoch: int, steps_per_epoch: int) -> TrainingDiverged:
    cfg = problem.cfg
    settings = ", ".join(f"{k}={v!r}" for k, v in cfg.as_dict().items() if k != "epochs")
    return TrainingDiverged(
        f"{problem.activity}: seed {problem.seeds[i]} diverged: training loss {loss} at step {step} (epoch {epoch} "
        f"of {cfg.epochs}, {steps_per_epoch} steps per epoch) with {settings}; nothing was stored for it",
        seed=problem.seeds[i], step=step, epoch=epoch)


def optimise(problem: Problem, progress: bool = True, checkpoint: Checkpoint | None = None) -> Any:
    """Run Adam on ``problem`` for ``problem.cfg.epochs`` epochs (or until it says it is done);
    returns ``problem.result(θ, wall_s)``. See the module's docstring for the schedule, amp,
    checkpoints, divergence and progress."""
    t0 = time.time()
    levers.set_backends()
    cfg, data = problem.cfg, problem.data
    device = data.train_x.device
    steps_per_epoch = math.ceil(data.n_train / cfg.batch_size)
    hit = _resume(problem, checkpoint)
    start_params = problem.init() if hit is None else {n: hit[0][f"params/{n}"] for n in problem.shapes()}
    params = {n: v.detach().to(device, copy=True).requires_grad_(True) for n, v in start_params.items()}
    opt = make_optimizer(params, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg.schedule, cfg.epochs * steps_per_epoch))
    gens = problem.generators()
    first_bad = torch.zeros(len(problem.seeds), dtype=torch.long, device=device)  # first non-finite step, 0: none
    step = start = 0
    if hit is not None:
        tensors, meta = hit
        _restore_optim(opt, sched, params, tensors, meta)
        for name, g in gens.items():
            if isinstance(g, torch.Generator):
                g.set_state(tensors[f"rng/{name}"].cpu())
            else:
                g.bit_generator.state = meta["numpy_rng"][name]
        first_bad = tensors["first_bad"].to(device)
        step, start = int(meta["step"]), int(meta["epoch"])
        problem.restore({k.removeprefix("problem/"): v for k, v in tensors.items() if k.startswith("problem/")},
                        meta["problem"])
        tqdm.write(f"resuming {problem.activity} from epoch {start}/{cfg.epochs} (checkpoint "
                   f"{config.shown(checkpoint.path)}, {checkpoint.elapsed_s:.3g} s of work kept)", file=sys.stderr)

    def state(epochs_done: int) -> tuple[Params, dict]:
        tensors, meta = _optim_state(opt, sched, params)
        tensors.update({f"params/{n}": p.detach() for n, p in params.items()})
        tensors.update({f"rng/{n}": g.get_state() for n, g in gens.items() if isinstance(g, torch.Generator)})
        tensors["first_bad"] = first_bad
        own, own_meta = problem.state()
        tensors.update({f"problem/{n}": v for n, v in own.items()})
        meta.update(what=problem.what, identity=_identity(problem),
                    epoch=epochs_done, step=step, problem=own_meta,
                    numpy_rng={n: g.bit_generator.state for n, g in gens.items() if not isinstance(g, torch.Generator)})
        return tensors, meta

    bar = tqdm(range(start, cfg.epochs), desc=problem.desc, disable=not progress, file=sys.stderr, mininterval=1,
               initial=start, total=cfg.epochs)
    try:
        for epoch in bar:
            totals: dict[str, torch.Tensor] = {}
            for batch in problem.batches():
                levers.step_begin(device)
                s = problem.loss(params, batch)
                opt.zero_grad(set_to_none=True)
                s.loss.sum().backward()
                opt.step()
                sched.step()
                step += 1
                loss = s.loss.detach()
                first_bad = torch.where(~torch.isfinite(loss) & (first_bad == 0), step, first_bad)
                for name, v in (("loss", loss), *s.record.items()):
                    if name not in totals:
                        totals[name] = torch.zeros_like(v)
                    totals[name] += v.detach() * s.n
            for i in problem.running():
                total = float(totals["loss"][i])
                if not math.isfinite(total):
                    raise _diverged(problem, i, total / data.n_train, int(first_bad[i]) or step, epoch + 1,
                                    steps_per_epoch)
            done = problem.end_epoch(epoch, params, totals)
            bar.set_postfix(**problem.postfix())
            if done:
                break
            if checkpoint is not None and epoch + 1 < cfg.epochs and checkpoint.due():
                checkpoint.save(*state(epoch + 1))
    finally:
        bar.close()
    return problem.result({n: p.detach() for n, p in params.items()},
                          time.time() - t0 + (checkpoint.elapsed_s if checkpoint is not None else 0.0))
