"""A tighter estimate of the normalised geodesic distance: the shortest K-piece path below a loss level.

NGD(θ1, θ2) = inf_γ length(γ) / ‖θ1 − θ2‖ over paths γ on the minima manifold. The paper bounds
it by the relative length of one fold-line θ1 → θ* → θ2 through a center found with the penalty
λ‖θ − θi‖² (Eq. 8, ``paths.ngd_bound``); that is an upper bound only for paths at the fold-line's
own loss level, which the penalty trades for length. Here the path is a polygon
θ1 = v_0 → v_1 → … → v_K = θ2 of K pieces whose K − 1 interior vertices minimise its length while
its training loss stays at the minima's level:

    minimise length(v) / ‖θ1 − θ2‖   subject to   max_s L(γ_v(s)) ≤ ℓ = max(L(θ1), L(θ2)) + ε.

**Method: a K-bend chain with a length term and an exact penalty** (:class:`ChainFit`, a problem of
``starconn.engine``, Adam): each step draws a training minibatch B and, on every piece, ``B_t``
positions t from the grid of the dense check (t = j / G, j = 1 … G, G = ⌈n_points / K⌉), and minimises

    J(v) = K Σ_k ‖v_k − v_{k−1}‖² / ‖θ1 − θ2‖²  +  μ · mean_{k, t} [L̂_B((1 − t) v_{k−1} + t v_k) − ℓ′]₊ / ε,

ℓ′ = ℓ − margin · ε. The first term, the path's normalised energy, is ≥ (length / ‖θ1 − θ2‖)², with
equality when the pieces are equal, so under the constraint it is minimised by a shortest path
with equal pieces (as geodesics minimise energy); it is 1 for the straight line. The hinge is zero
wherever the path is below ℓ′, so there only the length moves the path; for μ large enough the
hinge is an exact penalty (its minimiser satisfies the constraint). For K = 2 the energy is
4 mean_i ‖θ* − θi‖² / ‖θ1 − θ2‖², the paper's penalty: the paper's center search is the K = 2
chain with a smooth loss term (E_t L) where this one has the level constraint.

**The hinge's loss has a control variate.** A hinge on the plain minibatch loss L_B is biased when
L_B's noise is not small against ε: [L_B − ℓ′]₊ then fires about half the time wherever the path
is and pushes the whole path down the loss, away from the level and longer (on the FNN at the cpu
profile the standard deviation of L_B at batch 200 is 0.032 nats, ε there 0.0023–0.023). So
L̂_B(p) = L_B(p) − (L_B(p₀) − L(p₀)), with p₀ the point at the same grid position on the path the
round started from, whose whole-set loss L(p₀) the dense check of that path has already computed:
the same mean as L_B, L exactly on the start path, and a small variance while the path stays near
where the round began (nearby networks find the same examples hard). It costs one forward pass
per point and step. (The endpoints as control variate, interpolated along the path, cut the
FNN's standard deviation only to 0.0094 nats, and its 8-piece refinements lengthened the paths.)

Why not a nudged elastic band or the string method (Draxler et al. 2018, AutoNEB): they find the
path of *lowest barrier*, their springs only spacing the images along it, so the length they
return is whatever the lowest-barrier path has. The geodesic question is the converse one — the
*shortest* path at a given level — so the length is the objective and the loss the constraint.

**The constraint is checked, never trusted.** Every candidate path (the start, and the result of
each round) is evaluated on the whole training set at ``n_points`` points along it (the same
spacing per unit of path parameter whatever K), and a path counts as feasible only if its largest
loss there is ≤ ℓ. Each round starts where the one before ended: after a round that ended above
ℓ, with μ multiplied by ``mu_growth``; after one that ended at the level shorter than any path
before by more than ``min_gain`` (in units of ‖θ1 − θ2‖), with the same μ (it shortens further);
any other round that ends at the level stops the search, as do ``rounds`` rounds. The estimate
returns the shortest feasible candidate, or no path at all (``feasible = False``, no NGD) when none
of them is: it never returns a path with a higher barrier than requested (at the evaluated points). Each round is stored (``k-piece-path``,
keyed by the endpoints, the start, the level, the data and the configuration) and checkpointed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from .baselines import FitConfig, PointsFit
from .data import Dataset
from .engine import Step, digest, optimise
from .paths import Params, distance
from .store import Store

LossOf = Callable[[Params], torch.Tensor]  # stacked points -> their loss on the whole training set (n,)


# ---------------------------------------------------------------------------------------------
# Polygonal paths


def stack(points: list[Params]) -> Params:
    return {k: torch.stack([p[k] for p in points]) for k in points[0]}


def unstack(points: Params) -> list[Params]:
    n = next(iter(points.values())).shape[0]
    return [{k: v[i] for k, v in points.items()} for i in range(n)]


def subdivide(polygon: list[Params], K: int) -> list[Params]:
    """The same path as the polygon through ``polygon`` (P pieces) as K pieces: every piece cut into
    K / P equal parts (K must be a multiple of P). Returns the K + 1 vertices."""
    P = len(polygon) - 1
    if K < 1 or K % P:
        raise ValueError(f"K must be a positive multiple of the start's {P} pieces; got {K}")
    per = K // P
    out = [polygon[0]]
    for p, q in zip(polygon, polygon[1:]):
        out += [{k: torch.lerp(p[k], q[k], j / per) for k in p} for j in range(1, per + 1)]
    return out


def length(vertices: list[Params]) -> float:
    """Euclidean length of the polygon through ``vertices``."""
    return sum(distance(p, q) for p, q in zip(vertices, vertices[1:]))


def grid(n_points: int, K: int) -> int:
    """Steps per piece of the dense points: ⌈n_points / K⌉ (the same spacing per unit of path
    parameter whatever K)."""
    return max(1, math.ceil(n_points / K))


def dense_points(vertices: list[Params], n_points: int) -> tuple[list[float], Params]:
    """Points along the polygon: each of its K pieces at t = j / G, j = 1 … G (G = :func:`grid`),
    and θ1 first. Returns the positions s ∈ [0, K] (piece k covers [k, k + 1]) and the stacked
    points (θ1, then piece by piece)."""
    K = len(vertices) - 1
    steps = grid(n_points, K)
    s, pts = [0.0], [vertices[0]]
    for k, (p, q) in enumerate(zip(vertices, vertices[1:])):
        for j in range(1, steps + 1):
            s.append(k + j / steps)
            pts.append({n: torch.lerp(p[n], q[n], j / steps) for n in p})
    return s, stack(pts)


@dataclass
class Profile:
    """The loss along a path at the dense points: positions ``s`` ∈ [0, K] and losses."""

    s: list[float]
    loss: list[float]

    @property
    def barrier(self) -> float:
        return max(self.loss)


def profile(loss_of: LossOf, vertices: list[Params], n_points: int) -> Profile:
    s, pts = dense_points(vertices, n_points)
    return Profile(s, [float(v) for v in loss_of(pts)])


def regression_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: Callable = F.mse_loss,
                    points_per_call: int = 16) -> LossOf:
    """``loss_of(points)``: ``loss_fn`` (mean over the examples) of the network at each stacked
    point on (x, y), in the points' dtype (a float64 network is evaluated in float64)."""
    fwd = vmap(lambda p: loss_fn(functional_call(model, p, (x,)), y), in_dims=(0,))

    @torch.no_grad()
    def loss_of(points: Params) -> torch.Tensor:
        n = next(iter(points.values())).shape[0]
        return torch.cat([fwd({k: v[i : i + points_per_call] for k, v in points.items()}).double().cpu()
                          for i in range(0, n, points_per_call)])

    return loss_of


# ---------------------------------------------------------------------------------------------
# The chain's training problem


@dataclass(frozen=True)
class ChainConfig:
    """How the interior vertices of a K-piece path are optimised: at most ``rounds`` runs of Adam,
    each of ``epochs`` epochs, the first with penalty weight ``mu``, multiplied by ``mu_growth``
    after each round that ends above the level (:func:`estimate`)."""

    epochs: int
    lr: float  # Adam's learning rate, in units of the root-mean-square entry of θ1 − θ2
    mu: float = 1.0
    mu_growth: float = 10.0
    rounds: int = 3
    margin: float = 0.5  # the hinge acts above ℓ − margin·ε
    min_gain: float = 1e-3  # another round at the same μ only after one that shortened the path by more (NGD units)
    B_t: int = 1  # values of t per piece and step
    batch_size: int = 200
    schedule: str = "cosine"
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.lr <= 0 or self.mu <= 0 or self.mu_growth < 1 or self.rounds < 1:
            raise ValueError(f"chain configuration: epochs, lr, mu, rounds must be positive and mu_growth >= 1; got "
                             f"{self}")
        if self.min_gain < 0:
            raise ValueError(f"chain configuration: min_gain must be >= 0; got {self.min_gain}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"chain configuration: margin must be in [0, 1); got {self.margin}")


class ChainFit(PointsFit):
    """Adam on the K − 1 interior vertices of a path θ1 → … → θ2 (stacked, leading dimension K − 1),
    from ``start``: each step's loss is J (module docstring) on one minibatch at ``B_t`` grid
    positions t = j / G per piece, the hinge's loss estimated with the round's start path as control
    variate (``ref_losses``: its whole-set loss at the grid, (K, G), from the start's dense profile).
    Records per epoch the objective, the normalised energy and the mean hinge (``excess``)."""

    def __init__(self, model: nn.Module, a: Params, b: Params, start: Params, ref_losses: torch.Tensor, data: Dataset,
                 K: int, target: float, eps: float, mu: float, cfg: FitConfig, B_t: int, loss_fn: Callable):
        dev = data.train_x.device
        self.a = {k: v.to(dev) for k, v in a.items()}
        self.b = {k: v.to(dev) for k, v in b.items()}
        self.ref = {k: v.to(dev) for k, v in start.items()}
        self.ref_losses = ref_losses.to(dev, torch.float64)
        self.K, self.G, self.B_t, self.target, self.eps, self.mu = K, ref_losses.shape[1], B_t, target, eps, mu
        self.d2 = distance(a, b) ** 2
        draws = {"K": K, "grid": self.G, "B_t": B_t, "target": target, "eps": eps, "mu": mu,
                 "hinge": "control variate: the start path"}
        super().__init__("k-piece path", f"{K}-piece path (μ = {mu:g})", model, data, start,
                         lambda V, rng: self.at(V, self.draw(rng)), cfg, draws, [a, b, start], loss_fn)
        self.energies: list[float] = []
        self.excesses: list[float] = []

    def draw(self, rng) -> torch.Tensor:
        """``B_t`` grid indices j ∈ {1, …, G} per piece: (K, B_t)."""
        return torch.from_numpy(rng.integers(1, self.G + 1, (self.K, self.B_t))).to(self.ref_losses.device)

    def at(self, V: Params, j: torch.Tensor) -> Params:
        """The points (1 − t) v_{k−1} + t v_k, t = j / G, of every piece k at its row of ``j``, stacked (K·B_t)."""
        out = {}
        for k, v in V.items():
            verts = torch.cat([self.a[k][None], v, self.b[k][None]])
            tk = (j / self.G).to(v).reshape(self.K, self.B_t, *([1] * (v.dim() - 1)))
            out[k] = torch.lerp(verts[:-1, None], verts[1:, None], tk).flatten(0, 1)
        return out

    def batch_losses(self, V: Params, j: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """L̂_B at the points ``at(V, j)`` on the batch (x, y): their loss minus the start path's error
        on the batch (its loss there minus its whole-set loss) at the same grid positions — the
        control variate of the module docstring; over batches it has L's mean, and on the start path
        itself it is L exactly."""
        with torch.no_grad():
            err = self.loss_of(self.at(self.ref, j), x, y).double() - self.ref_losses.gather(1, j - 1).flatten()
        return self.loss_of(self.at(V, j), x, y).double() - err

    def energy(self, V: Params) -> torch.Tensor:
        """K Σ_k ‖v_k − v_{k−1}‖² / ‖θ1 − θ2‖² (1 for the straight line with equal pieces)."""
        total = 0
        for k, v in V.items():
            verts = torch.cat([self.a[k][None], v, self.b[k][None]])
            total = total + ((verts[1:] - verts[:-1]).double() ** 2).sum()
        return self.K * total / self.d2

    def loss(self, V: Params, idx: torch.Tensor) -> Step:
        self.grad_evals += self.K * self.B_t
        losses = self.batch_losses(V, self.draw(self.rng), self.data.train_x[idx], self.data.train_y[idx])
        excess = torch.relu(losses - self.target).mean() / self.eps
        energy = self.energy(V)
        return Step((energy + self.mu * excess).reshape(1), len(idx), {"energy": energy.detach(),
                                                                        "excess": excess.detach()})

    def end_epoch(self, epoch: int, V: Params, totals: dict[str, torch.Tensor]) -> bool:
        n = self.data.n_train
        self.energies.append(float(totals["energy"]) / n)
        self.excesses.append(float(totals["excess"]) / n)
        return super().end_epoch(epoch, V, totals)

    def postfix(self) -> dict:
        return {"energy": f"{self.energies[-1]:.4f}", "excess/ε": f"{self.excesses[-1]:.2e}"}

    def state(self) -> tuple[Params, dict]:
        tensors, meta = super().state()
        return tensors, {**meta, "energy": self.energies, "excess": self.excesses}

    def restore(self, tensors: Params, meta: dict) -> None:
        super().restore(tensors, meta)
        self.energies, self.excesses = list(meta["energy"]), list(meta["excess"])

    def result(self, V: Params, wall_s: float) -> tuple[Params, dict]:
        V, info = super().result(V, wall_s)
        return V, {**info, "energy": self.energies, "excess": self.excesses}


# ---------------------------------------------------------------------------------------------
# The estimate


@dataclass
class Candidate:
    """One path the estimate considered: its relative length, its largest loss at the dense
    points, whether that is at most the level, and the penalty weight of its round (None: start)."""

    name: str
    ngd: float
    barrier: float
    feasible: bool
    mu: float | None = None


@dataclass
class Estimate:
    """The shortest feasible K-piece path found between θ1 and θ2 at level ``level``
    (``ngd`` = its length / ‖θ1 − θ2‖, an upper bound on the NGD of the level set
    {L ≤ level}); ``None`` when no candidate met the level."""

    K: int
    level: float
    eps: float
    endpoint_loss: float
    chosen: Candidate | None
    candidates: list[Candidate]
    vertices: list[Params] | None = None
    profile: Profile | None = None
    rounds: list[dict] = field(default_factory=list)  # each round's per-epoch records, grad evals, wall
    last: list[Params] | None = None  # the vertices of the last candidate (the start when no round ran)

    @property
    def feasible(self) -> bool:
        return self.chosen is not None

    @property
    def ngd(self) -> float:
        return self.chosen.ngd if self.chosen else math.nan

    @property
    def barrier(self) -> float:
        return self.chosen.barrier if self.chosen else math.nan

    @property
    def handoff(self) -> list[Params]:
        """The path a finer chain starts from: the returned one, else (no candidate met the level)
        the last candidate, the one that came closest to the level under the largest penalty."""
        return self.vertices if self.feasible else self.last

    def summary(self) -> dict:
        c = self.chosen
        return {"K": self.K, "level": self.level, "eps": self.eps, "endpoint_loss": self.endpoint_loss,
                "feasible": self.feasible, "ngd": self.ngd, "barrier": self.barrier,
                "chosen": c.name if c else None,
                "handoff_ngd": c.ngd if c else self.candidates[-1].ngd,
                "candidates": [vars(x) for x in self.candidates],
                "grad_evals": sum(r["grad_evals"] for r in self.rounds),
                "wall_s": sum(r.get("wall_s") or 0.0 for r in self.rounds)}


def estimate(model: nn.Module, a: Params, b: Params, start: list[Params], K: int, data: Dataset, eps: float,
             cfg: ChainConfig, loss_of: LossOf, n_points: int, loss_fn: Callable = F.cross_entropy,
             store: Store | None = None, key: dict | None = None, progress: bool = True) -> Estimate:
    """The shortest K-piece path θ1 → θ2 whose training loss stays ≤ ℓ = max(L(θ1), L(θ2)) + ``eps``
    at ``n_points`` dense points (module docstring). ``start`` is a polygon θ1 → … → θ2 (e.g. the
    fold-line through a center) cut into K pieces (:func:`subdivide`); ``loss_of`` evaluates stacked
    points on the whole training set; ``loss_fn`` is the per-minibatch loss the chain is trained on.
    With a ``store``, each round is stored and checkpointed under ``key`` (which must name what
    ``model``, ``data`` and ``loss_fn`` are) plus everything else it depends on."""
    if eps <= 0:
        raise ValueError(f"eps must be > 0 (the allowed rise of the loss above the minima's); got {eps}")
    end = [float(v) for v in loss_of(stack([a, b]))]
    L_end, D = max(end), distance(a, b)
    level = L_end + eps
    verts = subdivide(start, K)
    prof = profile(loss_of, verts, n_points)
    cands = [Candidate("start", length(verts) / D, prof.barrier, prof.barrier <= level)]
    best = (cands[0], verts, prof) if cands[0].feasible else None
    rms = math.sqrt(D ** 2 / sum(v.numel() for v in a.values()))
    fit = FitConfig(cfg.epochs, cfg.lr * rms, cfg.batch_size, cfg.schedule, cfg.seed)
    V = stack(verts[1:-1])
    rounds = []
    base = None if store is None else {**(key or {}), "endpoints": digest([a, b]), "start": digest(start), "K": K,
                                       "eps": eps, "level": level, "n_points": n_points, "chain": vars(cfg),
                                       "hinge": "control variate: the start path", "data": data.identity}
    mu = cfg.mu
    for r in range(cfg.rounds):

        def run(ck=None, V=V, mu=mu, ref=torch.tensor(prof.loss[1:]).reshape(K, grid(n_points, K))):
            problem = ChainFit(model, a, b, V, ref, data, K, level - cfg.margin * eps, eps, mu, fit, cfg.B_t, loss_fn)
            return optimise(problem, progress, ck)

        if store is None:
            V, info = run()
        else:
            V, info = store.get_or_compute("k-piece-path", {**base, "round": r, "mu": mu}, run, data.train_x.device,
                                           checkpointed=True)
        rounds.append({"mu": mu, **info})
        verts = [a, *unstack(V), b]
        prof = profile(loss_of, verts, n_points)
        cand = Candidate(f"round {r + 1}", length(verts) / D, prof.barrier, prof.barrier <= level, mu)
        cands.append(cand)
        if not cand.feasible:
            mu *= cfg.mu_growth
            continue
        gain = (best[0].ngd if best else math.inf) - cand.ngd
        if gain > 0:
            best = (cand, verts, prof)
        if gain <= cfg.min_gain:
            break
    if best is None:
        return Estimate(K, level, eps, L_end, None, cands, rounds=rounds, last=verts)
    return Estimate(K, level, eps, L_end, best[0], cands, best[1], best[2], rounds, verts)
