"""Deep linear networks (Section 4): exact minima, 2-PL / 3-PL paths and star centers.

The network is f(x; θ) = A_L ⋯ A_1 x with A_1 ∈ R^{m×d}, A_l ∈ R^{m×m} (1 < l < L) and
A_L ∈ R^{k×m}; the target is y = Qx with Q ∈ R^{k×d}, E x = 0 and Σ = E xxᵀ ≻ 0, so that

    R(θ) = E ‖f(x; θ) − Qx‖² = tr((P − Q) Σ (P − Q)ᵀ),   P = A_L ⋯ A_1,

and the minima manifold is {P = Q}. A parameter point θ is a list ``[A_1, ..., A_L]`` of float64
arrays (numpy, or torch where gradients are needed).

On a segment θ(t) = (1 − t)θ_a + tθ_b every layer is affine in t, so P(t) is a matrix polynomial
of degree ≤ L in t. :func:`segment_poly` returns its coefficients exactly, and a segment lies on
the minima manifold iff every coefficient of P(t) − Q vanishes (:func:`poly_residual`).

The star-center construction (:func:`star_center`) makes every segment θ_i → θ* *linear in
function space*: writing B_l = A_l ⋯ A_1 for the partial products, it asks, layer by layer,

    (A*_l − A^i_l)(B^i_{l−1} − B*_{l−1}) = 0        for every minimum i and every l ≥ 2,
    A*_L B*_{L−1} = Q,

which are *linear* equations for A*_l once A*_1, ..., A*_{l−1} are fixed. Under them the mixed
partial product along segment i is exactly (1 − t)B^i_l + tB*_l at every depth (induction on l),
so P(t) = (1 − t)Q + tQ = Q for all t. A*_1 is free (drawn at random); layer l has r·d column
constraints (the last one (r + 1)·d), so the construction needs m ≥ (r + 1)·d. Run on the
transposed network (layers A_Lᵀ, ..., A_1ᵀ, target Qᵀ) it needs m ≥ (r + 1)·k instead; we use
whichever of d, k is smaller. With a scalar output (k = 1) it needs m ≥ r + 1.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

Mats = list  # list of 2-D arrays [A_1, ..., A_L]


# ----------------------------------------------------------------------------------------------
# The network as an nn.Module (for training with starconn.train / starconn.center)


class DeepLinear(nn.Module):
    """f(x) = A_L ⋯ A_1 x: bias-free ``nn.Linear`` layers d → m → ⋯ → m → k (depth L ≥ 1)."""

    def __init__(self, d: int, m: int, L: int, k: int = 1):
        super().__init__()
        if L < 1:
            raise ValueError(f"depth L must be >= 1; got {L}")
        dims = [d] + [m] * (L - 1) + [k]
        self.layers = nn.Sequential(*(nn.Linear(a, b, bias=False) for a, b in zip(dims, dims[1:])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def mats_of(params: dict) -> Mats:
    """Layer matrices [A_1, ..., A_L] (float64 numpy) of a :class:`DeepLinear` parameter dict."""
    keys = sorted(params, key=lambda s: int(s.split(".")[1]))
    return [params[k].detach().double().cpu().numpy() for k in keys]


def params_of(mats: Mats, dtype=torch.float32) -> dict:
    """The :class:`DeepLinear` parameter dict of layer matrices ``[A_1, ..., A_L]``."""
    return {f"layers.{i}.weight": torch.as_tensor(np.asarray(A), dtype=dtype) for i, A in enumerate(mats)}


# ----------------------------------------------------------------------------------------------
# Products, segments and losses (work for numpy arrays and torch tensors alike)


def product(mats: Sequence) -> np.ndarray:
    """P = A_L ⋯ A_1."""
    P = mats[0]
    for A in mats[1:]:
        P = A @ P
    return P


def lerp(a: Mats, b: Mats, t: float) -> Mats:
    return [(1 - t) * A + t * B for A, B in zip(a, b)]


def segment_poly(a: Mats, b: Mats) -> list:
    """Coefficients [C_0, ..., C_L] of P(t) = Σ_j t^j C_j for the product along θ_a → θ_b (exact)."""
    coefs = [a[0], b[0] - a[0]]
    for A, B in zip(a[1:], b[1:]):
        layer = [A, B - A]
        new = [None] * (len(coefs) + 1)
        for p, Lp in enumerate(layer):
            for q, Cq in enumerate(coefs):
                term = Lp @ Cq
                new[p + q] = term if new[p + q] is None else new[p + q] + term
        coefs = new
    return coefs


def poly_residual(a: Mats, b: Mats, Q) -> float:
    """max_j ‖coefficient j of P(t) − Q‖_max along θ_a → θ_b: zero iff the segment lies on {P = Q}."""
    coefs = segment_poly(a, b)
    coefs[0] = coefs[0] - Q
    return max(float(np.abs(np.asarray(C)).max()) for C in coefs)


def risk(mats: Sequence, Q, Sigma) -> float:
    """R(θ) = tr((P − Q) Σ (P − Q)ᵀ) = E ‖f(x) − Qx‖² when Σ = E xxᵀ (or the sample second moment)."""
    D = product(mats) - Q
    return (D @ Sigma * D).sum()


def integrated_risk(a: Sequence, b: Sequence, Q, Sigma):
    """∫_0^1 R(θ(t)) dt along θ_a → θ_b, exactly (from the coefficients of P(t) − Q)."""
    D = segment_poly(a, b)
    D[0] = D[0] - Q
    total = 0
    for j, Dj in enumerate(D):
        for l, Dl in enumerate(D):
            total = total + (Dj @ Sigma * Dl).sum() / (j + l + 1)
    return total


def path_risks(points: Sequence[Mats], Q, Sigma, n: int) -> tuple[list[float], list[float]]:
    """Risk at n points on each segment of the polygonal path through ``points``.

    Returns positions s (segment j covers s ∈ [j, j + 1]) and the risks."""
    s, r = [], []
    for j, (a, b) in enumerate(zip(points, points[1:])):
        for t in np.linspace(0, 1, n)[(1 if j else 0):]:
            s.append(j + float(t))
            r.append(float(risk(lerp(a, b, float(t)), Q, Sigma)))
    return s, r


def distance(a: Mats, b: Mats) -> float:
    return math.sqrt(sum(float(((A - B) ** 2).sum()) for A, B in zip(a, b)))


def ngd_bound(a: Mats, c: Mats, b: Mats) -> float:
    """Eq. 8 for layer lists: (‖θ_a − θ*‖ + ‖θ* − θ_b‖) / ‖θ_a − θ_b‖."""
    return (distance(a, c) + distance(c, b)) / distance(a, b)


# ----------------------------------------------------------------------------------------------
# Exact constructions (numpy, float64)


def _transpose(mats: Mats) -> Mats:
    return [A.T.copy() for A in reversed(mats)]


def _check_shapes(mats: Mats, Q: np.ndarray) -> tuple[int, int, int]:
    if len(mats) < 2:
        raise ValueError(f"depth L must be >= 2; got {len(mats)}")
    k, d = Q.shape
    m = mats[0].shape[0]
    want = [(m, d)] + [(m, m)] * (len(mats) - 2) + [(k, m)]
    got = [A.shape for A in mats]
    if got != want:
        raise ValueError(f"layer shapes {got} do not fit Q {Q.shape} and width {m}; expected {want}")
    return d, m, k


def _solve_right(M: np.ndarray, R: np.ndarray, rng: np.random.Generator, scale: float,
                 what: str, tol: float = 1e-9, residuals: list | None = None) -> np.ndarray:
    """A generic solution X of X M = R: X = R M⁺ + Z (I − M M⁺) with Z random.

    Raises ``ValueError`` if the system is inconsistent, unless ``residuals`` is a list: then the
    relative least-squares residual ‖X M − R‖_max / (1 + ‖R‖_max) is appended and X returned."""
    Mp = np.linalg.pinv(M)
    X = R @ Mp
    resid = np.abs(X @ M - R).max() if R.size else 0.0
    rel = resid / (1 + np.abs(R).max())
    if residuals is not None:
        residuals.append(float(rel))
    elif rel > tol:
        raise ValueError(
            f"{what}: the linear system X·M = R of the construction is inconsistent (residual "
            f"{resid:.2e}, rank M = {np.linalg.matrix_rank(M)} of {M.shape[1]} columns); the minima "
            "are degenerate for this construction (e.g. Lemma 17's pair θ, −θ)"
        )
    Z = rng.standard_normal((R.shape[0], M.shape[0])) * scale
    return X + Z @ (np.eye(M.shape[0]) - M @ Mp)


def width_needed(r: int, d: int, k: int) -> int:
    """The width the star-center construction needs for r minima: (r + 1)·min(d, k)."""
    return (r + 1) * min(d, k)


def paper_width_condition(r: int, L: int) -> int:
    """Theorem 18's sufficient width (scalar output): m > 1 + r(L − 1); returns 1 + r(L − 1)."""
    return 1 + r * (L - 1)


def random_minimum(Q: np.ndarray, m: int, L: int, rng: np.random.Generator) -> Mats:
    """A random point of {A_L ⋯ A_1 = Q}: L − 1 Gaussian layers (variance 1/fan-in), the last solved.

    The solved layer is the one on the side of min(d, k) (the first layer when k < d), with a random
    component in the null space of its equation. Needs m >= min(d, k)."""
    Q = np.asarray(Q, dtype=np.float64)
    k, d = Q.shape
    if L < 2:
        raise ValueError(f"depth L must be >= 2; got {L}")
    if m < min(d, k):
        raise ValueError(f"width m must be >= min(d, k) = {min(d, k)} for a random minimum; got {m}")
    if k < d:
        return _transpose(random_minimum(Q.T, m, L, rng))
    dims = [d] + [m] * (L - 1)
    mats = [rng.standard_normal((b, a)) / math.sqrt(a) for a, b in zip(dims, dims[1:])]
    B = product(mats)
    last = _solve_right(B, Q, rng, 1 / math.sqrt(m), "random minimum")
    return mats + [last]


def star_center(minima: Sequence[Mats], Q: np.ndarray, rng: np.random.Generator,
                check_width: bool = True, residuals: list | None = None) -> Mats:
    """A common linear center θ* of r minima: every segment θ_i → θ* lies on {P = Q} (Theorem 18).

    The layer-by-layer linear construction of the module docstring. Raises ``ValueError`` when the
    width m is below (r + 1)·min(d, k) (``check_width``) or when a linear system is inconsistent
    (unless ``residuals`` is a list: then each layer's relative least-squares residual is appended
    to it and the least-squares "center" returned, for studying what fails below the width)."""
    Q = np.asarray(Q, dtype=np.float64)
    minima = [[np.asarray(A, dtype=np.float64) for A in th] for th in minima]
    if not minima:
        raise ValueError("star_center needs at least one minimum (r >= 1)")
    d, m, k = _check_shapes(minima[0], Q)
    for th in minima:
        _check_shapes(th, Q)
        if len(th) != len(minima[0]):
            raise ValueError("all minima must have the same depth L")
        res = np.abs(product(th) - Q).max()
        if res > 1e-8 * (1 + np.abs(Q).max()):
            raise ValueError(f"a foot is not a minimum: max |A_L⋯A_1 − Q| = {res:.2e}")
    r, L = len(minima), len(minima[0])
    need = width_needed(r, d, k)
    if check_width and m < need:
        raise ValueError(
            f"width m = {m} is too small for a star center of r = {r} minima with d = {d}, k = {k}: "
            f"the construction needs m >= (r + 1)·min(d, k) = {need}"
        )
    if k < d:
        return _transpose(star_center([_transpose(th) for th in minima], Q.T, rng, check_width, residuals))
    scale = float(np.mean([np.sqrt((th[0] ** 2).mean()) for th in minima]))
    A1 = rng.standard_normal((m, d)) * scale
    center = [A1]
    Bstar = A1
    Bs = [th[0] for th in minima]
    for l in range(1, L):
        Us = [B - Bstar for B in Bs]
        cols = np.concatenate(Us, axis=1)
        rhs = np.concatenate([th[l] @ U for th, U in zip(minima, Us)], axis=1)
        if l == L - 1:
            cols = np.concatenate([cols, Bstar], axis=1)
            rhs = np.concatenate([rhs, Q], axis=1)
        lscale = float(np.mean([np.sqrt((th[l] ** 2).mean()) for th in minima]))
        Al = _solve_right(cols, rhs, rng, lscale, f"star center, layer {l + 1} of {L}", residuals=residuals)
        center.append(Al)
        Bstar = Al @ Bstar
        Bs = [th[l] @ B for th, B in zip(minima, Bs)]
    return center


def two_pl_center(a: Mats, b: Mats, Q: np.ndarray, rng: np.random.Generator) -> Mats:
    """Theorem 16: a 2-PL center θ* of two minima (θ_a → θ* → θ_b on the minima manifold)."""
    return star_center([a, b], Q, rng)


def three_pl_path(a: Mats, b: Mats, Q: np.ndarray, rng: np.random.Generator) -> tuple[Mats, Mats]:
    """A 3-PL path θ_a → c_1 → c_2 → θ_b on the minima manifold, for any pair (also degenerate ones).

    c_1 is a linear neighbour of θ_a (a star center of {θ_a} alone); c_2 is a 2-PL center of the
    pair (c_1, θ_b), which is generic even when (θ_a, θ_b) is not."""
    c1 = star_center([a], Q, rng)
    c2 = two_pl_center(c1, b, Q, rng)
    return c1, c2


def lemma17_pair(m: int = 4) -> tuple[Mats, Mats, np.ndarray]:
    """The degenerate pair of Lemma 17: d = k = 1, L = 2, y = x, θ_1 = (A_1 = e_1, A_2 = e_1ᵀ) (so
    A_2A_1 = 1) and θ_2 = −θ_1, at width m.

    Any pair θ = (w, wᵀ) with ‖w‖ = 1 and its negative is equivalent: an orthogonal U with
    Ue_1 = w maps (A_1, A_2) to (UA_1, A_2Uᵀ), which leaves every product A_2A_1, every risk and
    every distance unchanged (e.g. w = 1/√m·(1, …, 1), which is ½(1, 1, 1, 1) at m = 4)."""
    e1 = np.zeros((m, 1))
    e1[0, 0] = 1.0
    return [e1.copy(), e1.T.copy()], [-e1, -e1.T], np.ones((1, 1))
