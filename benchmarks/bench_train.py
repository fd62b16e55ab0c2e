"""Training k minima: one vmapped ensemble (``starconn.train.train_minima``) against k trainings
one after the other, with the same data, seeds, minibatch orders, Adam and cosine schedule.

The straightforward path is the plain PyTorch loop a user writes (an ``nn.Module``, ``model(x)``,
``loss.backward()``, ``Adam.step()``); a second row loops ``train_minima`` over single seeds, which
isolates what the ensemble itself buys. The data sit on the device in all three (the data-feeding
benchmark measures that lever on its own).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from starconn.data import batches
from starconn.engine import lr_factor
from starconn.models import FNN
from starconn.train import TrainConfig, params_of, train_minima

from _common import Ctx, Row, compare, head, rel_diff


def make(seed: int) -> FNN:
    torch.manual_seed(seed)
    return FNN()


def plain_training(seed: int, data, cfg: TrainConfig) -> dict:
    """One network, the textbook way."""
    model = make(seed).to(data.train_x.device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = math.ceil(data.n_train / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg.schedule, cfg.epochs * steps))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(cfg.epochs):
        for idx in batches(data.n_train, cfg.batch_size, gen, data.train_x.device):
            loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return params_of(model)


def run(ctx: Ctx) -> list[Row]:
    k = 3 if ctx.quick else 5
    epochs = 1 if ctx.quick else 2
    cfg = TrainConfig(epochs=epochs, lr=1e-3, batch_size=200)
    seeds = list(range(k))
    workload = f"FNN 784-500-300-10, k = {k} minima, {epochs} epoch(s) of {ctx.data.n_train} examples, batch 200"

    def fns(data):
        def loop_plain():
            return [plain_training(s, data, cfg) for s in seeds]

        def loop_single():
            return [train_minima(make, [s], data, cfg, progress=False)[0][0] for s in seeds]

        def ensemble():
            return [p for p, _ in train_minima(make, seeds, data, cfg, progress=False)]

        return loop_plain, loop_single, ensemble

    loop_plain, loop_single, ensemble = fns(ctx.data)
    warm_plain, warm_single, warm_ensemble = fns(head(ctx.data))
    wall, cpu, (ra, rc, rb) = compare([loop_plain, loop_single, ensemble], ctx.device, ctx.repeats,
                                      warm=[warm_plain, warm_single, warm_ensemble])
    rows = []
    for name, i, res in (("loop of k plain PyTorch trainings", 0, ra), ("loop of k train_minima(1 seed)", 1, rc)):
        diff = max(rel_diff(a, b) for a, b in zip(res, rb))
        rows.append(Row("training k minima", workload, name, "vmapped ensemble (train_minima)",
                        wall[i], wall[2], f"‖Δθ‖/‖θ‖ ≤ {diff:.1e}", cpu[i], cpu[2]))
    return rows
