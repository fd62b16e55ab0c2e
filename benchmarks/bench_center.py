"""One center-finding epoch: the B_r·B_t interpolated networks of each step evaluated in one vmapped
call (``starconn.center.find_center``) against a Python loop over them (written here, same random
draws, same Adam and schedule, so the two return the same center up to rounding)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.func import functional_call

from starconn.center import CenterConfig, find_center, initial_center
from starconn.data import batches
from starconn.engine import lr_factor
from starconn.models import FNN
from starconn.train import params_of

from _common import Ctx, Row, compare, head, rel_diff


def center_loop(model, feet, data, cfg: CenterConfig) -> dict:
    """``find_center`` with the interpolation points evaluated one by one."""
    device = data.train_x.device
    feet = [{k: v.to(device) for k, v in f.items()} for f in feet]
    theta = {k: v.to(device).clone().requires_grad_(True) for k, v in initial_center(feet, cfg.init).items()}
    buffers = {k: v.to(device) for k, v in model.named_buffers()}
    model.to(device).train()
    opt = torch.optim.Adam(list(theta.values()), lr=cfg.lr)
    steps = math.ceil(data.n_train / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg.schedule, cfg.epochs * steps))
    gen = torch.Generator().manual_seed(cfg.seed)
    r = len(feet)
    for _ in range(cfg.epochs):
        for idx in batches(data.n_train, cfg.batch_size, gen, device):
            feet_idx = torch.randint(r, (cfg.B_r,), generator=gen).repeat_interleave(cfg.B_t).tolist()
            t = torch.rand(cfg.B_r * cfg.B_t, generator=gen).tolist()
            x, y = data.train_x[idx], data.train_y[idx]
            risk = 0
            for i, ti in zip(feet_idx, t):
                point = {k: ti * v + (1 - ti) * feet[i][k] for k, v in theta.items()}
                risk = risk + F.cross_entropy(functional_call(model, (point, buffers), (x,)), y)
            objective = risk / len(t)
            if cfg.lam:
                sq = sum(sum(((v - feet[i][k]) ** 2).sum() for k, v in theta.items()) for i in feet_idx[:: cfg.B_t])
                objective = objective + cfg.lam * sq / cfg.B_r
            opt.zero_grad(set_to_none=True)
            objective.backward()
            opt.step()
            sched.step()
    return {k: v.detach() for k, v in theta.items()}


def run(ctx: Ctx) -> list[Row]:
    data = ctx.data
    r = 5
    feet = [params_of(FNN()) for _ in range(r)]
    rows = []
    for B_t in ((3,) if ctx.quick else (3, 10)):
        cfg = CenterConfig(epochs=1, lr=0.01, lam=1e-4, B_r=1, B_t=B_t, batch_size=200)
        model = FNN()
        workload = f"FNN, {r} feet, B_r = 1, B_t = {B_t}, 1 epoch of {data.n_train} examples, batch 200"
        small = head(data)
        (t_a, t_b), (c_a, c_b), (ra, rb) = compare(
            [lambda: center_loop(model, feet, data, cfg), lambda: find_center(model, feet, data, cfg, progress=False)[0]],
            ctx.device, ctx.repeats,
            warm=[lambda: center_loop(model, feet, small, cfg), lambda: find_center(model, feet, small, cfg, progress=False)])
        rows.append(Row("center-finding epoch", workload, "loop over the B_r·B_t points",
                        "vmapped points (find_center)", t_a, t_b, f"‖Δθ*‖/‖θ*‖ = {rel_diff(ra, rb):.1e}", c_a, c_b))
    return rows
