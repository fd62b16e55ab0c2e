"""Training minima: k networks at once as one vmapped ensemble (torch.func), on the engine.

``train_minima`` trains one network per seed with Adam on minibatches of the training set
(:class:`Minima`, a problem of :func:`starconn.engine.optimise`, which brings the schedule, bf16
autocast, checkpoints, the divergence report and the progress bar). The members never interact:
each has its own initialisation, its own seeded minibatch order and its own Adam state (Adam is
elementwise, so one Adam over the stacked parameters is k Adams), and a member that meets the stop
rule is frozen at that epoch. Training k members together therefore gives the same minima as
training them one by one (``tests/test_train.py`` checks it); on a GPU it is several times faster.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import stack_module_state, vmap

from . import levers
from .data import Dataset, batches
from .engine import Problem, Step, network_loss, optimise
from .paths import Params
from .store import Checkpoint


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


def params_of(model: nn.Module) -> Params:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


class Minima(Problem):
    """One network per seed, trained together: the free parameters are the members' stacked
    parameters; a step is one minibatch per member (each from its own seeded generator); at the
    end of an epoch a member whose epoch-mean loss is below ``cfg.target_loss`` (or that used
    all its epochs) is frozen as a finished minimum."""

    what = "minima"

    def __init__(self, make_model: Callable[[int], nn.Module], seeds: list[int], data: Dataset, cfg: TrainConfig,
                 loss_fn: Callable = F.cross_entropy, desc: str = "minima"):
        self.seeds, self.data, self.cfg, self.desc = list(seeds), data, cfg, desc
        self.activity = f"training {desc}"
        device = data.train_x.device
        models = [make_model(s) for s in seeds]
        for m in models:
            m.to(device).train()
        self.start, self.buffers = stack_module_state(models)
        # the step's pure tensor function, compiled when STARCONN_COMPILE says so (starconn.levers)
        self.member_loss = levers.compiled(vmap(network_loss(models[0], loss_fn, cfg.amp, device),
                                                randomness="different"), device)
        self.gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.done: dict[int, tuple[Params, dict]] = {}
        self.last: list[float] = []

    def init(self) -> Params:
        return self.start

    def identity(self) -> dict:
        return {"seeds": self.seeds, "n_train": self.data.n_train}

    def generators(self) -> dict[str, torch.Generator]:
        return {str(i): g for i, g in enumerate(self.gens)}

    def batches(self):
        n, bs, device = self.data.n_train, self.cfg.batch_size, self.data.train_x.device
        for idx in zip(*(batches(n, bs, g, device) for g in self.gens)):
            yield torch.stack(idx)

    def loss(self, params: Params, idx: torch.Tensor) -> Step:
        return Step(self.member_loss(params, self.buffers, self.data.train_x[idx], self.data.train_y[idx]), idx.shape[1])

    def running(self) -> list[int]:
        return [i for i in range(len(self.seeds)) if i not in self.done]

    def end_epoch(self, epoch: int, params: Params, totals: dict[str, torch.Tensor]) -> bool:
        cfg = self.cfg
        self.last = (totals["loss"] / self.data.n_train).tolist()
        for i in self.running():
            loss = self.last[i]
            reached = loss < cfg.target_loss
            if reached or epoch + 1 == cfg.epochs:
                ok = reached or cfg.target_loss <= 0
                if not ok:
                    warnings.warn(f"{self.desc}: seed {self.seeds[i]} used all {cfg.epochs} epochs and stopped at "
                                  f"training loss {loss:.3g}, above target_loss {cfg.target_loss}: flagged "
                                  "reached_target=False", stacklevel=2)
                self.done[i] = ({n: p[i].detach().clone() for n, p in params.items()},
                                {"epochs": epoch + 1, "epoch_loss": loss, "seed": self.seeds[i],
                                 "target_loss": cfg.target_loss, "reached_target": ok})
        return len(self.done) == len(self.seeds)

    def postfix(self) -> dict:
        return {"loss": f"{max(self.last):.2e}", "done": f"{len(self.done)}/{len(self.seeds)}"}

    def state(self) -> tuple[Params, dict]:
        tensors = {f"buffers/{n}": b for n, b in self.buffers.items()}
        tensors.update({f"done/{i}/{n}": v for i, (member, _) in self.done.items() for n, v in member.items()})
        return tensors, {"done": {str(i): info for i, (_, info) in self.done.items()}}

    def restore(self, tensors: Params, meta: dict) -> None:
        device = self.data.train_x.device
        with torch.no_grad():
            for n, b in self.buffers.items():
                b.copy_(tensors[f"buffers/{n}"])
        self.done = {int(i): ({n: tensors[f"done/{i}/{n}"].to(device) for n in self.start}, info)
                     for i, info in meta["done"].items()}

    def result(self, params: Params, wall_s: float) -> list[tuple[Params, dict]]:
        return [self.done[i] for i in range(len(self.seeds))]


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

    A NaN or infinite training loss raises :class:`starconn.engine.TrainingDiverged` naming the
    seed, the first non-finite step (counted from 1 over all epochs) and the training
    configuration; nothing is returned.

    With a ``checkpoint`` (:class:`starconn.store.Checkpoint`) the state is saved at the end of an
    epoch when due and a run that finds a checkpoint of the same seeds and configuration resumes
    from it (a message says so), with the result of an uninterrupted run; the caller deletes the
    checkpoint (``checkpoint.clear()``) once it has stored the minima.
    """
    return optimise(Minima(make_model, seeds, data, cfg, loss_fn, desc), progress, checkpoint)

