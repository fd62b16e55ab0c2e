"""The computations of the Part I chapters (two-layer ReLU networks), one function per result.

Each function takes the chapter's resolved ``Config`` and returns plain data (lists, floats) that
the notebook plots and records; the mathematics lives in :mod:`.relu` and :mod:`.relu_train`.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..center import CenterConfig, find_center
from ..paths import ngd_bound
from . import relu as R
from . import relu_train as T

TOL = 1e-24  # a Monte-Carlo risk above this is "not zero": float64 rounding gives ~1e-32


def _rng(cfg, salt: int = 0) -> tuple[np.random.Generator, torch.Generator]:
    return np.random.default_rng([cfg.seed, salt]), torch.Generator().manual_seed(cfg.seed * 1000 + salt)


def _bar(it, desc):
    return tqdm(it, desc=desc, file=sys.stderr, mininterval=1)


# ---------------------------------------------------------------------------------------------
# relu-manifold
# ---------------------------------------------------------------------------------------------

def _perturb(W: torch.Tensor, lab: np.ndarray, M: int, kind: str, rng: np.random.Generator) -> torch.Tensor:
    """An off-manifold network near the minimum W (Theorem 6 says R > 0 there)."""
    P = W.clone()
    m, d = W.shape
    nz = np.flatnonzero(lab != R.ZERO)
    i = int(rng.choice(nz))
    j = int(lab[i])
    a = float(W[i, j])
    if kind == "noise":  # a small random perturbation of every entry
        P = P + rng.uniform(0.001, 0.1) * torch.tensor(rng.standard_normal((m, d))) / np.sqrt(m * d)
    elif kind == "mixed row":  # row i turned part-way towards another teacher direction e_k
        k = (j + 1 + int(rng.integers(M - 1))) % M if M > 1 else j
        s = rng.uniform(0.05, 0.95)
        P[i, j] = (1 - s) * a
        P[i, k] += s * a if k != j else 0.0
    elif kind == "column sum":  # column j scaled by 1 + δ
        P[:, j] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.01, 0.3)
    elif kind == "other direction":  # row i gains a component along e_k, k ≥ M (or −e_k, k < M)
        s = rng.uniform(0.05, 0.95)
        if d > M:
            P[i, M + int(rng.integers(d - M))] = s * a
        else:
            P[i, (j + 1) % d] = -s * a
    else:
        raise ValueError(kind)
    return P


OFF_KINDS = ("noise", "mixed row", "column sum", "other direction")


def manifold(cfg) -> dict:
    """Theorem 6 and Lemma 7 checked on random minima, perturbations and pairs."""
    t0 = time.time()
    rng, gen = _rng(cfg)
    M, d, m = cfg.M, cfg.d, cfg.m
    x = R.sphere(cfg.n_samples, d, gen)
    ef2 = float((R.teacher(x, M) ** 2).mean())
    # minima: exact identity f = f* and Monte-Carlo risk
    ident, risks, minima = [], [], []
    for _ in _bar(range(cfg.n_minima), "minima"):
        lab = R.random_labels(m, M, rng, p_zero=cfg.p_zero)
        W = R.minimum_from_labels(lab, M, d, rng)
        minima.append((W, lab))
        ident.append(R.identity_error(W, M, x))
        risks.append(float(R.risk(W, M, x)))
    # off the manifold
    off = {k: [] for k in OFF_KINDS}
    off_criterion = []
    for n in _bar(range(cfg.n_off), "off-manifold"):
        W, lab = minima[n % len(minima)]
        kind = OFF_KINDS[n % len(OFF_KINDS)]
        P = _perturb(W, lab, M, kind, rng)
        off_criterion.append(R.is_minimum(P, M))
        off[kind].append(float(R.risk(P, M, x)))
    # Lemma 7: criterion against the risk measured along the segment
    crit, seg_max, examples = [], [], {}
    for _ in _bar(range(cfg.n_pairs), "pairs"):
        l1 = R.random_labels(m, M, rng, p_zero=cfg.p_zero)
        while True:
            other = rng.integers(-1, M, size=m)
            l2 = np.where(rng.random(m) < cfg.p_keep, l1, other)
            if R.covers(l2, M):
                break
        W1, W2 = R.minimum_from_labels(l1, M, d, rng), R.minimum_from_labels(l2, M, d, rng)
        c = bool(R.linearly_connected(l1, l2))
        r = R.segment_risk(W1, W2, M, x, cfg.n_t)
        crit.append(c)
        seg_max.append(float(r.max()))
        if c not in examples:
            t = torch.linspace(0, 1, 51, dtype=torch.float64).reshape(-1, 1, 1)
            examples[c] = {"t": t.flatten().tolist(), "risk": R.risk((1 - t) * W1 + t * W2, M, x).tolist()}
    crit, seg_max = np.array(crit), np.array(seg_max)
    measured = seg_max > TOL
    off_all = [v for vs in off.values() for v in vs]
    return {
        "metrics": {
            "max_identity_error": max(ident), "max_risk_minima": max(risks),
            "min_risk_off": min(off_all), "min_rel_risk_off": min(off_all) / ef2,
            "off_flagged_by_theorem6": float(np.mean([not c for c in off_criterion])),
            "lemma7_agreement": float(np.mean(crit == ~measured)),
            "lemma7_connected_pairs": int(crit.sum()), "lemma7_pairs": int(len(crit)),
            "max_risk_connected_segments": float(seg_max[crit].max()) if crit.any() else None,
            "min_risk_broken_segments": float(seg_max[~crit].min()) if (~crit).any() else None,
            "E_fstar_sq": ef2, "n_samples": cfg.n_samples, "wall_s_compute": time.time() - t0,
        },
        "risk_minima": risks, "risk_off": off, "segment_max": seg_max.tolist(), "criterion": crit.tolist(),
        "examples": examples,
    }


# ---------------------------------------------------------------------------------------------
# relu-pl-connectivity and relu-star: probability curves
# ---------------------------------------------------------------------------------------------

def _grid(lo: int, hi: int, n: int = 40) -> list[int]:
    return sorted(set(np.unique(np.round(np.geomspace(lo, hi, n)).astype(int)).tolist()))


def probability_curves(cfg, Ms: list[int], ks: list[int], m_max: int, n_draws: int) -> dict:
    """For each (M, k): the estimated probability (exact decision on ``n_draws`` random draws),
    the exact probability under the sampling convention, and the paper's bound, against m."""
    rng, _ = _rng(cfg, 1)
    curves = []
    pairs = [(M, k) for M in Ms for k in ks]
    for M, k in _bar(pairs, "probability"):
        ms = _grid(M, max(M + 1, m_max))
        est, exact, bound, sd = [], [], [], []
        for m in ms:
            p = R.estimate_p_center(m, M, k, n_draws, rng)
            est.append(p)
            exact.append(R.p_center_exact(m, M, k))
            bound.append(R.p_center_bound(m, M, k))
            sd.append(float(np.sqrt(max(exact[-1] * (1 - exact[-1]), 0) / n_draws)))
        est_a, ex_a, b_a, sd_a = map(np.array, (est, exact, bound, sd))
        curves.append({"M": M, "k": k, "m": ms, "estimate": est, "exact": exact, "bound": bound,
                       "raw_violations": int((b_a > est_a).sum()),
                       # a violation beyond sampling noise: bound above the estimate by > 4 sd + 1/n
                       "violations": int((b_a > est_a + 4 * sd_a + 1 / n_draws).sum()),
                       "exact_violations": int((b_a > ex_a + 1e-12).sum()),
                       "max_z": float(np.max(np.abs(est_a - ex_a) / np.maximum(sd_a, 1 / n_draws)))})
    return {"curves": curves,
            "metrics": {"bound_violations": sum(c["violations"] for c in curves),
                        "bound_raw_violations": sum(c["raw_violations"] for c in curves),
                        "bound_exact_violations": sum(c["exact_violations"] for c in curves),
                        "max_z_estimate_vs_exact": max(c["max_z"] for c in curves)}}


def decision_consistency(cfg, M: int, k: int, m: int, n: int, d: int) -> dict:
    """The label-level decision against the weight-level construction: for n random draws of k
    minima, :func:`relu.center` returns a center exactly when :func:`relu.center_exists` says so,
    and every returned center joins every foot by a zero-loss segment (exact identity f = f*)."""
    rng, gen = _rng(cfg, 2)
    x = R.sphere(2000, d, gen)
    agree, worst = 0, 0.0
    for _ in range(n):
        labs = R.random_labels(m, M, rng, size=(k,), p_zero=0.2)
        feet = [R.minimum_from_labels(l, M, d, rng) for l in labs]
        C = R.center(feet, M)
        agree += (C is not None) == bool(R.center_exists(labs, M))
        if C is not None:
            for W in feet:
                worst = max(worst, R.path_max_error([W, C], M, x, n_t=5)["max_abs_error"])
    return {"agreement": agree / n, "max_abs_error_on_centers": worst}


def _adversarial_pair(m: int, M: int, rng: np.random.Generator) -> np.ndarray:
    """Two minima with no zero rows and a different label in every row: no column has a row
    compatible with both, so they are not 2-PL connected."""
    while True:
        l1 = rng.integers(0, M, size=m)
        l2 = (l1 + 1 + rng.integers(0, M - 1, size=m)) % M
        if R.covers(l1, M) and R.covers(l2, M):
            return np.stack([l1, l2])


def four_pl(cfg) -> dict:
    """Theorem 9: 4-PL paths for random and adversarial pairs, verified on sphere samples."""
    rng, gen = _rng(cfg, 3)
    M, d = cfg.M, cfg.d
    x = R.sphere(cfg.n_samples, d, gen)
    rows = []
    for m in _bar(cfg.widths_4pl, "4-PL"):
        for n in range(cfg.n_paths):
            adversarial = n % 2 == 1
            labs = _adversarial_pair(m, M, rng) if adversarial else R.random_labels(m, M, rng, size=(2,), p_zero=0.2)
            W1, W2 = (R.minimum_from_labels(l, M, d, rng) for l in labs)
            path = R.four_pl_path(W1, W2, M)
            err = R.path_max_error(path, M, x, n_t=11)
            seg_ok = all(bool(R.linearly_connected(R.labels_of(a, M), R.labels_of(b, M))) for a, b in zip(path, path[1:]))
            rows.append({"m": m, "adversarial": adversarial, "two_pl": bool(R.center_exists(labs, M)),
                         "segments_on_manifold": seg_ok, **err})
    refusal = None
    try:
        W = R.minimum_from_labels(np.arange(2 * M - 2) % M, M, d)
        R.four_pl_path(W, W, M)
    except ValueError as err:
        refusal = str(err)
    return {"rows": rows, "refusal": refusal, "metrics": {
        "four_pl_paths": len(rows), "four_pl_adversarial": sum(r["adversarial"] for r in rows),
        "four_pl_adversarial_without_2pl": sum(r["adversarial"] and not r["two_pl"] for r in rows),
        "four_pl_max_abs_error": max(r["max_abs_error"] for r in rows),
        "four_pl_max_risk": max(r["max_risk"] for r in rows),
        "four_pl_all_segments_on_manifold": all(r["segments_on_manifold"] for r in rows)}}


def extended_stars(cfg) -> dict:
    """Theorem 11: extended stars for k_star random feet at width m_star, verified."""
    rng, gen = _rng(cfg, 4)
    M, d, k, m = cfg.M, cfg.d, cfg.k_star, cfg.m_star
    x = R.sphere(cfg.n_samples, d, gen)
    out, example = [], None
    for n in _bar(range(cfg.n_stars), "extended stars"):
        labs = R.random_labels(m, M, rng, size=(k,), p_zero=0.0)
        feet = [R.minimum_from_labels(l, M, d, rng) for l in labs]
        star = R.extended_star(feet, M)
        err_abs, err_risk = 0.0, 0.0
        for W, C in zip(feet, star["centers"]):
            e = R.path_max_error([W, C, star["hub"]], M, x, n_t=11)
            err_abs, err_risk = max(err_abs, e["max_abs_error"]), max(err_risk, e["max_risk"])
        out.append({"common_center": bool(R.center_exists(labs, M)), "max_abs_error": err_abs, "max_risk": err_risk})
        if example is None:
            example = {"feet": feet, **star}
    return {"stars": out, "example": example, "metrics": {
        "stars": len(out), "stars_without_common_center": sum(not s["common_center"] for s in out),
        "star_max_abs_error": max(s["max_abs_error"] for s in out),
        "star_max_risk": max(s["max_risk"] for s in out)}}


def star_picture(example: dict, M: int, n_samples: int = 4000, seed: int = 0) -> dict:
    """A 2-D picture of an extended star: feet, their centers and the hub projected on the two
    leading principal directions of those points, and the risk at points off the star's segments
    (on a grid of the plane through them) to show the barriers a straight line crosses."""
    pts = list(example["feet"]) + list(example["centers"]) + [example["hub"]]
    X = torch.stack([p.flatten() for p in pts])
    mu = X.mean(0)
    U, S, V = torch.linalg.svd(X - mu, full_matrices=False)
    basis = V[:2]
    xy = ((X - mu) @ basis.T).tolist()
    x = R.sphere(n_samples, example["hub"].shape[1], torch.Generator().manual_seed(seed))
    k = len(example["feet"])
    t = torch.linspace(0, 1, 21, dtype=torch.float64).reshape(-1, 1, 1)
    straight = []  # foot-to-foot straight segments
    for a in range(k):
        for b in range(a + 1, k):
            Wa, Wb = example["feet"][a], example["feet"][b]
            straight.append({"a": a, "b": b, "max_risk": float(R.risk((1 - t) * Wa + t * Wb, M, x).max())})
    return {"xy": xy, "k": k, "straight": straight}


# ---------------------------------------------------------------------------------------------
# relu-ngd-sgd and relu-sparsity
# ---------------------------------------------------------------------------------------------

def sgd_solutions(cfg, m: int, data) -> tuple[torch.Tensor, dict]:
    """The ``2·n_pairs`` SGD solutions of width m (seeds ``1000·seed + s``): W (2·n_pairs, m, d)."""
    seeds = [cfg.seed * 1000 + s for s in range(2 * cfg.n_pairs)]
    return T.train_sgd(m, cfg.d, seeds, data, cfg.steps, cfg.lr_scale / m, cfg.batch_size, cfg.init_scale,
                       desc=f"SGD m={m}")


def pair_center(cfg, m: int, data, feet: list[dict], p: int) -> dict:
    """The center of pair p (feet ``[{"W": W1}, {"W": W2}]``) by the paper's search with penalty λ."""
    ccfg = CenterConfig(epochs=cfg.center_epochs, lr=cfg.center_lr, lam=cfg.lam, B_r=1, B_t=cfg.B_t,
                        batch_size=200, init="mean", seed=cfg.seed + p)
    return find_center(T.Student(m, cfg.d), feet, data, ccfg, progress=False, loss_fn=F.mse_loss)[0]


def ngd_vs_width(cfg) -> dict:
    """Fig 3 (left): SGD solutions per width, the paper's center search (λ > 0), the Eq. 8 NGD
    bound; and, for the same pairs projected onto the manifold, the best valid 2-PL bound."""
    M, d = cfg.M, cfg.d
    data = T.sphere_dataset(cfg.n_train, cfg.n_test, d, M, seed=cfg.seed)
    rows = []
    for m in cfg.widths:
        W, info = sgd_solutions(cfg, m, data)
        for p in range(cfg.n_pairs):
            a, b = W[2 * p], W[2 * p + 1]
            feet = [{"W": a}, {"W": b}]
            c = pair_center(cfg, m, data, feet, p)
            ngd = ngd_bound(feet[0], c, feet[1])
            t = torch.linspace(0, 1, cfg.n_t, dtype=torch.float64).reshape(-1, 1, 1)
            path = torch.cat([(1 - t) * a + t * c["W"], (1 - t) * b + t * c["W"]])
            path_loss = float(R.risk(path, M, data.test_x).max())
            lin_loss = float(R.risk((1 - t) * a + t * b, M, data.test_x).max())
            P1, l1 = T.project(a, M)
            P2, l2 = T.project(b, M)
            best = T.best_center(P1, P2, l1, l2, M)
            rows.append({"m": m, "pair": p, "ngd": ngd, "fold_max_test_loss": path_loss,
                         "linear_max_test_loss": lin_loss,
                         "foot_train_loss": [info["train_loss"][2 * p], info["train_loss"][2 * p + 1]],
                         "foot_test_loss": [info["test_loss"][2 * p], info["test_loss"][2 * p + 1]],
                         "projection_distance": [float((a - P1).norm()), float((b - P2).norm())],
                         "manifold_midpoint_bound": best["midpoint_bound"],
                         "manifold_best_bound": best["best_bound"]})
    means = [float(np.mean([r["ngd"] for r in rows if r["m"] == m])) for m in cfg.widths]
    best = [[r["manifold_best_bound"] for r in rows if r["m"] == m] for m in cfg.widths]
    best_means = [float(np.mean(b)) if all(v is not None for v in b) else None for b in best]
    from scipy.stats import spearmanr

    rho = float(spearmanr(cfg.widths, means).statistic) if len(cfg.widths) > 2 else float(np.sign(means[-1] - means[0]))
    return {"rows": rows, "metrics": {
        "widths": list(cfg.widths), "ngd_mean": means, "manifold_best_bound_mean": best_means,
        "ngd_decreasing": bool(all(x > y for x, y in zip(means, means[1:]))),
        "ngd_spearman_vs_m": rho,
        "ngd_at_largest_m": means[-1],
        "max_fold_test_loss": max(r["fold_max_test_loss"] for r in rows),
        "max_foot_train_loss": max(max(r["foot_train_loss"]) for r in rows),
        "min_linear_test_loss": min(r["linear_max_test_loss"] for r in rows),
        "pairs_without_manifold_center": sum(r["manifold_best_bound"] is None for r in rows),
        "E_fstar_sq": float((data.test_y**2).mean()),
    }, "data_source": data.source}


def sparsity_run(cfg) -> dict:
    """Fig 3 (right): one SGD solution of width m; its sorted neuron norms and their alignment."""
    M, d, m = cfg.M, cfg.d, cfg.m
    data = T.sphere_dataset(cfg.n_train, cfg.n_test, d, M, seed=cfg.seed)
    W, info = T.train_sgd(m, d, [cfg.seed], data, cfg.steps, cfg.lr_scale / m, cfg.batch_size, cfg.init_scale,
                          desc=f"SGD m={m}")
    W = W[0]
    W0 = T.Student(m, d, cfg.init_scale, seed=cfg.seed).W.detach()
    sp, sp0 = T.sparsity(W, cfg.top), T.sparsity(W0, cfg.top)
    norms = np.array(sp["norms"])
    sq = np.cumsum(norms**2) / np.sum(norms**2)
    n90 = int(np.searchsorted(sq, 0.9) + 1)
    order = W.norm(dim=1).argsort(descending=True)[: cfg.top]
    top = W[order]
    align = (top[:, :M].clamp(min=0).max(1).values / top.norm(dim=1)).tolist()  # cos to nearest e_j
    return {"norms": sp["norms"], "init_norms": sp0["norms"], "align_top": align, "data_source": data.source,
            "metrics": {
                "train_loss": info["train_loss"][0], "test_loss": info["test_loss"][0],
                "top_fraction": sp["top_fraction"], "top_fraction_sq": sp["top_fraction_sq"],
                "init_top_fraction_sq": sp0["top_fraction_sq"],
                "neurons_for_90pct_sq_mass": n90, "neurons_for_90pct_sq_mass_at_init":
                    int(np.searchsorted(np.cumsum(np.array(sp0["norms"]) ** 2) / np.sum(np.array(sp0["norms"]) ** 2), 0.9) + 1),
                "min_alignment_top": float(min(align)),
                "sparse": bool(sp["top_fraction_sq"] > 0.5),
                "E_fstar_sq": float((data.test_y**2).mean()),
            }}
