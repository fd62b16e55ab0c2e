"""Two-layer ReLU students trained by SGD on the teacher (Fig 3): NGD against width, sparsity.

* :class:`Student` — f(x; W) = Σ_i σ(w_i·x) as an ``nn.Module`` (parameter ``W``), so that
  :func:`starconn.center.find_center` runs on it.
* :func:`train_sgd` — plain minibatch SGD (the paper's optimiser) on the squared loss, for several
  seeds at once (the members are independent: one batched matrix product per step).
* :func:`project` — a trained W mapped onto the manifold of global minima (Theorem 6).
* :func:`best_center` — for two minima on the manifold, the 2-PL center minimising the Eq. 8 bound
  (‖W1−C‖+‖C−W2‖)/‖W1−W2‖ over the centers that use the *dedicated* rows (nonzero in one minimum,
  compatible with the column in both; a convex problem over a product of simplices). Rows zero in
  both minima are used only by a column that has no dedicated row, so this is an upper bound on the
  smallest bound over all exact 2-PL centers, not that minimum; its closed-form start is the
  projection of the midpoint, one simplex projection per column.
"""
from __future__ import annotations

import math
import sys

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data import Dataset
from .relu import ZERO, sphere, teacher


class Student(nn.Module):
    """f(x; W) = Σ_i σ(w_i·x), W of shape (m, d).

    Entries start uniform in ±init_scale/√d: ``init_scale=1`` is ``nn.Linear``'s default.
    """

    def __init__(self, m: int, d: int, init_scale: float = 1.0, seed: int | None = None,
                 dtype=torch.float64):
        super().__init__()
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        u = 2 * torch.rand(m, d, generator=g, dtype=dtype) - 1
        self.W = nn.Parameter(init_scale * u / math.sqrt(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ self.W.T).sum(-1)


def sphere_dataset(n_train: int, n_test: int, d: int, M: int, seed: int = 0) -> Dataset:
    """Sphere samples with teacher labels (float64); the test split is a fresh sample."""
    g = torch.Generator().manual_seed(seed)
    xtr, xte = sphere(n_train, d, g), sphere(n_test, d, g)
    return Dataset(f"sphere-d{d}-M{M}", xtr, teacher(xtr, M), xte, teacher(xte, M),
                   source=f"synthetic: Unif(S^{d - 1}), teacher sum_(j<{M}) relu(x_j), seed {seed}",
                   num_classes=0)


def train_sgd(m: int, d: int, seeds: list[int], data: Dataset, steps: int, lr: float, batch_size: int,
              init_scale: float = 1.0, progress: bool = True, desc: str = "sgd") -> tuple[torch.Tensor, dict]:
    """Minibatch SGD (constant step) on (f − y)², one student per seed; returns W (S, m, d).

    Member s starts from ``Student(m, d, init_scale, seed=seeds[s])`` and draws its minibatches
    from a generator seeded with ``seeds[s]``; the loss of each member is the mean over its batch.
    """
    if steps < 1 or lr <= 0 or batch_size < 1:
        raise ValueError(f"steps, lr and batch_size must be positive; got {steps}, {lr}, {batch_size}")
    W = torch.stack([Student(m, d, init_scale, seed=s).W.detach() for s in seeds]).requires_grad_(True)
    gens = [torch.Generator().manual_seed(10_000 + s) for s in seeds]
    x, y = data.train_x, data.train_y
    n = len(y)
    bar = tqdm(range(steps), desc=desc, disable=not progress, file=sys.stderr, mininterval=1)
    for step in bar:
        idx = torch.stack([torch.randint(n, (batch_size,), generator=g) for g in gens])
        xb, yb = x[idx], y[idx]  # (S, B, d), (S, B)
        out = torch.relu(xb @ W.transpose(1, 2)).sum(-1)
        loss = ((out - yb) ** 2).mean(1).sum()
        grad, = torch.autograd.grad(loss, W)
        with torch.no_grad():
            W -= lr * grad
        if not torch.isfinite(loss):
            raise RuntimeError(f"{desc}: SGD diverged at step {step} (lr={lr})")
        if step % 500 == 0:
            bar.set_postfix(loss=f"{float(loss.detach()) / len(seeds):.2e}")
    bar.close()
    W = W.detach()
    with torch.no_grad():
        train = ((torch.relu(x @ W.transpose(1, 2)).sum(-1) - y) ** 2).mean(1)
        test = ((torch.relu(data.test_x @ W.transpose(1, 2)).sum(-1) - data.test_y) ** 2).mean(1)
    return W, {"train_loss": train.tolist(), "test_loss": test.tolist()}


# ---------------------------------------------------------------------------------------------
# the manifold seen from SGD solutions
# ---------------------------------------------------------------------------------------------

def project(W: torch.Tensor, M: int) -> tuple[torch.Tensor, np.ndarray]:
    """Map a trained W onto the manifold: row i keeps only its largest teacher coordinate
    w_ij (j < M) when that is positive (else the row becomes 0), then each column is rescaled to
    sum to 1. Returns the projected minimum and its labels."""
    W = W.detach().double().cpu()
    m, d = W.shape
    j = W[:, :M].argmax(1)
    val = W[torch.arange(m), j].clamp(min=0)
    lab = np.where(val.numpy() > 0, j.numpy(), ZERO)
    P = torch.zeros_like(W)
    P[torch.arange(m), j] = val
    sums = P[:, :M].sum(0)
    if torch.any(sums <= 0):
        raise ValueError(f"cannot project: columns {torch.nonzero(sums <= 0).flatten().tolist()} have no positive weight")
    P[:, :M] /= sums
    return P, lab


def _simplex_projection(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of v onto {c ≥ 0, Σc = 1} (sort-based, exact)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1
    rho = np.nonzero(u - css / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1), 0)


def best_center(W1: torch.Tensor, W2: torch.Tensor, l1: np.ndarray, l2: np.ndarray, M: int,
                iters: int = 2000) -> dict:
    """The 2-PL center C minimising ‖W1−C‖ + ‖C−W2‖ among the centers on dedicated rows.

    A valid center puts column j's unit mass on rows compatible with both (label 0 or j in each).
    Here column j uses its *dedicated* rows (compatible and nonzero in at least one minimum); a
    row zero in both is used only by a column that has no dedicated row, one column per such row.
    Centers that also spread mass onto rows zero in both are valid too and are not searched, so
    the result is an upper bound on the smallest Eq. 8 bound over all exact 2-PL centers. On this
    set the feasible centers are a product of simplices, one per column, and the objective is
    convex. Start: the midpoint
    (W1+W2)/2 projected onto that set (minimises ‖W1−C‖² + ‖C−W2‖², one simplex projection per
    column, closed form); then projected subgradient steps on the sum of norms. Returns both
    bounds (Eq. 8) and the center; ``None`` bounds if no valid center exists.
    """
    A, B = W1.double().cpu().numpy(), W2.double().cpu().numpy()
    m, d = A.shape
    rows = []
    free = list(np.flatnonzero((l1 == ZERO) & (l2 == ZERO)))
    for j in range(M):
        r = np.flatnonzero(((l1 == ZERO) | (l1 == j)) & ((l2 == ZERO) | (l2 == j)) & ((l1 != ZERO) | (l2 != ZERO)))
        if len(r) == 0:
            if not free:
                return {"midpoint_bound": None, "best_bound": None, "center": None}
            r = np.array([free.pop()])
        rows.append(r)
    dist = np.linalg.norm(A - B)

    def build(cs):
        C = np.zeros_like(A)
        for j, (r, c) in enumerate(zip(rows, cs)):
            C[r, j] = c
        return C

    def bound(C):
        return (np.linalg.norm(A - C) + np.linalg.norm(C - B)) / dist

    mid = (A + B) / 2
    cs = [_simplex_projection(mid[r, j]) for j, r in enumerate(rows)]
    C0 = build(cs)
    best_C, best = C0, bound(C0)
    step0 = 0.5 / math.sqrt(M)
    for it in range(iters):
        C = build(cs)
        ga, gb = C - A, C - B
        g = ga / max(np.linalg.norm(ga), 1e-300) + gb / max(np.linalg.norm(gb), 1e-300)
        eta = step0 / math.sqrt(it + 1)
        cs = [_simplex_projection(c - eta * g[r, j]) for j, (r, c) in enumerate(zip(rows, cs))]
        val = bound(build(cs))
        if val < best:
            best, best_C = val, build(cs)
    return {"midpoint_bound": bound(C0), "best_bound": best, "center": torch.tensor(best_C)}


def sparsity(W: torch.Tensor, top: int) -> dict:
    """Sorted row norms of W and the fraction of the total (L2-norm) mass in the ``top`` largest."""
    norms = W.detach().double().norm(dim=1).sort(descending=True).values
    return {"norms": norms.tolist(), "top_fraction": float(norms[:top].sum() / norms.sum()),
            "top_fraction_sq": float((norms[:top] ** 2).sum() / (norms**2).sum())}
