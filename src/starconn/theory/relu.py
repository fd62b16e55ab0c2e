"""Two-layer ReLU networks in the teacher–student setup of Section 3 (Theorems 6–11).

Setting: x ~ Unif(S^{d−1}), teacher f*(x) = Σ_{j≤M} σ(x_j), student f(x; W) = Σ_{i≤m} σ(w_i·x)
with W ∈ R^{m×d}, risk R(W) = E(f − f*)².

Theorem 6: W is a global minimum iff every row is 0 or α·e_j (α > 0, j ≤ M) and every column
j ≤ M sums to 1. A minimum is therefore described by its *labels* ℓ ∈ {0, 1, …, M}^m (ℓ_i = 0 for a
zero row, ℓ_i = j for a row α e_j) and the positive weights of its nonzero rows. Everything about
linear connectivity depends on the labels only:

* Lemma 7: the segment W1 → W2 stays on the manifold iff for every row i, ℓ1_i = 0, ℓ2_i = 0 or
  ℓ1_i = ℓ2_i.
* A common linear center of minima W_1..W_k (k = 2: a 2-PL center; k ≥ 2: a star center) must
  put column j's mass on rows compatible with every W_l (label 0 or j in each); a row that is zero
  in all of them is compatible with every column but can serve only one. Hence a center exists iff
  #{j : no row that is nonzero somewhere is compatible with j} ≤ #{rows zero in all W_l}
  (:func:`center_exists`) — an exact decision, no optimisation.

Labels are 0-based here: row label ``j`` in ``0..M-1`` means e_j, ``-1`` means a zero row.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

ZERO = -1


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------

def sphere(n: int, d: int, generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
    """n points uniform on the unit sphere S^{d−1} (normalised Gaussians), shape (n, d)."""
    x = torch.randn(n, d, generator=generator, dtype=dtype)
    return x / x.norm(dim=1, keepdim=True)


def teacher(x: torch.Tensor, M: int) -> torch.Tensor:
    """f*(x) = Σ_{j≤M} σ(x_j)."""
    return torch.relu(x[..., :M]).sum(-1)


def student(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """f(x; W) = Σ_i σ(w_i·x) for x of shape (n, d); ``W`` may be batched, (..., m, d) → (..., n)."""
    if W.dim() == 2:
        return torch.relu(x @ W.T).sum(-1)
    m, d = W.shape[-2:]
    h = x @ W.reshape(-1, d).T  # one matrix product for the whole batch: (n, B·m)
    h.relu_()
    return h.reshape(len(x), -1, m).sum(-1).T.reshape(*W.shape[:-2], len(x))


def risk(W: torch.Tensor, M: int, x: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """Monte-Carlo R(W) = mean (f − f*)² over the sample ``x``; ``W`` (..., m, d) → (...)."""
    W = W.to(x)
    y = teacher(x, M)
    flatW = W.reshape(-1, *W.shape[-2:])
    out = torch.cat([((student(x, flatW[s:s + chunk]) - y) ** 2).mean(-1) for s in range(0, len(flatW), chunk)])
    return out.reshape(W.shape[:-2])


def identity_error(W: torch.Tensor, M: int, x: torch.Tensor) -> float:
    """max_x |f(x; W) − f*(x)| over the sample: 0 up to rounding for a global minimum."""
    return float((student(x, W.to(x)) - teacher(x, M)).abs().max())


# ---------------------------------------------------------------------------------------------
# the manifold of global minima (Theorem 6)
# ---------------------------------------------------------------------------------------------

def _check_dims(m: int, M: int, d: int) -> None:
    if M < 1:
        raise ValueError(f"M (teacher neurons) must be >= 1; got {M}")
    if d < max(M, 2):
        raise ValueError(f"d (input dimension) must be >= max(M, 2) = {max(M, 2)}; got d={d}")
    if m < M:
        raise ValueError(f"m (student width) must be >= M = {M} for a global minimum to exist; got m={m}")


def labels_of(W: torch.Tensor | np.ndarray, M: int, tol: float = 1e-12) -> np.ndarray:
    """The labels of a global minimum (Theorem 6), or ``ValueError`` if ``W`` is not one."""
    W = np.asarray(W.detach().cpu() if isinstance(W, torch.Tensor) else W, dtype=np.float64)
    m, d = W.shape
    lab = np.full(m, ZERO, dtype=np.int64)
    for i, row in enumerate(W):
        nz = np.flatnonzero(np.abs(row) > tol)
        if len(nz) == 0:
            continue
        if len(nz) > 1 or nz[0] >= M or row[nz[0]] <= 0:
            raise ValueError(f"row {i} of W is neither 0 nor a positive multiple of some e_j, j < M={M}: {row}")
        lab[i] = nz[0]
    sums = W[:, :M].sum(0)
    if np.any(np.abs(sums - 1) > max(tol, 1e-9)):
        raise ValueError(f"the columns j < M={M} of W must sum to 1; got {sums}")
    return lab


def is_minimum(W, M: int, tol: float = 1e-12) -> bool:
    """Theorem 6's criterion."""
    try:
        labels_of(W, M, tol)
        return True
    except ValueError:
        return False


def covers(labels: np.ndarray, M: int) -> np.ndarray:
    """Whether every column j < M has a row labelled j (last axis = rows)."""
    labels = np.asarray(labels)
    return np.all(np.stack([(labels == j).any(-1) for j in range(M)], -1), -1)


def paper_p_zero(M: int) -> float:
    """P(a row is zero) under the paper's Unif(𝓜): each row is of one of the M + 1 types
    S_0 (zero), S_1 … S_M (a positive multiple of e_j), all equally likely — 1/(M + 1)."""
    return 1 / (M + 1)


def _cover_table(m: int, M: int, q: float) -> np.ndarray:
    """F[u, r] = P(r independent rows, each labelled j with probability q for every j, use u given
    columns), by the recursion F[u, r] = (1 − u q) F[u, r − 1] + u q F[u − 1, r − 1] (positive terms,
    so accurate even where F is tiny)."""
    F = np.zeros((M + 1, m + 1))
    F[0, :] = 1.0
    for r in range(1, m + 1):
        u = np.arange(1, M + 1)
        F[1:, r] = (1 - u * q) * F[1:, r - 1] + u * q * F[:-1, r - 1]
    return F


def random_labels(m: int, M: int, rng: np.random.Generator, size: tuple = (), p_zero: float = 0.0) -> np.ndarray:
    """Labels of random minima: i.i.d. rows conditioned on every column being used.

    Each row is independently a zero row with probability ``p_zero`` and otherwise labelled with a
    uniform column j < M, conditioned on every column having a row (exactly the condition for the
    labels to carry a global minimum). ``p_zero = paper_p_zero(M)`` is the paper's Unif(𝓜) (all
    M + 1 row types equally likely); ``p_zero = 0`` is the variant with no zero rows. When a valid
    draw is likely (P ≥ 0.05, from :func:`_cover_table`) unconditioned draws are rejected until
    valid; otherwise the conditional law is sampled exactly, row by row: row i's label is drawn
    with probability ∝ P(label) · P(the remaining rows use the columns still unused), so it stays
    fast however rare a valid draw is (large M, m close to M, large p_zero).
    """
    if m < M:
        raise ValueError(f"m must be >= M={M} for a global minimum to exist; got m={m}")
    if not 0 <= p_zero < 1:
        raise ValueError(f"p_zero must be in [0, 1); got {p_zero}")
    q = (1 - p_zero) / M
    F = _cover_table(m, M, q)
    n = int(np.prod(size, dtype=np.int64))
    sampler = _by_rejection if F[M, m] >= 0.05 else _row_by_row
    return sampler(n, m, M, p_zero, F, rng).reshape(*size, m)


def _by_rejection(n: int, m: int, M: int, p_zero: float, F: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """n draws of :func:`random_labels`: i.i.d. rows, the draws that leave a column unused rejected."""
    out = np.empty((n, m), dtype=np.int64)
    todo = np.arange(n)
    while len(todo):
        k = int(len(todo) / F[M, m] * 1.1) + 8  # enough draws for all that remain, most of the time
        lab = rng.integers(0, M, size=(k, m))
        if p_zero:
            lab[rng.random((k, m)) < p_zero] = ZERO
        lab = lab[covers(lab, M)][: len(todo)]
        out[todo[: len(lab)]] = lab
        todo = todo[len(lab):]
    return out


def _row_by_row(n: int, m: int, M: int, p_zero: float, F: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """n draws of :func:`random_labels` from the conditional law, one row at a time (no rejection)."""
    q = (1 - p_zero) / M
    used = np.zeros((n, M), dtype=bool)
    out = np.empty((n, m), dtype=np.int64)
    idx = np.arange(n)
    for i in range(m):
        left = m - i - 1
        u = M - used.sum(1)  # columns not used yet
        w_zero = p_zero * F[u, left]
        w_old = q * (M - u) * F[u, left]  # a column already used
        w_new = q * u * F[np.maximum(u - 1, 0), left] * (u > 0)  # a column not used yet
        x = rng.random(n) * (w_zero + w_old + w_new)
        new = x >= w_zero + w_old
        old = ~new & (x >= w_zero)
        keys = rng.random((n, M))  # a uniform column among the allowed ones: the largest random key
        col = np.where(new[:, None], np.where(used, -1.0, keys), np.where(used, keys, -1.0)).argmax(1)
        used[idx, col] |= new | old
        out[:, i] = np.where(new | old, col, ZERO)
    return out


def minimum_from_labels(labels: Sequence[int], M: int, d: int, rng: np.random.Generator | None = None,
                        weights: str = "random") -> torch.Tensor:
    """A global minimum with the given labels: column j's mass 1 split over its rows.

    ``weights="random"``: a uniform (Dirichlet(1)) split; ``"equal"``: equal shares.
    """
    lab = np.asarray(labels)
    _check_dims(len(lab), M, d)
    if not covers(lab, M):
        missing = [j for j in range(M) if not (lab == j).any()]
        raise ValueError(f"labels must use every column j < M={M}; columns {missing} have no row")
    W = np.zeros((len(lab), d))
    for j in range(M):
        rows = np.flatnonzero(lab == j)
        if weights == "equal" or rng is None:
            w = np.full(len(rows), 1 / len(rows))
        elif weights == "random":
            w = rng.dirichlet(np.ones(len(rows)))
        else:
            raise ValueError(f"weights must be 'random' or 'equal'; got {weights!r}")
        W[rows, j] = w
    return torch.tensor(W)


# ---------------------------------------------------------------------------------------------
# linear connectivity (Lemma 7) and common centers (Theorems 8, 10)
# ---------------------------------------------------------------------------------------------

def linearly_connected(l1: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Lemma 7's criterion on labels (last axis = rows): every row is 0 in one, or equal."""
    l1, l2 = np.asarray(l1), np.asarray(l2)
    return np.all((l1 == ZERO) | (l2 == ZERO) | (l1 == l2), -1)


def _compat(labels: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray]:
    """For labels (..., k, m): ``dedicated`` (..., M) — column j has a row nonzero in some foot and
    0 or j in every foot; ``free`` (...) — the number of rows zero in every foot."""
    labels = np.asarray(labels)
    allzero = np.all(labels == ZERO, -2)  # (..., m)
    ded = np.stack([np.any(np.all((labels == ZERO) | (labels == j), -2) & ~allzero, -1) for j in range(M)], -1)
    return ded, allzero.sum(-1)


def center_exists(labels: np.ndarray, M: int) -> np.ndarray:
    """Exact decision: do the k minima with labels (..., k, m) have a common linear center?

    k = 2 is 2-PL connectivity (Theorem 8), k ≥ 2 star-shaped connectivity (Theorem 10).
    """
    ded, free = _compat(labels, M)
    return (~ded).sum(-1) <= free


def center(feet: Sequence[torch.Tensor], M: int) -> torch.Tensor | None:
    """A common linear center of the minima ``feet`` (each foot ↔ center stays on the manifold),
    or ``None`` when none exists. Column j's mass is split equally over its compatible rows."""
    labs = np.stack([labels_of(W, M) for W in feet])
    k, m = labs.shape
    d = feet[0].shape[1]
    allzero = np.all(labs == ZERO, 0)
    free = list(np.flatnonzero(allzero))
    C = torch.zeros(m, d, dtype=torch.float64)
    for j in range(M):
        rows = np.flatnonzero(np.all((labs == ZERO) | (labs == j), 0) & ~allzero)
        if len(rows) == 0:
            if not free:
                return None
            rows = [free.pop()]
        C[rows, j] = 1.0 / len(rows)
    return C


def p_center_exact(m: int, M: int, k: int) -> float:
    """P(k random minima have a common center) when the minima have no zero rows
    (:func:`random_labels` with ``p_zero=0``, the variant; the paper's draw has zero rows).

    With no zero rows, a center exists iff every column j has a row labelled j in all k minima
    (event D); D implies that each minimum uses every column (event A_l), so
    P(D | A_1..A_k) = P(D) / P(A)^k, each by inclusion–exclusion:
    P(D) = Σ_u (−1)^u C(M,u) (1 − u/M^k)^m,  P(A) = Σ_s (−1)^s C(M,s) (1 − s/M)^m.
    """
    pD = sum((-1) ** u * math.comb(M, u) * (1 - u / M**k) ** m for u in range(M + 1))
    pA = sum((-1) ** s * math.comb(M, s) * (1 - s / M) ** m for s in range(M + 1))
    return pD / pA**k


def p_center_bound(m: int, M: int, k: int) -> float:
    """The paper's lower bound p = 1 − M((M^k − 1)/M^k)^{m − kM} (Theorems 8 (k = 2) and 10),
    clipped at 0 where it is vacuous (for m < kM the formula is negative, and for M = 1 it has
    0 to a negative power)."""
    base = (M**k - 1) / M**k
    if base == 0:
        return 1.0 if m > k * M else 0.0
    return max(0.0, 1 - M * base ** (m - k * M))


def estimate_p_center(m: int, M: int, k: int, n: int, rng: np.random.Generator, p_zero: float = 0.0) -> float:
    """Monte-Carlo estimate: the fraction of n draws of k random minima (:func:`random_labels`)
    that have a common center (exact decision, :func:`center_exists`)."""
    chunk = max(1, 2_000_000 // (k * m))  # draws at a time: memory stays ~100 MB at any width
    hits = 0
    for start in range(0, n, chunk):
        labs = random_labels(m, M, rng, size=(min(chunk, n - start), k), p_zero=p_zero)
        hits += int(center_exists(labs, M).sum())
    return hits / n


# ---------------------------------------------------------------------------------------------
# 4-PL paths (Theorem 9) and extended stars (Theorem 11)
# ---------------------------------------------------------------------------------------------

def _hub_labels(labs: np.ndarray, M: int, max_nodes: int = 200_000) -> np.ndarray | None:
    """Labels of a minimal minimum B (one row e_j per column) with a 2-PL center to every foot.

    For a foot with labels ℓ, column j of the pair (foot, B) has a compatible row iff
    ℓ(σ(j)) ∈ {0, j} (the row σ(j) carrying e_j in B) or some row labelled j in the foot is not
    used by B; such rows are never zero in the foot, so the decision is exact. Depth-first search
    over the injective σ.
    """
    k, m = labs.shape
    S = [[set(np.flatnonzero(labs[l] == j)) for j in range(M)] for l in range(k)]
    used: list[int] = []
    nodes = 0

    def ok(j: int, r: int, img: set) -> bool:
        return all(labs[l, r] in (ZERO, j) or not S[l][j] <= img for l in range(k))

    def consistent(img: set) -> bool:
        return all(ok(j, r, img) for j, r in enumerate(used))

    def rank(j: int, r: int) -> tuple:
        bad = sum(labs[l, r] not in (ZERO, j) for l in range(k))
        return (bad, sum(labs[l, r] != ZERO for l in range(k)))

    def dfs(j: int) -> bool:
        nonlocal nodes
        if j == M:
            return True
        for r in sorted((r for r in range(m) if r not in used), key=lambda r: rank(j, r)):
            nodes += 1
            if nodes > max_nodes:
                return False
            used.append(r)
            if consistent(set(used)) and dfs(j + 1):
                return True
            used.pop()
        return False

    if not dfs(0):
        return None
    hub = np.full(m, ZERO)
    hub[used] = np.arange(M)
    return hub


def four_pl_path(W1: torch.Tensor, W2: torch.Tensor, M: int) -> list[torch.Tensor]:
    """Theorem 9: the vertices W1, C1, B, C2, W2 of a 4-piece linear path on the manifold.

    B is a minimal minimum 2-PL connected to both endpoints, C1 and C2 the 2-PL centers. Needs
    m ≥ 2M − 1.
    """
    return extended_star([W1, W2], M, _min_width=2 * M - 1, _theorem="Theorem 9 (4-PL path)")["path"]


def extended_star(feet: Sequence[torch.Tensor], M: int, _min_width: int | None = None,
                  _theorem: str = "Theorem 11 (extended star)") -> dict:
    """Theorem 11: a hub minimum B and, for each foot W_l, a center C_l with W_l ↔ C_l ↔ B.

    Needs m ≥ kM for k feet. Returns ``{"hub": B, "centers": [C_l], "path": [W1, C1, B, C2, W2]
    (k = 2 only)}``.
    """
    k = len(feet)
    if k < 1:
        raise ValueError("feet must hold at least one minimum")
    m, d = feet[0].shape
    need = k * M if _min_width is None else _min_width
    if m < need:
        rule = "k*M" if _min_width is None else "2*M-1"
        raise ValueError(f"{_theorem} needs m >= {rule} = {need} (k={k} feet, M={M}); got m={m}")
    labs = np.stack([labels_of(W, M) for W in feet])
    hub_l = _hub_labels(labs, M)
    if hub_l is None:
        raise RuntimeError(f"no minimal hub found for labels {labs.tolist()} (m={m}, M={M})")
    B = minimum_from_labels(hub_l, M, d, weights="equal")
    centers = [center([W, B], M) for W in feet]
    if any(c is None for c in centers):  # cannot happen: the hub was chosen so that they exist
        raise RuntimeError("a foot has no 2-PL center to the hub")
    out = {"hub": B, "centers": centers, "hub_labels": hub_l}
    if k == 2:
        out["path"] = [feet[0], centers[0], B, centers[1], feet[1]]
    return out


def path_max_error(vertices: Sequence[torch.Tensor], M: int, x: torch.Tensor, n_t: int = 11) -> dict:
    """Along the polygonal path through ``vertices``: the largest |f − f*| and Monte-Carlo risk
    at ``n_t`` points of every segment (endpoints included)."""
    t = torch.linspace(0, 1, n_t, dtype=torch.float64).reshape(-1, 1, 1)
    y = teacher(x, M)
    err, rk = 0.0, 0.0
    for a, b in zip(vertices, vertices[1:]):
        pts = ((1 - t) * a.to(x) + t * b.to(x))
        res = student(x, pts) - y  # (n_t, n)
        err = max(err, float(res.abs().max()))
        rk = max(rk, float((res**2).mean(-1).max()))
    return {"max_abs_error": err, "max_risk": rk}


def segment_risk(W1: torch.Tensor, W2: torch.Tensor, M: int, x: torch.Tensor, n_t: int = 9) -> torch.Tensor:
    """Monte-Carlo risk at n_t interior points of the segment W1 → W2."""
    t = torch.linspace(0, 1, n_t + 2, dtype=torch.float64)[1:-1].reshape(-1, 1, 1)
    return risk((1 - t) * W1 + t * W2, M, x)
