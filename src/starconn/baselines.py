"""Baselines beside the paper's fold-line: other ways of joining two minima (chapter ``baselines``).

For one pair of minima θ1, θ2 (from the store, shared with the other Part III chapters):

* the straight line θ1 → θ2;
* the straight line θ1 → π(θ2) after *weight matching* (Ainsworth et al. 2023, Git Re-Basin;
  ``starconn.matching``): the hidden units of θ2 are permuted, layer by layer with
  ``scipy.optimize.linear_sum_assignment``, to maximise ⟨θ1, π(θ2)⟩, sweeping over the layers
  until no permutation changes; π(θ2) computes the same function as θ2. Fully connected networks
  and chains of Conv + BatchNorm layers (VGG16) share one algorithm; residual networks are refused;
* for fully connected networks, the same line repaired (REPAIR, Jordan et al. 2022;
  ``starconn.repair``): every point θ(t) of θ1 → π(θ2) with each hidden unit's pre-activation mean
  and deviation renormalised to the interpolation of θ1's and π(θ2)'s. The repaired networks are not
  on the segment; the row's length is that of the polygon through them. BatchNorm networks already
  recompute their statistics at every point ("RESET" in Jordan et al.), so they get no REPAIR row;
* a quadratic Bezier curve θ(t) = (1−t)²θ1 + 2t(1−t)θc + t²θ2 whose control point θc minimises
  E_{t~U[0,1]} L(θ(t)) (Garipov et al. 2018);
* the paper's fold-line θ1 → θ* → θ2 through a center (``starconn.practical.get_center``);
* the fold-line through a *star model* trained from a fresh initialisation on
  E_i E_{t~Beta(a,b)} L((1−t)θi + tθs) (Sonthalia et al. 2024). ``center.find_center`` draws
  t ~ U[0,1] only, so the Bezier curve and the star model share :class:`PointsFit`, the engine's
  problem of training any family of points that depends on free parameters (with the center
  search's schedule, bf16 autocast, checkpoints and divergence report: ``starconn.engine``).

Networks with BatchNorm have their statistics recomputed on the training set at every evaluated
point of every path (``paths.Evaluator``); the stored minima are parameter dicts without buffers.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap
from tqdm import tqdm

from . import paths, practical, repair
from .data import Dataset, batches
from .engine import Problem, Step, digest, network_loss, optimise
from .matching import align, permutation_spec
from .paths import Curve, Params
from .store import Checkpoint, key
from .train import params_of

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


@dataclass(frozen=True)
class FitConfig:
    """How the free parameters of a family of points are trained (Adam, by ``engine.optimise``)."""

    epochs: int
    lr: float
    batch_size: int = 200
    schedule: str = "cosine"
    seed: int = 0  # the minibatch order and every step's draws
    amp: bool = False  # bf16 autocast (CUDA only)

    def as_dict(self) -> dict:
        return asdict(self)


class PointsFit(Problem):
    """Adam on the free parameters φ of a family of networks: each step ``points(φ, rng)`` returns
    stacked networks (drawn with the numpy generator ``rng``, differentiable in φ) and its loss is
    their mean loss on one minibatch. ``draws`` (JSON) says how the family is drawn and ``fixed``
    holds the tensors it depends on; a checkpoint must match both. Records the epoch-mean objective
    and the gradient evaluations (one network's forward/backward on one minibatch)."""

    def __init__(self, what: str, desc: str, model: nn.Module, data: Dataset, start: Params,
                 points: Callable[[Params, np.random.Generator], Params], cfg: FitConfig, draws: dict,
                 fixed: list[Params], loss_fn: Callable = F.cross_entropy):
        self.what, self.desc, self.activity = what, desc, f"training the {desc}"
        self.data, self.start, self.points, self.cfg, self.draws, self.fixed = data, start, points, cfg, draws, fixed
        self.seeds = [cfg.seed]
        device = data.train_x.device
        buffers = {k: v.to(device) for k, v in model.named_buffers()}
        model.to(device).train()
        net = network_loss(model, loss_fn, cfg.amp, device)
        self.loss_of = vmap(lambda p, x, y: net(p, buffers, x, y), in_dims=(0, None, None), randomness="different")
        self.gen, self.rng = torch.Generator().manual_seed(cfg.seed), np.random.default_rng(cfg.seed)
        self.history: list[float] = []
        self.grad_evals = 0

    def init(self) -> Params:
        return self.start

    def identity(self) -> dict:
        return {"draws": self.draws, "n_train": self.data.n_train, "fixed": digest(self.fixed)}

    def generators(self) -> dict:
        return {"batches": self.gen, "draws": self.rng}

    def batches(self):
        return batches(self.data.n_train, self.cfg.batch_size, self.gen, self.data.train_x.device)

    def loss(self, phi: Params, idx: torch.Tensor) -> Step:
        pts = self.points(phi, self.rng)
        self.grad_evals += next(iter(pts.values())).shape[0]
        return Step(self.loss_of(pts, self.data.train_x[idx], self.data.train_y[idx]).mean().reshape(1), len(idx))

    def end_epoch(self, epoch: int, phi: Params, totals: dict[str, torch.Tensor]) -> bool:
        self.history.append(float(totals["loss"]) / self.data.n_train)
        return False

    def postfix(self) -> dict:
        return {"loss": f"{self.history[-1]:.3e}"}

    def state(self) -> tuple[Params, dict]:
        return {}, {"objective": self.history, "grad_evals": self.grad_evals}

    def restore(self, tensors: Params, meta: dict) -> None:
        self.history, self.grad_evals = list(meta["objective"]), int(meta["grad_evals"])

    def result(self, phi: Params, wall_s: float) -> tuple[Params, dict]:
        return phi, {"objective": self.history, "grad_evals": self.grad_evals, "wall_s": wall_s}


def fit_bezier(model: nn.Module, a: Params, b: Params, data: Dataset, epochs: int, lr: float, n_t: int = 1,
               batch_size: int = 200, schedule: str = "cosine", seed: int = 0, amp: bool = False,
               progress: bool = True, loss_fn: Callable = F.cross_entropy,
               checkpoint: Checkpoint | None = None) -> tuple[Params, dict]:
    """The control point θc of a Bezier curve θa → θb minimising E_{t~U[0,1]} L(θ(t)) (Garipov et
    al. 2018), ``n_t`` values of t per minibatch, starting from the midpoint (the straight line).
    ``info``: per-epoch mean objective, gradient evaluations and wall seconds (including runs
    before a resume from ``checkpoint``)."""
    mid = {k: (a[k] + b[k]) / 2 for k in a}
    dev = data.train_x.device
    cfg = FitConfig(epochs, lr, batch_size, schedule, seed, amp)
    problem = PointsFit("bezier", "Bezier control point", model, data, mid,
                        lambda c, rng: bezier(a, c, b, torch.from_numpy(rng.random(n_t)).to(dev)),
                        cfg, {"curve": "quadratic Bezier", "n_t": n_t}, [a, b], loss_fn)
    return optimise(problem, progress, checkpoint)


def fit_star(model: nn.Module, feet: list[Params], init: Params, data: Dataset, epochs: int, lr: float,
             beta: tuple[float, float] = (2.0, 2.0), B_r: int = 1, B_t: int = 3, batch_size: int = 200,
             schedule: str = "cosine", seed: int = 0, amp: bool = False, progress: bool = True,
             loss_fn: Callable = F.cross_entropy, checkpoint: Checkpoint | None = None) -> tuple[Params, dict]:
    """A star model θs minimising E_i E_{t~Beta(a,b)} L((1−t)θi + tθs) over the feet θi (Sonthalia
    et al. 2024): each step draws ``B_r`` feet and ``B_t`` values of t for each (t = 1 is θs).
    ``info`` as :func:`fit_bezier`'s."""
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

    cfg = FitConfig(epochs, lr, batch_size, schedule, seed, amp)
    problem = PointsFit("star", "star model (Beta t)", model, data, init, points, cfg,
                        {"beta": [a, b], "B_r": B_r, "B_t": B_t}, feet, loss_fn)
    return optimise(problem, progress, checkpoint)


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


def stacked_curves(evs: dict[str, paths.Evaluator], points: Params, t: torch.Tensor) -> dict[str, Curve]:
    """Curves of a path given as stacked networks ``points`` at positions ``t``."""
    out = {}
    for split, ev in evs.items():
        loss, acc = ev(points)
        out[split] = Curve(t.tolist(), loss.tolist(), acc.tolist())
    return out


def bezier_curves(evs: dict[str, paths.Evaluator], a: Params, c: Params, b: Params, n: int) -> dict[str, Curve]:
    t = paths.ts(n)
    return stacked_curves(evs, bezier(a, c, b, t), t)


def repaired_line(model: nn.Module, evs: dict[str, paths.Evaluator], a: Params, b: Params, x: torch.Tensor,
                  n: int) -> tuple[dict[str, Curve], float, float]:
    """The REPAIR path θ1 → π(θ2) (``repair.repaired_segment`` at ``n`` points, statistics on ``x``):
    its curves, the length of the polygon through its points (a lower bound on the repaired curve's
    length; the points are not on the segment) and the wall seconds REPAIR took (statistics and
    corrections, not the evaluation)."""
    t = paths.ts(n)
    t0 = time.time()
    pts = repair.repaired_segment(model, a, b, t, x)
    wall = time.time() - t0
    polygon = paths.path_length([{k: v[i] for k, v in pts.items()} for i in range(n)])
    return stacked_curves(evs, pts, t), polygon, wall


# ---------------------------------------------------------------------------------------------
# The chapter: the paths between the same two minima (six for the FNN, five for VGG16)

NAMES = {"linear": "straight line θ1 → θ2", "aligned": "straight line θ1 → π(θ2), weight matching",
         "repair": "θ1 → π(θ2), weight matching + REPAIR",
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
    ``seed + 1`` (store), the paths between them (:data:`NAMES`; REPAIR for networks without BatchNorm only),
    each on the training and the test set.
    Networks with BatchNorm (VGG16) get their statistics recomputed on the training set at every
    evaluated point of every path (``Setup.evaluator``, ``paths.Evaluator``). Raises ``ValueError``
    for networks weight matching does not handle (ResNets). The Bezier control point and the star
    model are stored (keyed by the feet, their training configuration and the data's identity)
    and checkpointed while they train, like the center."""
    c = s.cfg
    try:  # before any training: is the network a chain weight matching handles?
        spec = permutation_spec(s.make_model(0), name=f"setting {c.setting!r} (network {s.model_name})")
    except ValueError as err:
        raise ValueError(f"setting: {err}") from err
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

    b_al, al_info = align(a, b, seed=c.seed, spec=spec)
    cur = curves(evs, [(a, b_al)], n)
    out["aligned"] = Path("aligned", cur["train"], cur["test"], paths.distance(a, b_al) / d, 0, al_info["wall_s"])
    bar.update()

    if not paths.has_batchnorm(s.make_model(0)):  # BatchNorm nets: statistics recomputed at every point already
        cur, polygon, wall = repaired_line(s.make_model(0), evs, a, b_al, s.data.train_x[: c.repair_examples], n)
        out["repair"] = Path("repair", cur["train"], cur["test"], polygon / d, 0, al_info["wall_s"] + wall)
    bar.update()

    fit_kw = dict(batch_size=c.batch_size, schedule=c.center_schedule, seed=c.seed, amp=c.amp, progress=progress)
    bz_cfg = {"feet": feet_keys, "epochs": c.bezier_epochs, "lr": c.bezier_lr, "n_t": c.B_t,
              "batch_size": c.batch_size, "schedule": c.center_schedule, "seed": c.seed, "amp": c.amp,
              "data": s.data.identity}

    def make_bezier(ck: Checkpoint):
        return fit_bezier(s.make_model(0), a, b, s.data, c.bezier_epochs, c.bezier_lr, n_t=c.B_t, checkpoint=ck,
                          **fit_kw)

    ctrl, bz_info = s.store.get_or_compute("bezier", bz_cfg, make_bezier, s.device, checkpointed=True)
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
              "init": "fresh", "seed": c.seed, "amp": c.amp, "data": s.data.identity}

    def make_star(ck: Checkpoint):
        init = params_of(s.make_model(c.seed + 20_000))
        return fit_star(s.make_model(0), [a, b], init, s.data, c.star_epochs, c.star_lr, tuple(c.star_beta),
                        B_r=c.B_r, B_t=c.B_t, checkpoint=ck, **fit_kw)

    star_model, st_info = s.store.get_or_compute("star-model", st_cfg, make_star, s.device, checkpointed=True)
    cur = curves(evs, [(a, star_model), (b, star_model)], n)
    out["beta_star"] = Path("beta_star", cur["train"], cur["test"], paths.ngd_bound(a, star_model, b),
                            st_info["grad_evals"], st_info["wall_s"])
    bar.update()
    bar.close()
    extra = {"aligned": b_al, "align_info": al_info, "control": ctrl, "bezier_info": bz_info, "center": center,
             "center_info": c_info, "star": star_model, "star_info": st_info}
    return Comparison(minima, d, minima_evals, minima_wall, out, extra)


def batchnorm_note(s, cmp: Comparison) -> str:
    """How the run treated BatchNorm: for networks that have it, the number of path positions whose
    statistics were recomputed on the training set (every position of every path, both splits)."""
    per_split = sum(len(p.train.s) for p in cmp.paths.values())
    if not paths.has_batchnorm(s.make_model(0)):
        return (f"Network `{s.model_name}` has no BatchNorm: the {per_split} positions along the paths are evaluated as they "
                "are (along the REPAIR path: the repaired networks).")
    return (f"Network `{s.model_name}` has BatchNorm: at every one of the {per_split} positions along the {len(cmp.paths)} paths "
            f"(for each split), its statistics were recomputed on the {s.data.n_train} training examples before the "
            "loss and accuracy were measured.")


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


def repair_note(cmp: Comparison) -> str:
    """What REPAIR did to the aligned line in this run (or why there is no REPAIR row)."""
    if "repair" not in cmp.paths:
        return ("No REPAIR row: this network has BatchNorm, whose statistics are recomputed at every point of every "
                "path (what Jordan et al. call RESET), so the aligned line is already the renormalised one.")
    m = cmp.metrics()
    return (f"REPAIR on the aligned line: training-loss barrier {m['repair_train_loss_barrier']:.3g} against "
            f"{m['aligned_train_loss_barrier']:.3g} without it (lowest training accuracy "
            f"{m['repair_train_acc_barrier']:.2f} % against {m['aligned_train_acc_barrier']:.2f} %; test "
            f"{m['repair_test_acc_barrier']:.2f} % against {m['aligned_test_acc_barrier']:.2f} %). The repaired networks "
            f"leave the segment: the polygon through them is {m['repair_length']:.4f} ‖θ1 − θ2‖ long, the aligned "
            f"segment {m['aligned_length']:.4f}.")


def figure(cmp: Comparison, title: str = ""):
    """Loss (log scale) and accuracy along every path on the training and the test set; the
    position is normalised to [0, 1] (fold-lines: the center / star model at 0.5)."""
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


def check_claims(cmp: Comparison, setting: str, profile: str) -> str:
    """The chapter's checks. At every profile: every path starts at θ1 and ends at θ2 (the aligned
    line at π(θ2), which has θ2's loss: weight matching kept the function, BatchNorm statistics
    recomputed), and weight matching did not move π(θ2) away from θ1. From ``cpu`` up (minima
    trained to convergence): the trained paths (Bezier curve, fold-line through the center and
    through the star model, and for the FNN the aligned line) have a lower training-loss barrier
    than the straight line, and for the FNN REPAIR lowers the aligned line's (Jordan et al. 2022).
    Raises ``AssertionError`` naming what failed; returns what was checked and which paths lowered
    the barrier."""
    linear = cmp.paths["linear"].train
    L1, L2 = linear.loss[0], linear.loss[-1]
    for name, p in cmp.paths.items():
        cur = p.train
        if abs(cur.loss[0] - L1) > 1e-5 * max(1.0, L1):
            raise AssertionError(f"path {name!r} does not start at θ1: loss {cur.loss[0]:.6g}, θ1's {L1:.6g}")
        if abs(cur.loss[-1] - L2) > 1e-4 * max(1.0, L2):
            raise AssertionError(f"path {name!r} does not end at θ2 (or a permutation of it): loss {cur.loss[-1]:.6g}, "
                                 f"θ2's {L2:.6g}")
    if cmp.paths["aligned"].length > 1 + 1e-9:
        raise AssertionError(f"weight matching moved π(θ2) away from θ1: relative distance {cmp.paths['aligned'].length:.6g}")
    barrier = {name: p.train.loss_barrier for name, p in cmp.paths.items()}
    lower = [n for n in barrier if n != "linear" and barrier[n] < barrier["linear"]]
    checked = "paths start at θ1 and end at θ2; weight matching shortened the line"
    if profile != "smoke":
        claimed = ("bezier", "fold", "beta_star") + (("aligned",) if setting == "fnn-mnist" else ())
        for name in claimed:
            if name not in lower:
                raise AssertionError(f"the {NAMES[name]} does not lower the training-loss barrier: "
                                     f"{barrier[name]:.4g} against the straight line's {barrier['linear']:.4g}")
        checked += "; lower training-loss barriers than the straight line for: " + ", ".join(claimed)
        if setting == "fnn-mnist":
            if "repair" not in barrier:
                raise AssertionError("the FNN has no REPAIR path")
            if not barrier["repair"] < barrier["aligned"]:
                raise AssertionError(f"REPAIR does not lower the aligned line's training-loss barrier: {barrier['repair']:.4g} "
                                     f"against {barrier['aligned']:.4g} without it")
            checked += "; REPAIR lowers the aligned line's barrier"
    return f"asserted: {checked} (training-loss barrier below the straight line's: {', '.join(lower) or 'none'})"
