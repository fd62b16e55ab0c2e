"""The computations behind the four chapters of Part II (deep linear networks).

Each chapter function takes the chapter's resolved configuration and returns ``{"metrics": …}``
(every number the chapter records, asserts and scores) beside the lists its figures draw. The
mathematics is in :mod:`starconn.theory.linear`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from tqdm import tqdm

from .. import constraints
from ..stats import trend_metrics
from . import linear as lin
from .linear_search import search_center

ALPHA = 0.01  # significance level of the statistical claims of Part II
EXACT = 1e-10  # a coefficient of P(t) − Q relative to the layers' scale^L below this is round-off


def _sample_cov(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Second moment Σ̂ = XᵀX / n of n Gaussian inputs (the training set's, so R is the training loss)."""
    X = rng.standard_normal((n, d))
    return X.T @ X / n


def _coef_norms(a, b, Q) -> list[float]:
    """Frobenius norm of each coefficient of P(t) − Q along a → b (power basis, degree 0..L)."""
    coefs = lin.segment_poly(a, b)
    coefs[0] = coefs[0] - Q
    return [float(np.linalg.norm(C)) for C in coefs]


def _scale(thetas: list) -> float:
    """The layers' scale^L, max(1, largest entry)^L: what a coefficient of P(t) − Q is relative to."""
    return max(1.0, max(float(np.abs(A).max()) for th in thetas for A in th)) ** len(thetas[0])


def _rel_residual(path: list, Q) -> float:
    """Largest coefficient of P(t) − Q over the segments of a polygonal path, relative to the
    layers' scale^L: round-off (~1e-15) on the manifold."""
    return max(lin.poly_residual(p, q, Q) for p, q in zip(path, path[1:])) / _scale(path)


def _rel_star_residual(minima: list, c, Q) -> float:
    """Largest coefficient of P(t) − Q over the segments θ_i → c, relative to the layers' scale^L."""
    return max(lin.poly_residual(th, c, Q) for th in minima) / _scale(minima + [c])


# ----------------------------------------------------------------------------------------------
# Chapter linear-2pl (Theorem 16, Fig 1 right)


def two_pl(cfg) -> dict:
    """Theorem 16 (and Fig 1 right). For each depth L: ``pairs`` pairs of random minima, each with
    its constructed 2-PL center and a 3-PL path (θ_a → c_1 → c_2 → θ_b); the coefficients of
    P(t) − Q on every segment, the training loss along the direct segment and the fold-line; and
    whether the width meets the paper's condition m > 2L − 1 (the construction needs only
    m ≥ 3·min(d, k)). Then the degenerate pair (θ, −θ) at L = 2: the 2-PL constructor's refusal
    and a 3-PL path."""
    constraints.check(cfg)
    d, k, m, n_t = cfg.d, cfg.k, cfg.m, cfg.n_t
    rng = np.random.default_rng(cfg.seed)
    Q = rng.standard_normal((k, d)) / math.sqrt(d)
    Sigma = _sample_cov(d, cfg.n_train, rng)
    depths = {}
    for L in (int(L) for L in cfg.depths):
        pairs, drawn = [], None
        for i in range(cfg.pairs):
            a, b = lin.random_minimum(Q, m, L, rng), lin.random_minimum(Q, m, L, rng)
            c = lin.two_pl_center(a, b, Q, rng)
            c1, c2 = lin.three_pl_path(a, b, Q, rng)
            s_lin, r_lin = lin.path_risks([a, b], Q, Sigma, 2 * n_t - 1)
            s_fold, r_fold = lin.path_risks([a, c, b], Q, Sigma, n_t)
            pairs.append({"fold_poly_residual": max(lin.poly_residual(a, c, Q), lin.poly_residual(c, b, Q)),
                          "fold_rel_residual": _rel_residual([a, c, b], Q),
                          "three_pl_rel_residual": _rel_residual([a, c1, c2, b], Q),
                          "direct_poly_residual": lin.poly_residual(a, b, Q),
                          "fold_max_risk": max(r_fold), "direct_max_risk": max(r_lin),
                          "ngd_bound": lin.ngd_bound(a, c, b)})
            if i == 0:  # the pair the table and the figure show
                drawn = {"direct_coefs": _coef_norms(a, b, Q),
                         "fold_coefs": [_coef_norms(a, c, Q), _coef_norms(c, b, Q)],
                         "direct_s": s_lin, "direct_risk": r_lin,
                         "fold_s": [x / 2 for x in s_fold], "fold_risk": r_fold}
        depths[L] = {"paper_condition": m > 2 * L - 1, **drawn, **{key: [p[key] for p in pairs] for key in pairs[0]}}
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
    degenerate = {"refusal": refusal, "three_pl_s": [x / 3 for x in s3], "three_pl_risk": r3,
                  "direct_max_risk": max(lin.path_risks([a, b], Q, Sigma, 2 * n_t - 1)[1]),
                  "three_pl_rel_residual": _rel_residual([a, c1, c2, b], Q)}
    rows = list(depths.values())
    metrics = {
        "pairs_per_depth": cfg.pairs,
        "depths_meeting_paper_condition": [L for L, r in depths.items() if r["paper_condition"]],
        "depths_below_paper_condition": [L for L, r in depths.items() if not r["paper_condition"]],
        "fold_poly_residual": max(max(r["fold_poly_residual"]) for r in rows),
        "fold_rel_poly_residual": max(max(r["fold_rel_residual"]) for r in rows),
        "fold_max_risk": max(max(r["fold_max_risk"]) for r in rows),
        "direct_max_risk_smallest": min(min(r["direct_max_risk"]) for r in rows),
        "direct_poly_residual_smallest": min(min(r["direct_poly_residual"]) for r in rows),
        "three_pl_rel_residual_random": max(max(r["three_pl_rel_residual"]) for r in rows),
        "ngd_bound": {L: float(np.mean(r["ngd_bound"])) for L, r in depths.items()},
        "degenerate_refused": refusal is not None,
        "three_pl_rel_residual_degenerate": degenerate["three_pl_rel_residual"],
    }
    return {"Q": Q.tolist(), "depths": depths, "degenerate": degenerate, "metrics": metrics}


# ----------------------------------------------------------------------------------------------
# Chapter linear-counterexample (Lemma 17)


def lemma17_closed_form(s: float, sigma2: float) -> float:
    """Σ_i ∫_0^1 R dt along θ_1 → θ* → θ_2 for Lemma 17's pair and a center θ* = (w*, a*) on the
    manifold (a*ᵀw* = 1), as a function of s = a*ᵀw + aᵀw*: along θ_1 → θ*,
    P(t) − 1 = t(1 − t)(s − 2), along θ_2 = −θ_1 → θ*, P(t) − 1 = t(1 − t)(−s − 2), and
    ∫ t²(1 − t)² dt = 1/30, so the sum is E x²·((s − 2)² + (s + 2)²)/30 = E x²·(2s² + 8)/30:
    at least 4/15·E x², with equality exactly at s = 0."""
    return sigma2 * (2 * s * s + 8) / 30


def lemma17_center(s: float, m: int) -> lin.Mats:
    """A center on the manifold of Lemma 17's setting with a*ᵀw + aᵀw* = s for the pair
    θ_1 = (e_1, e_1ᵀ): w* = (s/2)e_1 + e_2, a* = (s/2)e_1 + (1 − s²/4)e_2 (so a*ᵀw* = 1).
    At s = 0 it is θ* = (e_2, e_2ᵀ), where the bound 4/15·E x² is attained."""
    w = np.zeros((m, 1))
    a = np.zeros((1, m))
    w[0, 0], w[1, 0] = s / 2, 1.0
    a[0, 0], a[0, 1] = s / 2, 1 - s * s / 4
    return [w, a]


def _s_of(center: lin.Mats, pair: lin.Mats) -> float:
    (w_s, a_s), (w, a) = center, pair
    return float((a_s @ w + a @ w_s)[0, 0])


def counterexample(cfg) -> dict:
    """Lemma 17's pair θ_1 = (e_1, e_1ᵀ), θ_2 = −θ_1 (d = k = 1, L = 2, y = x, E x² = sigma2):

    * the 2-PL constructor's refusal;
    * the closed form of Σ_i ∫ R dt against the exact integral (from the coefficients of
      P(t) − Q) on the family of centers :func:`lemma17_center` (s on a grid) and on ``n_random``
      random centers on the manifold; its minimum 4/15·E x², attained at θ* = (e_2, e_2ᵀ);
    * the smallest value over centers on the manifold found by L-BFGS (``restarts`` starts), and
      over unrestricted θ* (closed form 1/6·E x²)."""
    constraints.check(cfg)
    m, sigma2 = cfg.m, cfg.sigma2
    a, b, Q = lin.lemma17_pair(m)
    Sigma = np.array([[sigma2]])
    bound = 4 / 15 * sigma2
    rng = np.random.default_rng(cfg.seed)
    try:
        lin.two_pl_center(a, b, Q, rng)
        refusal = None
    except ValueError as err:
        refusal = str(err)

    def J(c):
        return float(lin.integrated_risk(a, c, Q, Sigma) + lin.integrated_risk(b, c, Q, Sigma))

    s_grid = np.linspace(-3, 3, 61)
    family = [J(lemma17_center(float(x), m)) for x in s_grid]
    randoms, dev = [], []
    for _ in range(cfg.n_random):  # random (w*, a*) with a* rescaled onto a*ᵀw* = 1
        w_s, a_s = rng.standard_normal((m, 1)), rng.standard_normal((1, m))
        a_s = a_s / (a_s @ w_s)[0, 0]
        c = [w_s, a_s]
        randoms.append(J(c))
        form = lemma17_closed_form(_s_of(c, a), sigma2)
        dev.append(abs(randoms[-1] - form) / form)
    dev += [abs(v - lemma17_closed_form(float(x), sigma2)) / lemma17_closed_form(float(x), sigma2)
            for v, x in zip(family, s_grid)]
    c0 = lemma17_center(0.0, m)  # where the bound is attained
    attained = J(c0)
    best, _, values = search_center([a, b], Q, Sigma, cfg.restarts, seed=cfg.seed, on_manifold=True, progress=True)
    free, _, _ = search_center([a, b], Q, Sigma, max(2, cfg.restarts // 10), seed=cfg.seed + 1, on_manifold=False)
    s, r = lin.path_risks([a, c0, b], Q, Sigma, cfg.n_t)
    smallest = min(min(family), min(randoms), best)
    metrics = {
        "refused": refusal is not None,
        "closed_form_max_rel_dev": float(max(dev)),
        "bound": bound,
        "best_integrated_risk": smallest,
        "best_integrated_risk_over_Ex2": smallest / sigma2,
        "best_over_bound": smallest / bound,
        "attained_over_bound": attained / bound,
        "family_argmin_s": float(s_grid[int(np.argmin(family))]),
        "random_min_over_bound": min(randoms) / bound,
        "search_best_over_bound": best / bound,
        "best_unrestricted_over_Ex2": free / sigma2,
        "center_risk": float(lin.risk(c0, Q, Sigma)),
        "fold_max_risk": max(r),
    }
    return {"refusal": refusal, "s_grid": s_grid.tolist(), "family": family, "random": randoms,
            "restart_values": values, "fold_s": [x / 2 for x in s], "fold_risk": r, "metrics": metrics}


# ----------------------------------------------------------------------------------------------
# Chapter linear-star (Theorem 18)


def star(cfg) -> dict:
    """Theorem 18's construction with a scalar output (k = 1, y = Qx, Q ∈ R^{1×d}).

    * ``exact``: for every (L, r) and m ∈ {paper width 2 + r(L − 1), that + extra_width}: the
      largest coefficient of P(t) − Q over all r segments, relative to the layers' scale, over
      ``trials`` random sets of minima;
    * ``below``: for m = 1 .. paper width: how often the construction succeeds, its least-squares
      residual, and (for L = 2 and m <= r + 1, where the construction stops working) how often a
      numerical search (``restarts`` L-BFGS runs on Σ_i ∫ R dt, ``search_trials`` sets) finds a
      center (min J / J(θ* = 0) < 1e-14, i.e. P(t) − Q of relative size ~1e-7). The search is
      only run at L = 2: for L >= 3 L-BFGS converges too slowly near degenerate centers to tell
      "no center" from "slow" (it stalls at ~1e-7 where the construction proves a center exists).

    Metrics about the search are left out when it did not run (no L = 2 in ``depths``, or
    ``search_trials`` = 0), and those about m = 1 when no r ≥ 2 was searched there."""
    constraints.check(cfg)
    d, extra_width, trials, restarts, search_trials, seed = (cfg.d, cfg.extra_width, cfg.trials, cfg.restarts,
                                                             cfg.search_trials, cfg.seed)
    depths, rs = [int(L) for L in cfg.depths], [int(r) for r in cfg.rs]
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
                worst = max(worst, _rel_star_residual(minima, lin.star_center(minima, Q, rng), Q))
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
                    worst_ok = max(worst_ok, _rel_star_residual(minima, c, Q))
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
    return {"Q": Q.tolist(), "exact": exact, "below": below, "metrics": star_metrics(exact, below)}


def star_metrics(exact: list[dict], below: list[dict]) -> dict:
    """The recorded numbers of :func:`star`; a metric that does not apply is left out."""
    above = [b for b in below if b["construction_condition"]]
    under = [b for b in below if not b["construction_condition"]]
    out = {"cases": len(exact),
           "max_rel_poly_residual": max(e["rel_poly_residual"] for e in exact),
           "rel_poly_residual_of_successes": max(b["rel_poly_residual_of_successes"] for b in below),
           "construction_success_at_or_above_r_plus_1": min(b["construction_success"] for b in above),
           "construction_success_below_r_plus_1": max(b["construction_success"] for b in under),
           "min_residual_below_r_plus_1": min(b["median_residual"] for b in under)}
    searched = [b for b in below if "search_found" in b]
    at_r = [b["search_found"] for b in searched if b["m"] == b["r"]]
    at_1 = [b["search_found"] for b in searched if b["m"] == 1 and b["r"] >= 2]
    if at_r:
        out["search_found_at_m_equal_r"] = float(np.mean(at_r))
    if at_1:
        out["search_found_at_m_1"] = float(np.mean(at_1))
    return out


# ----------------------------------------------------------------------------------------------
# Chapter linear-ngd (Fig 4)


def ngd_minima(cfg, m: int) -> tuple:
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


def ngd_center(cfg, data, make, a: dict, b: dict, j: int) -> dict:
    """The center of run j's pair (a, b) by the paper's search (+ λ‖θ − θi‖², B_r = 2, from their mean)."""
    import torch.nn.functional as F

    from ..center import CenterConfig, find_center

    return find_center(make(cfg.seed * 1000), [a, b], data,
                       CenterConfig(epochs=cfg.center_epochs, lr=cfg.center_lr, lam=cfg.lam, B_r=2, B_t=cfg.B_t,
                                    batch_size=cfg.batch_size, seed=cfg.seed + j),
                       progress=False, loss_fn=F.mse_loss)[0]


def ngd_vs_width(cfg, progress: bool = True) -> dict:
    """Fig 4: L = 2, d = m, k = 1. For each width m (``widths`` sorted, repeats dropped): one
    teacher Q ~ N(0, I/d) and Gaussian data; 2·runs minima trained by Adam from PyTorch's default
    initialisation (:func:`ngd_minima`); for each run a center of its pair (:func:`ngd_center`, the
    paper's objective + lam·‖θ − θ_i‖²); the NGD bound (Eq. 8) of the center, and the population
    risk along both paths (Σ = I). The trend of the NGD with the width is tested over every run
    (:func:`starconn.stats.trend_metrics`)."""
    from ..paths import ngd_bound

    constraints.check(cfg)
    widths = sorted({int(m) for m in cfg.widths})
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
        rows.append({"m": m, "params": m * d + m, "Ey2": float((Qn ** 2).sum()), "ngd": ngds,
                     "ngd_mean": float(np.mean(ngds)), "ngd_sd": float(np.std(ngds, ddof=1)) if len(ngds) > 1 else 0.0,
                     "fold_max_risk": fold_max, "linear_max_risk": lin_max, "center_risk": center_risk,
                     "minima_risk": minima_risk, "minima_train_loss": max(i["epoch_loss"] for _, i in minima)})
    return {"rows": rows, "metrics": ngd_metrics(rows)}


def ngd_metrics(rows: list[dict]) -> dict:
    """The recorded numbers of :func:`ngd_vs_width`: NGD per width (mean, sd), its trend over
    every run, the barriers along fold-lines and direct segments, and how close the feet are to
    minima (population risk relative to E y² = ‖Q‖²)."""
    first, last = rows[0], rows[-1]
    return {
        "ngd_mean": {r["m"]: r["ngd_mean"] for r in rows},
        "ngd_sd": {r["m"]: r["ngd_sd"] for r in rows},
        "ngd_narrowest": first["ngd_mean"], "ngd_widest": last["ngd_mean"],
        **trend_metrics([r["m"] for r in rows for _ in r["ngd"]], [v for r in rows for v in r["ngd"]], "ngd", ALPHA),
        "fold_max_risk_mean": {r["m"]: float(np.mean(r["fold_max_risk"])) for r in rows},
        "linear_max_risk_mean": {r["m"]: float(np.mean(r["linear_max_risk"])) for r in rows},
        "fold_below_linear_all_widths": all(np.mean(r["fold_max_risk"]) < np.mean(r["linear_max_risk"]) for r in rows),
        "minima_max_risk": max(max(r["minima_risk"]) for r in rows),
        "minima_max_rel_risk": max(max(r["minima_risk"]) / r["Ey2"] for r in rows),
    }
