"""Normalised geodesic distance (NGD) between random minima of the two-layer ReLU model
(Section 3.3: Theorems 12 and 14, Definition 13).

A minimum is an (m, M) matrix of its teacher columns (Theorem 6: every row 0 or α e_j, α > 0, and
every column sums to 1; the columns j ≥ M are 0 and play no part here). For two minima A = θ1,
B = θ2 with labels ℓ¹, ℓ² (0-based, ``ZERO`` = −1 for a zero row, as in :mod:`.relu`), a row is

* a *conflict* row when both are nonzero with different labels — by Lemma 7 every 2-PL center is
  0 there;
* *free* when it is zero in both — a center may give it any one label;
* otherwise compatible with exactly one column j (label j in one foot, 0 or j in the other); R_j
  holds those rows, k_j = |R_j|.

**The smallest Eq. 8 bound over exact 2-PL centers** (:func:`best_two_pl`). For any set K of
centers, (‖u‖ + ‖v‖)² = min_{λ∈(0,1)} ‖u‖²/λ + ‖v‖²/(1−λ) gives

    min_{C∈K} (‖A−C‖ + ‖C−B‖)² = ‖A−B‖² + min_λ dist²(P_λ, K) / (λ(1−λ)),   P_λ = (1−λ)A + λB.

If n_j free rows are given to column j, the centers form a product of simplices, one per column,
and the projection of P_λ onto it zeroes the conflict rows and spreads column j's deficit
δ_j(λ) = (1−λ)α_j + λβ_j (α_j, β_j: the mass column j has on conflict rows in A, B) evenly over
its w_j = k_j + n_j rows (every coordinate of P_λ there is > 0, so no coordinate is clipped):

    dist² = (1−λ)² a_c + λ² b_c + Σ_j δ_j² / w_j,    a_c = ‖A on conflict rows‖², b_c likewise.

Minimising over λ in closed form (s = λ/(1−λ) = √(X/Y)):

    min (‖A−C‖ + ‖C−B‖)² = ‖A−B‖² + 2 (√(X Y) + Z),
    X = a_c + Σ α_j²/w_j,  Y = b_c + Σ β_j²/w_j,  Z = Σ α_j β_j / w_j.

What is left is the integer allocation n of the free rows (Σ n_j = #free; more rows never hurt;
n_j ≥ 1 where k_j = 0). Writing √(XY) + Z = min_s ψ(n, s) with
ψ = (a_c/s + b_c s)/2 + Σ_j c_j(s)/w_j, c_j(s) = (α_j/√s + β_j√s)²/2, the allocation at fixed s
is a separable convex resource allocation, solved exactly by the greedy rule (each column's term
is convex in n_j), and the minimum over n is h(greedy(s*)) at the optimal s*. Moving one free row
between two columns does not help exactly when a condition linear in s holds, so each allocation
is optimal on an interval of s (:func:`_region`). The search covers the range of s that can hold
s* by such intervals, evaluating first the midpoint of the uncovered stretch with the smallest
lower bound, and setting aside stretches whose lower bound (a_c/s1 + b_c s0)/2 + greedy value at each c_j's
minimum over [s0, s1] is not below the best value found. It ends with every s accounted for: the
minimum is exact (the returned ``lower`` equals the bound), not a local optimum.

**A lower bound for every path** (:func:`path_lower_bound`). On a conflict row, A has a_i e_j and
B has b_i e_k (j ≠ k); a path on the manifold keeps one nonzero coordinate per row, so the row
passes through 0 and travels at least a_i + b_i. By Minkowski's inequality over the blocks of
coordinates,

    G(θ1, θ2) ≥ √(1 + 2 Σ_conflict a_i b_i / ‖A − B‖²),

whatever the path (2-PL or not). For flat-Dirichlet magnitudes and rows zero with probability r
this tends, as m → ∞, to √(1 + (M−1)(1−r)/(2M−1+r)) (:func:`lower_bound_limit`): a constant > 1
for every fixed r < 1.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from .relu import ZERO, random_labels


# ---------------------------------------------------------------------------------------------
# random minima: Unif(M) and SP(M, r)
# ---------------------------------------------------------------------------------------------

def magnitudes(labels: np.ndarray, M: int, rng: np.random.Generator) -> np.ndarray:
    """The (…, m, M) minima with the given labels, column j's unit mass split over its rows by a
    flat Dirichlet (the uniform distribution on that simplex): normalised Exp(1) weights."""
    labels = np.asarray(labels)
    w = rng.exponential(size=labels.shape)
    onehot = (labels[..., None] == np.arange(M)) * w[..., None]
    sums = onehot.sum(-2, keepdims=True)
    if np.any(sums <= 0):
        raise ValueError(f"labels must use every column j < M={M}")
    return onehot / sums


def draw_pair(m: int, M: int, r: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two minima i.i.d. from SP(𝓜, r) (Definition 13: each row zero with probability r, else of
    a uniform type S_j), conditioned on every column being used, with flat-Dirichlet magnitudes.
    Returns (W, labels) of shapes (2, m, M) and (2, m)."""
    if not 0 <= r < 1:
        raise ValueError(f"r (zero-row probability) must be in [0, 1); got {r}")
    labels = random_labels(m, M, rng, size=(2,), p_zero=r)
    return magnitudes(labels, M, rng), labels


# ---------------------------------------------------------------------------------------------
# the structure of a pair
# ---------------------------------------------------------------------------------------------

def _structure(A: np.ndarray, B: np.ndarray, l1: np.ndarray, l2: np.ndarray, M: int) -> dict:
    conflict = (l1 != ZERO) & (l2 != ZERO) & (l1 != l2)
    free = (l1 == ZERO) & (l2 == ZERO)
    owner = np.where(l1 != ZERO, l1, l2)  # the one column a compatible row can carry
    owner = np.where(conflict | free, ZERO, owner)
    return {
        "conflict": conflict, "free": free, "owner": owner,
        "k": np.array([(owner == j).sum() for j in range(M)]),
        "alpha": A[conflict, :M].sum(0), "beta": B[conflict, :M].sum(0),
        "a_c": float((A[conflict] ** 2).sum()), "b_c": float((B[conflict] ** 2).sum()),
        "dist2": float(((A - B) ** 2).sum()),
    }


def _as_arrays(W1, W2, M: int) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(W1.detach().cpu() if hasattr(W1, "detach") else W1, dtype=np.float64)
    B = np.asarray(W2.detach().cpu() if hasattr(W2, "detach") else W2, dtype=np.float64)
    return A[:, :M], B[:, :M]


def path_lower_bound(W1, W2, l1: np.ndarray, l2: np.ndarray, M: int) -> float:
    """√(1 + 2 Σ_conflict a_i b_i / ‖θ1 − θ2‖²): no path on the manifold is shorter (module doc)."""
    A, B = _as_arrays(W1, W2, M)
    l1, l2 = np.asarray(l1), np.asarray(l2)
    c = (l1 != ZERO) & (l2 != ZERO) & (l1 != l2)
    if not c.any():
        return 1.0
    return math.sqrt(1 + 2 * float((A[c].sum(1) * B[c].sum(1)).sum()) / float(((A - B) ** 2).sum()))


def lower_bound_limit(M: int, r: float) -> float:
    """The m → ∞ value of :func:`path_lower_bound` for pairs from SP(𝓜, r) with flat-Dirichlet
    magnitudes: √(1 + (M−1)(1−r)/(2M−1+r)) (a column has ≈ m(1−r)/M rows of mean weight
    M/(m(1−r)) and mean square twice its square; conflicts are a fraction (1−r)²(M−1)/M of rows)."""
    return math.sqrt(1 + (M - 1) * (1 - r) / (2 * M - 1 + r))


# ---------------------------------------------------------------------------------------------
# the smallest Eq. 8 bound over exact 2-PL centers
# ---------------------------------------------------------------------------------------------

def _allocate(c: np.ndarray, k: np.ndarray, n_free: int) -> np.ndarray | None:
    """argmin over integers n ≥ [k == 0], Σ n = n_free, of Σ_j c_j / (k_j + n_j) (greedy: the
    n_free − Σ lower largest marginal gains; each column's gains decrease, so they form prefixes)."""
    lower = (k == 0).astype(np.int64)
    rem = n_free - int(lower.sum())
    if rem < 0:
        return None
    if rem == 0:
        return lower
    w0 = (k + lower).astype(np.float64)[:, None] + np.arange(rem)[None, :]
    gains = c[:, None] / (w0 * (w0 + 1))
    top = np.argpartition(gains.ravel(), gains.size - rem)[gains.size - rem:]
    return lower + np.bincount(top // rem, minlength=len(k))


def _region(st: dict, n: np.ndarray) -> tuple[float, float]:
    """The interval of s on which the allocation n minimises Σ_j c_j(s)/(k_j + n_j).

    Separable convex allocation: n is optimal iff moving one free row from a column i to a
    column j does not help, c_i(s)/((w_i−1)w_i) ≥ c_j(s)/(w_j(w_j+1)) (w = k + n). With
    c_j(s) = (α_j + β_j s)²/(2s) each condition is linear in s after a square root,
    (α_i + β_i s)/√((w_i−1)w_i) ≥ (α_j + β_j s)/√(w_j(w_j+1)), so the set is an interval.
    """
    k, al, be = st["k"], st["alpha"], st["beta"]
    w = (k + n).astype(np.float64)
    movable = n > (k == 0)
    qr = 1 / np.sqrt(np.maximum((w - 1) * w, 1))
    qa = 1 / np.sqrt(w * (w + 1))
    lo, hi = 0.0, math.inf
    for i in np.flatnonzero(movable):
        for j in range(len(k)):
            if j == i:
                continue
            dv = be[i] * qr[i] - be[j] * qa[j]  # condition: dv·s ≥ du
            du = al[j] * qa[j] - al[i] * qr[i]
            if dv > 0:
                lo = max(lo, du / dv)
            elif dv < 0:
                hi = min(hi, du / dv)
            elif du > 0:
                return math.inf, -math.inf  # optimal nowhere
    return lo, hi


def _xyz(st: dict, n: np.ndarray) -> tuple[float, float, float]:
    w = st["k"] + n
    al, be = st["alpha"], st["beta"]
    return (st["a_c"] + float(np.sum(al**2 / w)), st["b_c"] + float(np.sum(be**2 / w)),
            float(np.sum(al * be / w)))


def _c(st: dict, s: float) -> np.ndarray:
    return (st["alpha"] / math.sqrt(s) + st["beta"] * math.sqrt(s)) ** 2 / 2


def _c_min(st: dict, s0: float, s1: float) -> np.ndarray:
    """min over s ∈ [s0, s1] of each c_j(s) (convex in s, stationary at α_j/β_j)."""
    al, be = st["alpha"], st["beta"]
    star = np.divide(al, be, out=np.full_like(al, np.inf), where=be > 0)
    s = np.clip(star, s0, s1)
    return (al / np.sqrt(s) + be * np.sqrt(s)) ** 2 / 2


def best_two_pl(W1, W2, l1: np.ndarray, l2: np.ndarray, M: int, max_nodes: int = 100_000) -> dict:
    """The exact 2-PL center θ* minimising (‖θ1−θ*‖ + ‖θ*−θ2‖)/‖θ1−θ2‖ (Eq. 8) over every center
    on the minima manifold — rows zero in both minima included — and a certificate.

    Returns ``bound`` (the minimum; ``inf`` when no center exists), ``lower`` (a proven lower bound
    on it: equal to ``bound`` unless ``max_nodes`` ran out), ``center`` ((m, M) array or ``None``),
    ``lam`` (θ* is the projection of (1−λ)θ1 + λθ2), ``allocation`` (free rows per column),
    ``free_rows``, ``conflict_rows`` and ``nodes`` (allocations evaluated). Method and proof: the
    module docstring.
    """
    A, B = _as_arrays(W1, W2, M)
    st = _structure(A, B, np.asarray(l1), np.asarray(l2), M)
    n_free = int(st["free"].sum())
    out = {"free_rows": n_free, "conflict_rows": int(st["conflict"].sum())}
    if not st["conflict"].any():  # linearly connected (Lemma 7): the segment itself
        return {**out, "bound": 1.0, "lower": 1.0, "center": (A + B) / 2, "lam": 0.5,
                "allocation": np.zeros(M, dtype=np.int64), "nodes": 0}
    if int((st["k"] == 0).sum()) > n_free:  # more columns without a compatible row than free rows
        return {**out, "bound": math.inf, "lower": math.inf, "center": None, "lam": None,
                "allocation": None, "nodes": 0}

    def h(n):  # min over λ for a fixed allocation: √(XY) + Z
        X, Y, Z = _xyz(st, n)
        return math.sqrt(X * Y) + Z

    def greedy(s):
        return _allocate(_c(st, s), st["k"], n_free)

    a_c, b_c = st["a_c"], st["b_c"]
    X_max, Y_max = _xyz(st, (st["k"] == 0).astype(np.int64))[:2]
    lo, hi = math.sqrt(a_c / Y_max), math.sqrt(X_max / b_c)  # every optimal s = √(X/Y) lies here
    # Every s in [lo, hi] lies in the interval (_region) of some greedy allocation, and the
    # minimum is h(greedy(s*)). Stretches of s not yet covered by an evaluated allocation's
    # interval are kept with a lower bound of min_n ψ(n, s) over them; the one with the smallest
    # bound is split at its geometric midpoint, whose allocation is evaluated and its interval
    # covered. A stretch whose bound is not below the best value found cannot hold the minimum.
    n0, n1 = greedy(lo), greedy(hi)
    best_n = min((n0, n1), key=h)
    best = h(best_n)
    heap, pruned, nodes = [], math.inf, 2

    def add(s0, s1):
        nonlocal pruned
        if s1 <= s0 * (1 + 1e-12):
            return
        lb = (a_c / s1 + b_c * s0) / 2 + _greedy_value(_c_min(st, s0, s1), st["k"], n_free)
        if lb < best:
            heapq.heappush(heap, (lb, s0, s1))
        else:
            pruned = min(pruned, lb)

    add(max(lo, _region(st, n0)[1]), min(hi, _region(st, n1)[0]))
    while heap and nodes < max_nodes:
        lb, s0, s1 = heapq.heappop(heap)
        if lb >= best:
            pruned = min(pruned, lb)
            continue
        mid = math.sqrt(s0 * s1)
        n = greedy(mid)
        nodes += 1
        v = h(n)
        if v < best:
            best, best_n = v, n
        a, b = _region(st, n)
        add(s0, min(a, mid))
        add(max(b, mid), s1)
    lower = min([best, pruned] + [lb for lb, _, _ in heap])
    scale = st["dist2"] / 2  # bound² = 1 + h / scale
    C, lam = _center(A, B, st, best_n)
    return {**out, "bound": math.sqrt(1 + best / scale), "lower": math.sqrt(1 + max(lower, 0) / scale),
            "center": C, "lam": lam, "allocation": best_n, "nodes": nodes}


def _greedy_value(c: np.ndarray, k: np.ndarray, n_free: int) -> float:
    n = _allocate(c, k, n_free)
    return float(np.sum(c / (k + n)))


def _center(A: np.ndarray, B: np.ndarray, st: dict, n: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimiser for the allocation n: the projection of P_λ, λ = s/(1+s), s = √(X/Y)."""
    X, Y, _ = _xyz(st, n)
    s = math.sqrt(X / Y)
    lam = s / (1 + s)
    P = (1 - lam) * A + lam * B
    C = np.zeros_like(A)
    free = list(np.flatnonzero(st["free"]))
    for j in range(A.shape[1]):
        rows = np.concatenate([np.flatnonzero(st["owner"] == j), [free.pop() for _ in range(int(n[j]))]]).astype(int)
        delta = (1 - lam) * st["alpha"][j] + lam * st["beta"][j]
        C[rows, j] = P[rows, j] + delta / len(rows)
    return C, lam


def eq8(A, C, B) -> float:
    """(‖A−C‖ + ‖C−B‖) / ‖A−B‖ (Eq. 8)."""
    A, B, C = (np.asarray(x, dtype=np.float64) for x in (A, B, C))
    return float((np.linalg.norm(A - C) + np.linalg.norm(C - B)) / np.linalg.norm(A - B))
