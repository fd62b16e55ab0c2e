"""The steps the paper-scale runs spend their time in, and the levers on them (``starconn.levers``):
a training step (a vmapped ensemble of minima), a center-search step (B_r = 1, B_t = 3) and a path
point (BatchNorm statistics recomputed, then loss and accuracy on a split), each timed the default
way and with one lever, with the achieved model FLOP/s (``starconn.flops``) and, on a GPU, the
fraction of the card's dense bf16 peak (MFU).

On CUDA the networks are the paper's: VGG16 (×1, batch 200, bf16 autocast as the ``paper`` profile)
and the FNN 784-500-300-10. On a CPU: VGG16 ×1/32 and the FNN, a code-path check of each lever
(the numbers there say nothing about a GPU). Inputs are random tensors of the datasets' shapes (a
step's time does not depend on the pixel values).

A step's time is the difference between runs of two epochs and of one epoch (or two points and
one), divided by the steps of an epoch: what a long run pays per step, without the set-up of a run.
The first run of each way is untimed (warm-up, compilation); its wall time is kept as
``first_call_s``. "results agree" compares the one-epoch results of the two ways (same seeds,
minibatches and draws).

This module (``--only steps``) times the eager levers; ``bench_compile.py`` (``--only compile``)
uses the same workloads for ``torch.compile`` and CUDA graphs.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

from starconn import flops
from starconn.center import CenterConfig, find_center
from starconn.data import Dataset
from starconn.models import FNN, VGG16
from starconn.paths import Evaluator, bn_subset
from starconn.train import TrainConfig, params_of, train_minima

from _common import Ctx, Row, lever_env, rel_diff, sync

DEFAULT = {"STARCONN_COMPILE": "0", "STARCONN_ADAM": "default", "STARCONN_INFERENCE": "1", "STARCONN_CUDNN_BENCH": "0"}


@dataclass
class Work:
    """One kind of step on one network: ``run(n)`` runs ``n`` epochs of ``steps`` steps (``n`` path
    points for an evaluation) and returns what it computed."""

    network: str
    dataset: str
    width: float
    step: str  # "train", "center" or "eval"
    examples: int  # examples through the network per step (members × batch), or per point
    steps: int  # steps per epoch (1 for an evaluation: the unit is a point)
    run: Callable[[int], object]
    amp: bool = False
    desc: str = ""

    @property
    def flops(self) -> float:
        """Model FLOPs of one step (one point)."""
        return self.examples * flops.per_example(self.network, self.dataset, self.width, train=self.step != "eval")

    def meta(self, lever: dict[str, str]) -> dict:
        """What the GPU plan reads: the step, its examples and the lever (``base``: the levers of the
        straightforward way, {} for the default; a row whose straightforward way is other work says so)."""
        return {"base": {}, "network": self.network, "dataset": self.dataset, "width": self.width, "step": self.step,
                "examples": self.examples, "amp": self.amp, "lever": lever}


@dataclass
class Timing:
    s_per_step: float
    cpu_per_step: float
    first_call_s: float
    result: object


def random_data(device, shape: tuple[int, ...], n: int) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *shape, generator=g).to(device)
    y = torch.randint(10, (n,), generator=g).to(device)
    return Dataset("random", x, y, x[:200], y[:200], "random tensors")


def maker(network: str, width: float, device) -> Callable[[int], torch.nn.Module]:
    def make(seed: int):
        torch.manual_seed(seed)
        return (FNN(width=width) if network == "fnn" else VGG16(width=width)).to(device)
    return make


def training(ctx: Ctx, network: str, width: float, k: int, steps: int, amp: bool) -> Work:
    shape = (1, 28, 28) if network == "fnn" else (3, 32, 32)
    data, make = random_data(ctx.device, shape, 200 * steps), maker(network, width, ctx.device)

    def run(epochs: int):
        cfg = TrainConfig(epochs=epochs, lr=1e-3, batch_size=200, amp=amp)
        return [p for p, _ in train_minima(make, list(range(k)), data, cfg, progress=False)]
    return Work(network, "mnist" if network == "fnn" else "cifar10", width, "train", k * 200, steps, run, amp,
                f"{network.upper()} ×{width:g} training step, ensemble of {k}, batch 200" + (", bf16" if amp else ""))


def center(ctx: Ctx, network: str, width: float, r: int, steps: int, amp: bool) -> Work:
    shape = (1, 28, 28) if network == "fnn" else (3, 32, 32)
    data, make = random_data(ctx.device, shape, 200 * steps), maker(network, width, ctx.device)
    feet = [params_of(make(s)) for s in range(r)]

    def run(epochs: int):
        cfg = CenterConfig(epochs=epochs, lr=0.01, lam=1e-6, B_r=1, B_t=3, batch_size=200, amp=amp)
        return find_center(make(0), feet, data, cfg, progress=False)[0]
    return Work(network, "mnist" if network == "fnn" else "cifar10", width, "center", 3 * 200, steps, run, amp,
                f"{network.upper()} ×{width:g} center step, {r} feet, B_r = 1, B_t = 3, batch 200"
                + (", bf16" if amp else ""))


def evaluation(ctx: Ctx, width: float, n: int, batch: int, bn: int | None = None) -> Work:
    """One VGG16 path point: BatchNorm statistics on ``bn`` (default ``n``) training examples, then
    loss and accuracy on ``n`` examples at ``batch`` per forward pass."""
    data, make = random_data(ctx.device, (3, 32, 32), n), maker("vgg16", width, ctx.device)
    model = make(0)
    a, b = params_of(make(1)), params_of(make(2))
    bn_x = bn_subset(data.train_x, bn or n)

    def run(points: int):
        ev = Evaluator(model, data.train_x, data.train_y, bn_x=bn_x, batch_size=batch)
        ts = torch.linspace(0, 1, points + 1)[1:]
        return ev({k: torch.stack([torch.lerp(a[k], b[k], float(t)) for t in ts]) for k in a})[0]
    return Work("vgg16", "cifar10", width, "eval", len(bn_x) + n, 1, run, False,
                f"VGG16 ×{width:g} path point: BatchNorm statistics on {len(bn_x)}, loss on {n} examples, "
                f"batch {batch}")


_CACHE: dict[tuple, Timing] = {}


def measure(ctx: Ctx, work: Work, env: dict[str, str]) -> Timing:
    """Seconds per step of ``work`` with the lever variables ``env`` (median over repeats of
    (t(2 epochs) − t(1 epoch)) / steps), memoised per workload and levers."""
    key = (id(work), tuple(sorted(env.items())))
    if key in _CACHE:
        return _CACHE[key]
    with lever_env(**{**DEFAULT, **env}):
        sync(ctx.device)
        t0 = time.perf_counter()
        result = work.run(1)
        sync(ctx.device)
        first = time.perf_counter() - t0
        walls, cpus = [], []
        for _ in range(ctx.repeats):
            w, c = [], []
            for n in (1, 2):
                sync(ctx.device)
                t0, c0 = time.perf_counter(), time.process_time()
                work.run(n)
                sync(ctx.device)
                w.append(time.perf_counter() - t0)
                c.append(time.process_time() - c0)
            walls.append((w[1] - w[0]) / work.steps)
            cpus.append((c[1] - c[0]) / work.steps)
    _CACHE[key] = Timing(max(statistics.median(walls), 1e-9), statistics.median(cpus), first, result)
    return _CACHE[key]


def agreement(work: Work, a: object, b: object) -> str:
    """How far the two ways' results are apart. For VGG16 also without the conv biases: BatchNorm
    right after each conv cancels them, so their gradient is rounding noise, which Adam's division
    by √v turns into steps of size lr, different for each implementation (the network computes
    the same function whatever they are)."""
    if work.step == "eval":
        return f"max |Δloss| = {float((a - b).abs().max()):.1e}"
    pairs = list(zip(a, b)) if isinstance(a, list) else [(a, b)]
    out = f"‖Δθ‖/‖θ‖ ≤ {max(rel_diff(x, y) for x, y in pairs):.1e}"
    if work.network == "vgg16":
        first = pairs[0][0]
        keep = [k for k in first if not (k.endswith(".bias") and first[k.replace(".bias", ".weight")].dim() == 4)]
        rest = max(rel_diff({k: x[k] for k in keep}, {k: y[k] for k in keep}) for x, y in pairs)
        out += f" ({rest:.1e} without the conv biases)"
    return out


def short(work: Work) -> str:
    """The row's name: network and step (its time is per step, or per path point)."""
    return work.desc.split(",")[0].split(":")[0] + (" (s per point)" if work.step == "eval" else " (s per step)")


def row(ctx: Ctx, work: Work, lever: dict[str, str], name: str, base: dict[str, str] | None = None,
        straight: str = "eager, default Adam") -> Row:
    """``work`` with the levers ``base`` (default: none) against ``base`` + ``lever``."""
    base = base or {}
    a, b = measure(ctx, work, base), measure(ctx, work, {**base, **lever})
    meta = work.meta(lever) | {"base": base, "first_call_s": b.first_call_s, "base_first_call_s": a.first_call_s}
    return Row(short(work), work.desc, straight, name,
               a.s_per_step, b.s_per_step, agreement(work, a.result, b.result), a.cpu_per_step, b.cpu_per_step,
               work.flops, meta)


def ensemble_row(ctx: Ctx, k: int, width: float, steps: int, amp: bool) -> Row:
    """The vmapped ensemble of k against k single-member trainings, per step of k members."""
    one, many = training(ctx, "vgg16", width, 1, steps, amp), training(ctx, "vgg16", width, k, steps, amp)
    a, b = measure(ctx, one, {}), measure(ctx, many, {})
    meta = many.meta({"ensemble": str(k)}) | {"base": {"ensemble": "1"}}
    return Row(short(many), many.desc, f"{k} single-member steps", f"one vmapped step of {k}", k * a.s_per_step,
               b.s_per_step, "same seeds (train.py checks equality)", k * a.cpu_per_step, b.cpu_per_step,
               many.flops, meta)


def workloads(ctx: Ctx) -> dict[str, Work]:
    cuda = ctx.device.type == "cuda"
    width = 1.0 if cuda else 0.03125
    conv_steps = (10 if ctx.quick else 25) if cuda else (2 if ctx.quick else 5)
    fnn_steps = (30 if ctx.quick else 100) if cuda else (3 if ctx.quick else 20)
    n_eval = 10000 if cuda else 500
    return {
        "vgg16 train": training(ctx, "vgg16", width, 3 if cuda else 2, conv_steps, cuda),
        "vgg16 center": center(ctx, "vgg16", width, 3, conv_steps, cuda),
        "fnn train": training(ctx, "fnn", 1.0, 5, fnn_steps, False),
        "fnn center": center(ctx, "fnn", 1.0, 5, fnn_steps, False),
        "vgg16 eval": evaluation(ctx, width, n_eval, n_eval // 2),
        "vgg16 eval large": evaluation(ctx, width, n_eval, n_eval),
        "vgg16 eval subset": evaluation(ctx, width, n_eval, n_eval, bn=n_eval // 5),
    }


_WORK: dict[int, dict[str, Work]] = {}


def shared_workloads(ctx: Ctx) -> dict[str, Work]:
    """The workloads of this context, built once (bench_compile reuses them and their timings)."""
    if id(ctx) not in _WORK:
        _WORK[id(ctx)] = workloads(ctx)
    return _WORK[id(ctx)]


def run(ctx: Ctx):
    """The rows one by one (a generator: run.py keeps each as it comes)."""
    w = shared_workloads(ctx)
    cuda = ctx.device.type == "cuda"
    yield row(ctx, w["vgg16 train"], {"STARCONN_ADAM": "fused"}, "fused Adam")
    yield row(ctx, w["vgg16 center"], {"STARCONN_ADAM": "fused"}, "fused Adam")
    yield row(ctx, w["vgg16 eval"], {"STARCONN_INFERENCE": "1"}, "inference_mode", base={"STARCONN_INFERENCE": "0"},
              straight="no_grad")
    n = w["vgg16 eval"].examples // 2  # examples of the split (and of the BatchNorm statistics)
    base, large, sub = (measure(ctx, w[k], {}) for k in ("vgg16 eval", "vgg16 eval large", "vgg16 eval subset"))
    yield Row(short(w["vgg16 eval large"]), w["vgg16 eval large"].desc, f"inference_mode, batch {n // 2}",
              f"inference_mode, batch {n} (STARCONN_EVAL_BATCH)", base.s_per_step, large.s_per_step,
              agreement(w["vgg16 eval"], base.result, large.result), base.cpu_per_step, large.cpu_per_step,
              w["vgg16 eval"].flops, w["vgg16 eval large"].meta({"STARCONN_EVAL_BATCH": str(n)}))
    yield Row(short(w["vgg16 eval subset"]), w["vgg16 eval subset"].desc, f"BatchNorm statistics on all {n} examples",
              f"on a fixed subset of {n // 5} (STARCONN_BN_EXAMPLES; changes the numbers)",
              large.s_per_step, sub.s_per_step, agreement(w["vgg16 eval"], large.result, sub.result),
              large.cpu_per_step, sub.cpu_per_step, float("nan"),  # not the same work: no rate
              w["vgg16 eval subset"].meta({"STARCONN_BN_EXAMPLES": str(n // 5)})
              | {"base": {"STARCONN_BN_EXAMPLES": "0"}})  # the straightforward way is other work
    yield row(ctx, w["fnn center"], {"STARCONN_ADAM": "fused"}, "fused Adam")
    yield row(ctx, w["fnn train"], {"STARCONN_ADAM": "fused"}, "fused Adam")
    yield row(ctx, w["vgg16 train"], {"STARCONN_ADAM": "foreach"}, "foreach Adam")
    yield ensemble_row(ctx, 3 if cuda else 2, w["vgg16 train"].width, w["vgg16 train"].steps, cuda)
