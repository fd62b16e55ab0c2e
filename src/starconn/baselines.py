"""Baselines beside the paper's fold-line: other ways of joining two minima (chapter ``baselines``).

For one pair of minima θ1, θ2 (from the store, shared with the other Part III chapters):

* the straight line θ1 → θ2;
* the straight line θ1 → π(θ2) after *weight matching* (Ainsworth et al. 2023, Git Re-Basin): the
  hidden units of θ2 are permuted, layer by layer with ``scipy.optimize.linear_sum_assignment``,
  to maximise ⟨θ1, π(θ2)⟩, sweeping over the layers until no permutation changes; π(θ2) computes
  the same function as θ2. Fully connected networks and chains of Conv + BatchNorm layers (VGG16)
  share one algorithm (:func:`permutation_spec`); residual networks are refused;
* a quadratic Bezier curve θ(t) = (1−t)²θ1 + 2t(1−t)θc + t²θ2 whose control point θc minimises
  E_{t~U[0,1]} L(θ(t)) (Garipov et al. 2018);
* the paper's fold-line θ1 → θ* → θ2 through a center (``starconn.practical.get_center``);
* the fold-line through a *star model* trained from a fresh initialisation on
  E_i E_{t~Beta(a,b)} L((1−t)θi + tθs) (Sonthalia et al. 2024). ``center.find_center`` draws
  t ~ U[0,1] only, so the Bezier curve and the star model share :func:`fit`, a small Adam loop
  over any family of points that depends on free parameters.

Networks with BatchNorm have their statistics recomputed on the training set at every evaluated
point of every path (``paths.Evaluator``); the stored minima are parameter dicts without buffers.
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
#
# A permutation specification says which axes of which tensors each permutation of hidden units
# acts on (as in Git Re-Basin's ``PermutationSpec``). It is derived from the parameters of a
# *chain* of layers — Linear or Conv layers, each with its bias and an optional per-channel
# normalisation (BatchNorm) after it, each layer reading the previous layer's output — so the
# fully connected network and VGG16 share one algorithm: permutation l reorders the output units
# (channels) of layer l, i.e. axis 0 of its weight, its bias and the normalisation's tensors, and
# axis 1 (input units / channels) of layer l + 1's weight. The last layer's outputs are the
# network's and stay in place.


@dataclass(frozen=True)
class PermSpec:
    """For every tensor, per axis, the index of the permutation acting on it (None: none);
    ``sizes[i]``: the number of units permutation i reorders."""

    axes: dict[str, tuple[int | None, ...]]
    sizes: tuple[int, ...]

    def acting(self, i: int) -> list[tuple[str, int]]:
        """The (tensor, axis) pairs permutation ``i`` acts on."""
        return [(k, d) for k, ax in self.axes.items() for d, j in enumerate(ax) if j == i]


def _describe(p: Params) -> str:
    return ", ".join(f"{k} {tuple(v.shape)}" for k, v in p.items())


def chain_spec(p: Params) -> PermSpec:
    """The permutation specification of a chain of Linear / Conv layers, read from the names and
    shapes of its parameters (in the dict's order, the layers' order).

    Tensors are grouped by module (the name up to its last dot). A module with one tensor of ≥ 2
    dimensions (its ``weight``: Linear (out, in), Conv (out, in, k…)) is a layer, whose other
    tensors are 1-D of its output size (bias) or scalars; a module with only 1-D tensors (and
    scalars: BatchNorm's weight, bias and, if present, running statistics) is a per-channel layer
    acting on the previous layer's outputs. Raises ``ValueError`` unless every layer's input size
    is the previous layer's output size."""
    def bad(why: str) -> ValueError:
        return ValueError(f"weight matching needs a chain of Linear/Conv layers (each with its bias and an optional "
                          f"per-channel BatchNorm, each reading the previous layer's output): {why}; got parameters "
                          f"{_describe(p)}")

    groups: dict[str, list[str]] = {}
    for k in p:
        groups.setdefault(k.rpartition(".")[0], []).append(k)
    layers: list[list[str]] = []  # per layer: its weight, then every tensor on its output axis
    outs: list[int] = []
    for module, names in groups.items():
        big = [k for k in names if p[k].dim() >= 2]
        if big:
            w = big[0]
            if len(big) > 1 or not w.endswith("weight"):
                raise bad(f"module {module!r} has several multi-dimensional tensors")
            if layers and p[w].shape[1] != outs[-1]:
                raise bad(f"{w} reads {p[w].shape[1]} inputs but the previous layer has {outs[-1]} outputs")
            layers.append([w])
            outs.append(p[w].shape[0])
        elif not layers:
            raise bad(f"module {module!r} ({', '.join(names)}) comes before the first layer")
        for k in names:
            if k == layers[-1][0]:
                continue
            if p[k].dim() > 1 or (p[k].dim() == 1 and p[k].shape[0] != outs[-1]):
                raise bad(f"{k} {tuple(p[k].shape)} is not per-channel for {outs[-1]} channels")
            layers[-1].append(k)
    if len(layers) < 2:
        raise bad("fewer than two layers, no hidden units to permute")
    axes: dict[str, tuple[int | None, ...]] = {}
    last = len(layers) - 1
    for l, names in enumerate(layers):
        w, rest = names[0], names[1:]
        out_perm = l if l < last else None
        axes[w] = (out_perm, l - 1 if l > 0 else None) + (None,) * (p[w].dim() - 2)
        for k in rest:
            axes[k] = (out_perm,) * p[k].dim()
    return PermSpec({k: axes[k] for k in p}, tuple(outs[:-1]))


def permutation_spec(model: nn.Module, p: Params | None = None, name: str | None = None) -> PermSpec:
    """The permutation specification of ``model``'s tensors ``p`` (default: its parameters), after
    checking, from the model's traced computation (``torch.fx``), that the network *is* a chain:
    every intermediate result feeds exactly one operation, and the layers with parameters are
    Linear, ungrouped Conv, BatchNorm or LayerNorm. Residual networks (ResNets) fail this — a skip
    connection ties the permutations of every layer it joins — and raise ``ValueError`` naming
    ``name`` (default: the model's class)."""
    from torch import fx

    name = name or type(model).__name__
    p = p if p is not None else {k: v.detach() for k, v in model.named_parameters()}

    class Leaves(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return next(m.children(), None) is None

    def bad(why: str) -> ValueError:
        return ValueError(f"weight matching: {name} is not supported ({why}); it handles chains of Linear/Conv "
                          "layers with BatchNorm (the FNN, VGG16), not residual networks such as the ResNets")

    try:
        graph = Leaves().trace(model)
    except Exception as err:  # any tracing failure means: not a plain chain
        raise bad(f"its forward pass cannot be traced: {err}") from err
    order = []
    modules = dict(model.named_modules())
    allowed = (nn.Linear, nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.LayerNorm)
    for node in graph.nodes:
        if node.op not in ("placeholder", "output") and len(node.users) != 1:
            users = ", ".join(u.name for u in node.users) or "nothing"
            raise bad(f"the result of `{node.name}` feeds {len(node.users)} operations ({users}): "
                      "a residual connection or a branch, whose permutations are tied")
        if len([a for a in node.all_input_nodes if a.op != "get_attr"]) > 1:
            raise bad(f"`{node.name}` combines several intermediate results (a residual connection)")
        if node.op == "get_attr":
            raise bad(f"`{node.target}` is used outside a layer")
        if node.op == "call_module":
            m = modules[node.target]
            if any(True for _ in m.parameters(recurse=False)):
                if not isinstance(m, allowed) or getattr(m, "groups", 1) != 1:
                    raise bad(f"layer `{node.target}` ({type(m).__name__}) mixes channels in a way a permutation "
                              "of whole channels does not follow")
                order.append(node.target)
    prefixes = {k.rpartition(".")[0] for k in p}
    unused = prefixes - set(order)
    if unused:
        raise bad(f"tensors of {sorted(unused)} belong to no layer of the traced computation")
    ordered = {k: p[k] for m in order for k in p if k.rpartition(".")[0] == m}
    spec = chain_spec(ordered)
    return PermSpec({k: spec.axes[k] for k in p}, spec.sizes)


def _apply(t: torch.Tensor, ax: tuple[int | None, ...], perms: list[torch.Tensor], skip: int | None = None):
    for d, j in enumerate(ax):
        if j is not None and j != skip:
            t = t.index_select(d, perms[j].to(t.device))
    return t


def permute(p: Params, perms: list[torch.Tensor], spec: PermSpec | None = None) -> Params:
    """θ with the hidden units (channels) of layer l reordered by ``perms[l]`` (unit i of the result
    is unit ``perms[l][i]`` of θ); the network computes the same function. ``spec``: which axes
    each permutation acts on (default: :func:`chain_spec` of θ)."""
    spec = spec or chain_spec(p)
    if len(perms) != len(spec.sizes):
        raise ValueError(f"perms: need one permutation per hidden layer ({len(spec.sizes)}); got {len(perms)}")
    for i, (q, n) in enumerate(zip(perms, spec.sizes)):
        if q.shape != (n,) or not torch.equal(torch.sort(q.cpu()).values, torch.arange(n)):
            raise ValueError(f"perms: entry {i} must be a permutation of {n} units; got shape {tuple(q.shape)}")
    return {k: _apply(v, spec.axes[k], perms) for k, v in p.items()}


def weight_matching(a: Params, b: Params, max_sweeps: int = 100, seed: int = 0,
                    spec: PermSpec | None = None) -> tuple[list[torch.Tensor], dict]:
    """Permutations π of θb's hidden units that (locally) maximise ⟨θa, π(θb)⟩, hence minimise
    ‖θa − π(θb)‖ (Git Re-Basin's weight matching). For one permutation, with the others fixed,
    ⟨θa, π(θb)⟩ is Σ_ij C[i, j]·[π maps unit j to i] + const with C = Σ over every tensor axis it
    acts on (weights — conv kernels flattened —, biases, BatchNorm tensors, the next layer's
    incoming weights) of A_axis B_axisᵀ; ``linear_sum_assignment`` maximises it. Each step is kept
    only if it raises the inner product, so ‖θa − π(θb)‖ never increases, and the sweeps (over the
    permutations in random order) end when none changes."""
    spec = spec or chain_spec(a)
    A = {k: v.detach().double().cpu() for k, v in a.items()}
    B = {k: v.detach().double().cpu() for k, v in b.items()}
    perms = [torch.arange(n) for n in spec.sizes]
    acting = [spec.acting(i) for i in range(len(perms))]
    rng = np.random.default_rng(seed)
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in rng.permutation(len(perms)):
            n = spec.sizes[i]
            C = torch.zeros(n, n, dtype=torch.float64)  # C[u, v]: unit u of θa against unit v of θb
            for k, d in acting[i]:
                Wa = A[k].movedim(d, 0).reshape(n, -1)
                Wb = _apply(B[k], spec.axes[k], perms, skip=i).movedim(d, 0).reshape(n, -1)
                C += Wa @ Wb.T
            _, cols = linear_sum_assignment(C.numpy(), maximize=True)
            rows = torch.arange(n)
            gain = float(C[rows, torch.as_tensor(cols)].sum() - C[rows, perms[i]].sum())
            if gain > 1e-12 * float(C.abs().sum()):
                perms[i], changed = torch.as_tensor(cols), True
        if not changed:
            break
    device = next(iter(b.values())).device
    return [q.to(device) for q in perms], {"sweeps": sweep}


def align(a: Params, b: Params, seed: int = 0, spec: PermSpec | None = None) -> tuple[Params, dict]:
    """π(θb), θb with its hidden units permuted to match θa; ``info`` has the sweeps and wall time."""
    t0 = time.time()
    spec = spec or chain_spec(a)
    perms, info = weight_matching(a, b, seed=seed, spec=spec)
    return permute(b, perms, spec), {**info, "wall_s": time.time() - t0, "grad_evals": 0}


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
    ``seed + 1`` (store), the five paths between them, each on the training and the test set.
    Networks with BatchNorm (VGG16) get their statistics recomputed on the training set at every
    evaluated point of every path (``Setup.evaluator``, ``paths.Evaluator``). Raises ``ValueError``
    for networks weight matching does not handle (ResNets)."""
    from . import practical
    from .store import key

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


def batchnorm_note(s, cmp: Comparison) -> str:
    """How the run treated BatchNorm: for networks that have it, the number of path positions whose
    statistics were recomputed on the training set (every position of every path, both splits)."""
    per_split = sum(len(p.train.s) for p in cmp.paths.values())
    if not paths.has_batchnorm(s.make_model(0)):
        return f"Network `{s.model_name}` has no BatchNorm: the {per_split} positions along the paths are evaluated as they are."
    return (f"Network `{s.model_name}` has BatchNorm: at every one of the {per_split} positions along the five paths "
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
