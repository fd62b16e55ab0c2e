"""Baselines beside the paper's fold-line: other ways of joining two minima (chapter ``baselines``).

For one pair of minima θ1, θ2 (from the store, shared with the other Part III chapters):

* the straight line θ1 → θ2;
* the straight line θ1 → π(θ2) after *weight matching* (Ainsworth et al. 2023, Git Re-Basin): the
  hidden units of θ2 are permuted, layer by layer with ``scipy.optimize.linear_sum_assignment``,
  to maximise ⟨θ1, π(θ2)⟩, sweeping over the layers until no permutation changes; π(θ2) computes
  the same function as θ2;
* a quadratic Bezier curve θ(t) = (1−t)²θ1 + 2t(1−t)θc + t²θ2 whose control point θc minimises
  E_{t~U[0,1]} L(θ(t)) (Garipov et al. 2018);
* the paper's fold-line θ1 → θ* → θ2 through a center (``starconn.practical.get_center``);
* the fold-line through a *star model* trained from a fresh initialisation on
  E_i E_{t~Beta(a,b)} L((1−t)θi + tθs) (Sonthalia et al. 2024). ``center.find_center`` draws
  t ~ U[0,1] only, so the Bezier curve and the star model share :func:`fit`, a small Adam loop
  over any family of points that depends on free parameters.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.func import functional_call, vmap
from tqdm import tqdm

from . import paths
from .data import Dataset, batches
from .paths import Curve, Params
from .train import TrainingDiverged, _lr_factor, params_of

# ---------------------------------------------------------------------------------------------
# Weight matching


def linear_chain(p: Params) -> list[tuple[str, str | None]]:
    """The (weight, bias) names of a fully connected network's layers, input to output.

    Raises ``ValueError`` unless the 2-D weights form a chain (each layer's input size is the
    previous layer's output size) and every other tensor is one of their biases."""
    weights = [k for k, v in p.items() if k.endswith("weight") and v.dim() == 2]
    layers = [(w, w[: -len("weight")] + "bias" if w[: -len("weight")] + "bias" in p else None) for w in weights]
    known = {n for layer in layers for n in layer if n}
    chained = all(p[a].shape[0] == p[b].shape[1] for (a, _), (b, _) in zip(layers, layers[1:]))
    if len(layers) < 2 or known != set(p) or not chained:
        raise ValueError("weight matching needs a fully connected network (a chain of Linear layers, no other "
                         f"parameters); got parameters {', '.join(f'{k} {tuple(v.shape)}' for k, v in p.items())}")
    return layers


def permute(p: Params, perms: list[torch.Tensor]) -> Params:
    """θ with the hidden units of layer l reordered by ``perms[l]`` (unit i of the result is unit
    ``perms[l][i]`` of θ); the network computes the same function."""
    layers = linear_chain(p)
    if len(perms) != len(layers) - 1:
        raise ValueError(f"perms: need one permutation per hidden layer ({len(layers) - 1}); got {len(perms)}")
    out = dict(p)
    for l, (w, b) in enumerate(layers):
        W = p[w]
        if l < len(perms):
            W = W[perms[l]]
            if b:
                out[b] = p[b][perms[l]]
        if l > 0:
            W = W[:, perms[l - 1]]
        out[w] = W
    return out


def weight_matching(a: Params, b: Params, max_sweeps: int = 100, seed: int = 0) -> tuple[list[torch.Tensor], dict]:
    """Permutations π of θb's hidden units that (locally) maximise ⟨θa, π(θb)⟩, hence minimise
    ‖θa − π(θb)‖ (Git Re-Basin's weight matching). Each step solves one layer's assignment problem
    with the other layers fixed and is kept only if it raises the inner product, so ‖θa − π(θb)‖
    never increases and the sweeps (over the layers in random order) end when none changes."""
    layers = linear_chain(a)
    A = {k: v.detach().double().cpu() for k, v in a.items()}
    B = {k: v.detach().double().cpu() for k, v in b.items()}
    perms = [torch.arange(A[w].shape[0]) for w, _ in layers[:-1]]
    rng = np.random.default_rng(seed)
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for l in rng.permutation(len(perms)):
            (w, bias), (w_next, _) = layers[l], layers[l + 1]
            Wb = B[w] if l == 0 else B[w][:, perms[l - 1]]
            Wn = B[w_next] if l + 1 == len(perms) else B[w_next][perms[l + 1]]
            C = A[w] @ Wb.T + A[w_next].T @ Wn  # C[i, j]: unit i of θa against unit j of θb
            if bias:
                C += torch.outer(A[bias], B[bias])
            _, cols = linear_sum_assignment(C.numpy(), maximize=True)
            rows = torch.arange(len(cols))
            gain = float(C[rows, torch.as_tensor(cols)].sum() - C[rows, perms[l]].sum())
            if gain > 1e-12 * float(C.abs().sum()):
                perms[l], changed = torch.as_tensor(cols), True
        if not changed:
            break
    device = next(iter(b.values())).device
    return [q.to(device) for q in perms], {"sweeps": sweep}


def align(a: Params, b: Params, seed: int = 0) -> tuple[Params, dict]:
    """π(θb), θb with its hidden units permuted to match θa; ``info`` has the sweeps and wall time."""
    t0 = time.time()
    perms, info = weight_matching(a, b, seed=seed)
    return permute(b, perms), {**info, "wall_s": time.time() - t0, "grad_evals": 0}


# ---------------------------------------------------------------------------------------------
# Bezier curve


def bezier(a: Params, c: Params, b: Params, ts: torch.Tensor) -> Params:
    """Stacked points (1−t)²θa + 2t(1−t)θc + t²θb for each t in ``ts``."""
    out = {}
    for k in a:
        t = ts.to(a[k]).reshape(-1, *([1] * a[k].dim()))
        out[k] = (1 - t) ** 2 * a[k] + 2 * t * (1 - t) * c[k] + t ** 2 * b[k]
    return out


def bezier_length(a: Params, c: Params, b: Params, n: int = 10001) -> float:
    """Length ∫₀¹ ‖θ'(t)‖ dt of the Bezier curve, by the trapezoid rule on ``n`` points.

    θ'(t) = 2(u + tv) with u = θc − θa, v = θa − 2θc + θb, so ‖θ'(t)‖² is a quadratic in t whose
    three coefficients are inner products of the parameters."""
    u = paths.flat(c).double() - paths.flat(a).double()
    v = paths.flat(a).double() - 2 * paths.flat(c).double() + paths.flat(b).double()
    uu, uv, vv = float(u @ u), float(u @ v), float(v @ v)
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    speed = 2 * torch.sqrt((uu + 2 * t * uv + t ** 2 * vv).clamp_min(0))
    return float(torch.trapezoid(speed, t))


# ---------------------------------------------------------------------------------------------
# Training a family of points: the Bezier control point, the star model


def fit(
    model: nn.Module,
    data: Dataset,
    free: Params,
    points: Callable[[Params, np.random.Generator], Params],
    epochs: int,
    lr: float,
    batch_size: int = 200,
    schedule: str = "cosine",
    seed: int = 0,
    desc: str = "fit",
    progress: bool = True,
    loss_fn: Callable = F.cross_entropy,
) -> tuple[Params, dict]:
    """Adam on the free parameters φ of a family of networks: each step ``points(φ, rng)`` returns
    stacked networks (drawn at random, differentiable in φ) and the step lowers their mean loss on
    one minibatch. ``info``: per-epoch mean objective, gradient evaluations (one network's
    forward/backward on one minibatch) and wall seconds."""
    t0 = time.time()
    device = data.train_x.device
    phi = {k: v.detach().to(device).clone().requires_grad_(True) for k, v in free.items()}
    buffers = {k: v.to(device) for k, v in model.named_buffers()}
    model.to(device).train()
    loss_of = vmap(lambda p, x, y: loss_fn(functional_call(model, (p, buffers), (x,)), y),
                   in_dims=(0, None, None), randomness="different")
    opt = torch.optim.Adam(list(phi.values()), lr=lr)
    steps = math.ceil(data.n_train / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_factor(schedule, epochs * steps))
    gen, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    history, grad_evals = [], 0
    bar = tqdm(range(epochs), desc=desc, disable=not progress, file=sys.stderr, mininterval=1)
    for epoch in bar:
        total = torch.zeros((), device=device)
        for idx in batches(data.n_train, batch_size, gen, device):
            pts = points(phi, rng)
            loss = loss_of(pts, data.train_x[idx], data.train_y[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * len(idx)
            grad_evals += next(iter(pts.values())).shape[0]
        history.append(float(total) / data.n_train)
        if not math.isfinite(history[-1]):
            raise TrainingDiverged(f"{desc} diverged (objective {history[-1]}) in epoch {epoch + 1}")
        bar.set_postfix(loss=f"{history[-1]:.3e}")
    bar.close()
    return {k: v.detach() for k, v in phi.items()}, {"objective": history, "grad_evals": grad_evals,
                                                     "wall_s": time.time() - t0}


def fit_bezier(model: nn.Module, a: Params, b: Params, data: Dataset, epochs: int, lr: float, n_t: int = 1,
               **kw) -> tuple[Params, dict]:
    """The control point θc of a Bezier curve θa → θb minimising E_{t~U[0,1]} L(θ(t)) (Garipov et
    al. 2018), ``n_t`` values of t per minibatch, starting from the midpoint (the straight line)."""
    mid = {k: (a[k] + b[k]) / 2 for k in a}
    dev = data.train_x.device
    return fit(model, data, mid, lambda c, rng: bezier(a, c, b, torch.from_numpy(rng.random(n_t)).to(dev)),
               epochs, lr, desc="bezier", **kw)


def fit_star(model: nn.Module, feet: list[Params], init: Params, data: Dataset, epochs: int, lr: float,
             beta: tuple[float, float] = (2.0, 2.0), B_r: int = 1, B_t: int = 3, **kw) -> tuple[Params, dict]:
    """A star model θs minimising E_i E_{t~Beta(a,b)} L((1−t)θi + tθs) over the feet θi (Sonthalia
    et al. 2024): each step draws ``B_r`` feet and ``B_t`` values of t for each (t = 1 is θs)."""
    if len(beta) != 2 or not all(v > 0 for v in beta):
        raise ValueError(f"star_beta: need two Beta parameters (a, b), both > 0; got {list(beta)}")
    a, b = beta
    dev = data.train_x.device
    stacked = {k: torch.stack([f[k] for f in feet]).to(dev) for k in feet[0]}

    def points(theta, rng):
        idx = torch.from_numpy(rng.integers(len(feet), size=B_r)).repeat_interleave(B_t).to(dev)
        t = torch.from_numpy(rng.beta(a, b, size=B_r * B_t)).to(dev)
        return {k: torch.lerp(stacked[k][idx], v.unsqueeze(0), t.to(v).reshape(-1, *([1] * v.dim())))
                for k, v in theta.items()}

    return fit(model, data, init, points, epochs, lr, desc="star (Beta t)", **kw)


# ---------------------------------------------------------------------------------------------
# Measuring a path


def endpoint_corrected(curve: Curve) -> tuple[float, float]:
    """The barrier of Frankle et al. 2020 / Entezari et al. 2022: max over the path of
    L(θ(t)) − ((1−t)L(θ1) + tL(θ2)), and for accuracy max of ((1−t)A(θ1) + tA(θ2)) − A(θ(t)),
    with t the path position rescaled to [0, 1]."""
    s0, s1 = curve.s[0], curve.s[-1]
    t = [(s - s0) / (s1 - s0) for s in curve.s]
    lo = max(c - ((1 - u) * curve.loss[0] + u * curve.loss[-1]) for u, c in zip(t, curve.loss))
    ac = max((1 - u) * curve.acc[0] + u * curve.acc[-1] - c for u, c in zip(t, curve.acc))
    return lo, ac


@dataclass
class Path:
    """One way of joining θ1 and θ2: its curves on both splits, its length and what it cost."""

    name: str
    train: Curve
    test: Curve
    length: float  # relative to ‖θ1 − θ2‖
    grad_evals: int | None  # beyond the two minima; None: not known (loaded from the store without it)
    wall_s: float | None

    def metrics(self) -> dict:
        out = {"length": self.length, "grad_evals": self.grad_evals, "wall_s": self.wall_s}
        for split, cur in (("train", self.train), ("test", self.test)):
            lo, ac = endpoint_corrected(cur)
            out.update({f"{split}_loss_barrier": cur.loss_barrier, f"{split}_acc_barrier": cur.acc_barrier,
                        f"{split}_loss_barrier_ec": lo, f"{split}_acc_barrier_ec": ac})
        return out


def curves(evs: dict[str, paths.Evaluator], segments: list[tuple[Params, Params]], n: int) -> dict[str, Curve]:
    """Curves of a polygonal path (one segment, or a fold-line a → c ← b given as [(a, c), (b, c)])."""
    out = {}
    for split, ev in evs.items():
        segs = [paths.linear_curve(ev, p, q, n) for p, q in segments]
        out[split] = segs[0] if len(segs) == 1 else paths.fold_curve(*segs)
    return out


def bezier_curves(evs: dict[str, paths.Evaluator], a: Params, c: Params, b: Params, n: int) -> dict[str, Curve]:
    t = paths.ts(n)
    out = {}
    for split, ev in evs.items():
        loss, acc = ev(bezier(a, c, b, t))
        out[split] = Curve(t.tolist(), loss.tolist(), acc.tolist())
    return out


# ---------------------------------------------------------------------------------------------
# The chapter: five paths between the same two minima

NAMES = {"linear": "straight line θ1 → θ2", "aligned": "straight line θ1 → π(θ2), weight matching",
         "bezier": "quadratic Bezier curve, trained", "fold": "fold-line θ1 → θ* → θ2 (paper's center)",
         "beta_star": "fold-line θ1 → θs → θ2 (Beta-t star model)"}


@dataclass
class Comparison:
    minima: list[tuple[Params, dict]]
    distance: float  # ‖θ1 − θ2‖
    minima_grad_evals: int  # both minima together
    minima_wall_s: float | None
    paths: dict[str, Path]
    extra: dict  # the trained points: center, control point, star model, and their info

    def metrics(self) -> dict:
        out = {"distance": self.distance, "minima_grad_evals": self.minima_grad_evals,
               "minima_wall_s": self.minima_wall_s,
               "train_acc": [m[1]["train_acc"] for m in self.minima], "test_acc": [m[1]["test_acc"] for m in self.minima],
               "align_sweeps": self.extra["align_info"]["sweeps"]}
        for name, p in self.paths.items():
            out.update({f"{name}_{k}": v for k, v in p.metrics().items()})
        return out


def _entries(store, kind: str) -> int:
    return len(list((store.root / kind).glob("*.json")))


def _timed(s, kind: str, get):
    """``get()``, its wall time when it computed a new store entry of ``kind`` (else None)."""
    n, t0 = _entries(s.store, kind), time.time()
    out = get()
    return out, (time.time() - t0 if _entries(s.store, kind) > n else None)


def compare(s, progress: bool = True) -> Comparison:
    """The chapter's one computation for a ``starconn.practical.Setup``: minima seeds ``seed`` and
    ``seed + 1`` (store), the five paths between them, each on the training and the test set."""
    from . import practical
    from .store import key

    c = s.cfg
    seeds = [c.seed, c.seed + 1]
    minima, minima_wall = _timed(s, "minimum", lambda: practical.get_minima(s, seeds))
    (a, _), (b, _) = minima
    feet_keys = [key(practical.minimum_key(s, sd)) for sd in seeds]
    d = paths.distance(a, b)
    steps = math.ceil(s.data.n_train / c.batch_size)
    minima_evals = sum(info["epochs"] for _, info in minima) * steps
    if any("wall_s" in info for _, info in minima):
        minima_wall = sum(info.get("wall_s", math.nan) for _, info in minima)

    evs = {"train": s.evaluator("train"), "test": s.evaluator("test")}
    n = c.n_points
    out: dict[str, Path] = {}
    bar = tqdm(total=len(NAMES), desc="paths evaluated", disable=not progress, file=sys.stderr)
    cur = curves(evs, [(a, b)], n)
    bar.update()
    out["linear"] = Path("linear", cur["train"], cur["test"], 1.0, 0, 0.0)

    b_al, al_info = align(a, b, seed=c.seed)
    cur = curves(evs, [(a, b_al)], n)
    out["aligned"] = Path("aligned", cur["train"], cur["test"], paths.distance(a, b_al) / d, 0, al_info["wall_s"])
    bar.update()

    bz_cfg = {"feet": feet_keys, "epochs": c.bezier_epochs, "lr": c.bezier_lr, "n_t": c.B_t,
              "batch_size": c.batch_size, "schedule": c.center_schedule, "seed": c.seed}

    def make_bezier():
        ctrl, info = fit_bezier(s.make_model(0), a, b, s.data, c.bezier_epochs, c.bezier_lr, n_t=c.B_t,
                                batch_size=c.batch_size, schedule=c.center_schedule, seed=c.seed, progress=progress)
        return ctrl, info

    ctrl, bz_info = s.store.get_or_compute("bezier", bz_cfg, make_bezier, s.device)
    cur = bezier_curves(evs, a, ctrl, b, n)
    out["bezier"] = Path("bezier", cur["train"], cur["test"], bezier_length(a, ctrl, b) / d,
                         bz_info["grad_evals"], bz_info["wall_s"])
    bar.update()

    (center, c_info), c_wall = _timed(s, "center", lambda: practical.get_center(
        s, [a, b], [practical.minimum_key(s, sd) for sd in seeds], c.lam))
    c_wall = c_info.get("wall_s", c_wall)
    cur = curves(evs, [(a, center), (b, center)], n)
    out["fold"] = Path("fold", cur["train"], cur["test"], paths.ngd_bound(a, center, b),
                       c.center_epochs * steps * c.B_r * c.B_t, c_wall)
    bar.update()

    st_cfg = {"feet": feet_keys, "epochs": c.star_epochs, "lr": c.star_lr, "beta": list(c.star_beta),
              "B_r": c.B_r, "B_t": c.B_t, "batch_size": c.batch_size, "schedule": c.center_schedule,
              "init": "fresh", "seed": c.seed}

    def make_star():
        init = params_of(s.make_model(c.seed + 20_000))
        return fit_star(s.make_model(0), [a, b], init, s.data, c.star_epochs, c.star_lr, tuple(c.star_beta),
                        B_r=c.B_r, B_t=c.B_t, batch_size=c.batch_size, schedule=c.center_schedule, seed=c.seed,
                        progress=progress)

    star_model, st_info = s.store.get_or_compute("star-model", st_cfg, make_star, s.device)
    cur = curves(evs, [(a, star_model), (b, star_model)], n)
    out["beta_star"] = Path("beta_star", cur["train"], cur["test"], paths.ngd_bound(a, star_model, b),
                            st_info["grad_evals"], st_info["wall_s"])
    bar.update()
    bar.close()
    extra = {"aligned": b_al, "align_info": al_info, "control": ctrl, "bezier_info": bz_info, "center": center,
             "center_info": c_info, "star": star_model, "star_info": st_info}
    return Comparison(minima, d, minima_evals, minima_wall, out, extra)


def _f(v, fmt: str) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def barrier_table(cmp: Comparison) -> str:
    """Barriers of every path on both splits: the paper's (max loss / min accuracy along the path)
    and the endpoint-corrected one (EC: largest excess over the line between the endpoints' values)."""
    head = ("| path | train: max loss | train: min acc (%) | test: max loss | test: min acc (%) "
            "| train EC loss | train EC acc (pp) | test EC loss | test EC acc (pp) |")
    rows = [head, "|---|" + "---|" * 8]
    for name, p in cmp.paths.items():
        m = p.metrics()
        rows.append(f"| {NAMES[name]} | {m['train_loss_barrier']:.3g} | {m['train_acc_barrier']:.2f} | "
                    f"{m['test_loss_barrier']:.3g} | {m['test_acc_barrier']:.2f} | {m['train_loss_barrier_ec']:.3g} | "
                    f"{m['train_acc_barrier_ec']:.2f} | {m['test_loss_barrier_ec']:.3g} | {m['test_acc_barrier_ec']:.2f} |")
    return "\n".join(rows)


def cost_table(cmp: Comparison) -> str:
    """Path length relative to ‖θ1 − θ2‖ and the compute each path costs beyond the two minima."""
    rows = ["| path | length / ‖θ1−θ2‖ | gradient evaluations | wall (s) |", "|---|---|---|---|"]
    for name, p in cmp.paths.items():
        rows.append(f"| {NAMES[name]} | {p.length:.4f} | {p.grad_evals:,} | {_f(p.wall_s, '.1f')} |")
    rows.append(f"| *the two minima (shared by all)* | — | {cmp.minima_grad_evals:,} | {_f(cmp.minima_wall_s, '.1f')} |")
    return "\n".join(rows)


def figure(cmp: Comparison, title: str = ""):
    """Loss (log scale) and accuracy along every path on the training and the test set; the
    position is normalised to [0, 1] (fold-lines: the center / star model at 0.5)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, constrained_layout=True)
    for col, split in enumerate(("train", "test")):
        for i, (name, p) in enumerate(cmp.paths.items()):
            cur = getattr(p, split)
            x = [(s - cur.s[0]) / (cur.s[-1] - cur.s[0]) for s in cur.s]
            axes[0, col].plot(x, cur.loss, "o-", ms=3, color=f"C{i}", label=NAMES[name])
            axes[1, col].plot(x, cur.acc, "o-", ms=3, color=f"C{i}")
        axes[0, col].set(yscale="log", ylabel=f"{split} loss (cross-entropy)", title=f"{split} set")
        axes[1, col].set(xlabel="position along the path (fold-lines: center at 0.5)", ylabel=f"{split} accuracy (%)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=8, ncol=3, loc="outside lower center")
    if title:
        fig.suptitle(title)
    return fig
