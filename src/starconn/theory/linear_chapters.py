"""The computations behind the four chapters of Part II (deep linear networks).

Each function is one chapter's result: it takes the chapter's parameters and returns plain
numbers and lists (figures are drawn by the notebooks). The mathematics is in
:mod:`starconn.theory.linear`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from . import linear as lin
from .linear_search import search_center


def _nonempty(**lists) -> None:
    from ..params import ParamError

    for name, value in lists.items():
        if not value:
            raise ParamError(f"parameter {name!r} must be a non-empty list; got {value!r}")


def _sample_cov(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Second moment Σ̂ = XᵀX / n of n Gaussian inputs (the training set's, so R is the training loss)."""
    X = rng.standard_normal((n, d))
    return X.T @ X / n


def _coef_norms(a, b, Q) -> list[float]:
    """Frobenius norm of each coefficient of P(t) − Q along a → b (power basis, degree 0..L)."""
    coefs = lin.segment_poly(a, b)
    coefs[0] = coefs[0] - Q
    return [float(np.linalg.norm(C)) for C in coefs]


# ----------------------------------------------------------------------------------------------
# Chapter linear-2pl (Theorem 16, Fig 1 right)


def two_pl(d: int, k: int, m: int, depths: list[int], n_train: int, n_t: int, seed: int) -> dict:
    """For each depth L: two random minima, their constructed 2-PL center, the coefficients of
    P(t) − Q on the direct segment and on both fold segments, and the training loss along both
    paths; then the degenerate pair (θ, −θ) at L = 2: the 2-PL constructor's refusal and a 3-PL path."""
    _nonempty(depths=depths)
    depths = [int(L) for L in depths]
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((k, d)) / math.sqrt(d)
    Sigma = _sample_cov(d, n_train, rng)
    out = {"Q": Q.tolist(), "depths": {}}
    for L in depths:
        a, b = lin.random_minimum(Q, m, L, rng), lin.random_minimum(Q, m, L, rng)
        c = lin.two_pl_center(a, b, Q, rng)
        s_lin, r_lin = lin.path_risks([a, b], Q, Sigma, 2 * n_t - 1)
        s_fold, r_fold = lin.path_risks([a, c, b], Q, Sigma, n_t)
        out["depths"][L] = {
            "direct_coefs": _coef_norms(a, b, Q),
            "fold_coefs": [_coef_norms(a, c, Q), _coef_norms(c, b, Q)],
            "fold_poly_residual": max(lin.poly_residual(a, c, Q), lin.poly_residual(c, b, Q)),
            "direct_poly_residual": lin.poly_residual(a, b, Q),
            "center_risk": float(lin.risk(c, Q, Sigma)),
            "direct_s": [s for s in s_lin], "direct_risk": r_lin,
            "fold_s": [s / 2 for s in s_fold], "fold_risk": r_fold,
            "direct_max_risk": max(r_lin), "fold_max_risk": max(r_fold),
            "ngd_bound": lin.ngd_bound(a, c, b),
            "scale": max(float(np.abs(A).max()) for A in a + b + c),
        }
    # the degenerate pair θ, −θ (L = 2): no 2-PL center by this construction, but a 3-PL path
    a = lin.random_minimum(Q, m, 2, rng)
    b = [-A for A in a]
    try:
        lin.two_pl_center(a, b, Q, rng)
        refusal = None
    except ValueError as err:
        refusal = str(err)
    c1, c2 = lin.three_pl_path(a, b, Q, rng)
    s3, r3 = lin.path_risks([a, c1, c2, b], Q, Sigma, n_t)
    out["degenerate"] = {
        "refusal": refusal,
        "three_pl_residuals": [lin.poly_residual(p, q, Q) for p, q in ((a, c1), (c1, c2), (c2, b))],
        "three_pl_s": [s / 3 for s in s3], "three_pl_risk": r3,
        "direct_max_risk": max(lin.path_risks([a, b], Q, Sigma, 2 * n_t - 1)[1]),
        "scale": max(float(np.abs(A).max()) for A in a + c1 + c2),
    }
    return out


# ----------------------------------------------------------------------------------------------
# Chapter linear-counterexample (Lemma 17)


def counterexample(m: int, sigma2: float, restarts: int, n_random: int, n_t: int, seed: int) -> dict:
    """Lemma 17's pair θ, −θ (d = k = 1, L = 2, y = x, E x² = sigma2):

    * the 2-PL constructor's refusal;
    * the algebraic contradiction: for *every* θ* the t-coefficients of P(t) − Q on the two
      segments sum to −4Q (a center needs both to vanish), checked on ``n_random`` random θ*;
    * the smallest integrated loss Σ_i ∫ R dt over centers θ* on the minima manifold (``restarts``
      L-BFGS runs) against the bound 4/15·E x², and over unrestricted θ* (closed form 1/6·E x²)."""
    a, b, Q = lin.lemma17_pair(m)
    Sigma = np.array([[sigma2]])
    try:
        lin.two_pl_center(a, b, Q, np.random.default_rng(seed))
        refusal = None
    except ValueError as err:
        refusal = str(err)
    rng = np.random.default_rng(seed)
    sums = []
    for _ in range(n_random):
        c = [rng.standard_normal(A.shape) for A in a]
        sums.append(float(lin.segment_poly(a, c)[1][0, 0] + lin.segment_poly(b, c)[1][0, 0]))
    best, c, values = search_center([a, b], Q, Sigma, restarts, seed=seed, on_manifold=True, progress=True)
    free, _, _ = search_center([a, b], Q, Sigma, max(2, restarts // 10), seed=seed + 1, on_manifold=False)
    s, r = lin.path_risks([a, c, b], Q, Sigma, n_t)
    return {
        "refusal": refusal,
        "linear_coef_sums": sums,
        "max_dev_linear_coef_sum": float(max(abs(x + 4 * Q[0, 0]) for x in sums)),
        "best_integrated_risk": best,
        "bound": 4 / 15 * sigma2,
        "best_over_bound": best / (4 / 15 * sigma2),
        "best_over_Ex2": best / sigma2,
        "restart_values": values,
        "best_free": free, "free_closed_form": sigma2 / 6,
        "center_risk": float(lin.risk(c, Q, Sigma)),
        "fold_s": [x / 2 for x in s], "fold_risk": r, "fold_max_risk": max(r),
        "center": [A.tolist() for A in c],
    }


# ----------------------------------------------------------------------------------------------
# Chapter linear-star (Theorem 18)


def star(d: int, depths: list[int], rs: list[int], extra_width: int, trials: int, restarts: int,
         search_trials: int, seed: int) -> dict:
    """Theorem 18's construction with a scalar output (k = 1, y = Qx, Q ∈ R^{1×d}).

    * ``exact``: for every (L, r) and m ∈ {paper width 2 + r(L − 1), that + extra_width}: the
      largest coefficient of P(t) − Q over all r segments, relative to the layers' scale, over
      ``trials`` random sets of minima;
    * ``below``: for m = 1 .. paper width: how often the construction succeeds, its least-squares
      residual, and (for L = 2 and m <= r + 1, where the construction stops working) how often a
      numerical search (``restarts`` L-BFGS runs on Σ_i ∫ R dt, ``search_trials`` sets) finds a
      center (min J / J(θ* = 0) < 1e-14, i.e. P(t) − Q of relative size ~1e-7). The search is
      only run at L = 2: for L >= 3 L-BFGS converges too slowly near degenerate centers to tell
      "no center" from "slow" (it stalls at ~1e-7 where the construction proves a center exists)."""
    _nonempty(depths=depths, rs=rs)
    depths, rs = [int(L) for L in depths], [int(r) for r in rs]
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((1, d)) / math.sqrt(d)
    exact, below = [], []
    cells = [(L, r) for L in depths for r in rs]
    for L, r in tqdm(cells, desc="(L, r)", mininterval=1):
        m_paper = lin.paper_width_condition(r, L) + 1
        for m in (m_paper, m_paper + extra_width):
            worst = 0.0
            for _ in range(trials):
                minima = [lin.random_minimum(Q, m, L, rng) for _ in range(r)]
                c = lin.star_center(minima, Q, rng)
                scale = max(float(np.abs(A).max()) for th in minima + [c] for A in th)
                res = max(lin.poly_residual(th, c, Q) for th in minima)
                worst = max(worst, res / max(1.0, scale) ** L)
            exact.append({"L": L, "r": r, "m": m, "rel_poly_residual": worst})
        for m in range(1, m_paper + 1):
            ok, resid, worst_ok = 0, [], 0.0
            for _ in range(trials):
                minima = [lin.random_minimum(Q, m, L, rng) for _ in range(r)]
                res: list[float] = []
                c = lin.star_center(minima, Q, rng, check_width=False, residuals=res)
                resid.append(max(res))
                if max(res) < 1e-9:  # the constructor's own acceptance test: every system consistent
                    ok += 1
                    scale = max(1.0, max(float(np.abs(A).max()) for th in minima + [c] for A in th))
                    worst_ok = max(worst_ok, max(lin.poly_residual(th, c, Q) for th in minima) / scale ** L)
            row = {"L": L, "r": r, "m": m, "construction_success": ok / trials,
                   "median_residual": float(np.median(resid)),
                   "rel_poly_residual_of_successes": worst_ok,
                   "paper_condition": m > lin.paper_width_condition(r, L),
                   "construction_condition": m >= lin.width_needed(r, d, 1)}
            if L == 2 and m <= lin.width_needed(r, d, 1) and search_trials:
                found, bests = 0, []
                for j in range(search_trials):
                    minima = [lin.random_minimum(Q, m, L, rng) for _ in range(r)]
                    J0 = sum(float(lin.integrated_risk(th, [np.zeros_like(A) for A in th], Q, np.eye(d)))
                             for th in minima)
                    best, _, _ = search_center(minima, Q, np.eye(d), restarts, seed=seed + 1000 * m + j,
                                                   max_iter=300)
                    bests.append(best / J0)
                    found += best / J0 < 1e-14  # J is quadratic in P(t) − Q: a 1e-7 relative residual
                row.update(search_found=found / search_trials, search_median_rel_J=float(np.median(bests)))
            below.append(row)
    return {"Q": Q.tolist(), "exact": exact, "below": below}


# ----------------------------------------------------------------------------------------------
# Chapter linear-ngd (Fig 4)


@dataclass
class NGDConfig:
    widths: list[int]
    runs: int
    n_train: int
    n_test: int
    epochs: int
    lr: float
    batch_size: int
    center_epochs: int
    center_lr: float
    lam: float
    B_t: int
    n_t: int
    seed: int
    extra: dict = field(default_factory=dict)


def ngd_minima(cfg: NGDConfig, m: int) -> tuple:
    """Fig 4's setting at width m (L = 2, d = m, k = 1): the data (a teacher Q ~ N(0, I/d), Gaussian
    inputs, y = Qx), Q, ``make(seed)`` (a fresh network) and the 2·runs minima trained by Adam (MSE)."""
    import torch.nn.functional as F

    from ..data import Dataset
    from ..train import TrainConfig, train_minima

    d = m
    g = torch.Generator().manual_seed(cfg.seed * 7919 + m)
    Q = torch.randn(1, d, generator=g) / math.sqrt(d)
    X, Xt = torch.randn(cfg.n_train, d, generator=g), torch.randn(cfg.n_test, d, generator=g)
    data = Dataset("gaussian-linear", X, X @ Q.T, Xt, Xt @ Q.T, f"synthetic N(0, I_{d}), y = Qx", num_classes=1)

    def make(s: int) -> torch.nn.Module:
        torch.manual_seed(s)
        return lin.DeepLinear(d, m, 2, 1)

    seeds = [cfg.seed * 1000 + i for i in range(2 * cfg.runs)]
    minima = train_minima(make, seeds, data, TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size),
                          progress=False, loss_fn=F.mse_loss)
    return data, Q, make, minima


def ngd_center(cfg: NGDConfig, data, make, a: dict, b: dict, j: int) -> dict:
    """The center of run j's pair (a, b) by the paper's search (+ λ‖θ − θi‖², B_r = 2, from their mean)."""
    import torch.nn.functional as F

    from ..center import CenterConfig, find_center

    return find_center(make(cfg.seed * 1000), [a, b], data,
                       CenterConfig(epochs=cfg.center_epochs, lr=cfg.center_lr, lam=cfg.lam, B_r=2, B_t=cfg.B_t,
                                    batch_size=cfg.batch_size, seed=cfg.seed + j),
                       progress=False, loss_fn=F.mse_loss)[0]


def ngd_vs_width(cfg: NGDConfig, progress: bool = True) -> dict:
    """Fig 4: L = 2, d = m, k = 1. For each width m: one teacher Q ~ N(0, I/d) and Gaussian data;
    2·runs minima trained by Adam from PyTorch's default initialisation (``train_minima``, MSE); for
    each run a center of its pair found by ``find_center`` (the paper's objective + lam·‖θ − θ_i‖²);
    the NGD bound (Eq. 8) of the center, and the population risk along both paths (Σ = I)."""
    from ..paths import ngd_bound

    _nonempty(widths=cfg.widths)
    widths = [int(m) for m in cfg.widths]
    rows = []
    for m in tqdm(widths, desc="widths", disable=not progress, mininterval=1):
        d = m
        data, Q, make, minima = ngd_minima(cfg, m)
        Qn = Q.double().numpy()
        ngds, fold_max, lin_max, center_risk, minima_risk = [], [], [], [], []
        for j in range(cfg.runs):
            (a, _), (b, _) = minima[2 * j], minima[2 * j + 1]
            c = ngd_center(cfg, data, make, a, b, j)
            ngds.append(ngd_bound(a, c, b))
            A, B, C = lin.mats_of(a), lin.mats_of(b), lin.mats_of(c)
            fold_max.append(max(lin.path_risks([A, C, B], Qn, np.eye(d), cfg.n_t)[1]))
            lin_max.append(max(lin.path_risks([A, B], Qn, np.eye(d), 2 * cfg.n_t - 1)[1]))
            center_risk.append(float(lin.risk(C, Qn, np.eye(d))))
            minima_risk.append(max(float(lin.risk(M, Qn, np.eye(d))) for M in (A, B)))
        rows.append({"m": m, "params": m * d + m, "ngd": ngds, "ngd_mean": float(np.mean(ngds)),
                     "ngd_sd": float(np.std(ngds, ddof=1)) if len(ngds) > 1 else 0.0,
                     "fold_max_risk": fold_max, "linear_max_risk": lin_max, "center_risk": center_risk,
                     "minima_risk": minima_risk,
                     "minima_train_loss": max(i["epoch_loss"] for _, i in minima)})
    return {"rows": rows}
