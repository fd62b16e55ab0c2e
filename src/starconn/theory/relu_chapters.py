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

from .. import constraints
from ..center import CenterConfig, find_center
from ..paths import ngd_bound
from ..stats import binomial_interval, binomial_se, trend_metrics
from . import relu as R
from . import relu_train as T

TOL = 1e-24  # a Monte-Carlo risk above this is "not zero": float64 rounding gives ~1e-32
ALPHA = 0.01  # family-wise error rate of every statistical claim of Part I
TRAINED = 1e-2  # an SGD student is a solution when its training loss is below TRAINED·E f*²


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


def _second_labels(l1: np.ndarray, M: int, p_keep: float, p_zero: float, rng: np.random.Generator) -> np.ndarray:
    """The labels of the second minimum of a Lemma 7 pair: each row copies the first's label with
    probability ``p_keep``, else takes a fresh one (zero with probability ``p_zero``, else a uniform
    column); a column then left without a row is given a row that is zero or shares its label
    with another row (one always exists while a column is unused, since m ≥ M)."""
    fresh = R.random_labels(len(l1), M, rng, p_zero=p_zero)
    l2 = np.where(rng.random(len(l1)) < p_keep, l1, fresh)
    for j in range(M):
        if not (l2 == j).any():
            counts = np.bincount(l2[l2 != R.ZERO], minlength=M)
            spare = np.flatnonzero((l2 == R.ZERO) | (counts[np.maximum(l2, 0)] > 1))
            l2[int(rng.choice(spare))] = j
    return l2


def manifold(cfg) -> dict:
    """Theorem 6 and Lemma 7 checked on random minima, perturbations and pairs."""
    constraints.check(cfg)
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
        l2 = _second_labels(l1, M, cfg.p_keep, cfg.p_zero, rng)
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
    metrics = {
        "max_identity_error": max(ident), "max_risk_minima": max(risks),
        "min_risk_off": min(off_all), "min_rel_risk_off": min(off_all) / ef2,
        "off_flagged_by_theorem6": float(np.mean([not c for c in off_criterion])),
        "lemma7_agreement": float(np.mean(crit == ~measured)),
        "lemma7_connected_pairs": int(crit.sum()), "lemma7_pairs": int(len(crit)),
        "E_fstar_sq": ef2, "n_samples": cfg.n_samples, "wall_s_compute": time.time() - t0,
    }
    if crit.any():
        metrics["max_risk_connected_segments"] = float(seg_max[crit].max())
    if (~crit).any():
        metrics["min_risk_broken_segments"] = float(seg_max[~crit].min())
    return {
        "metrics": metrics,
        "risk_minima": risks, "risk_off": off, "segment_max": seg_max.tolist(), "criterion": crit.tolist(),
        "examples": examples,
    }


# ---------------------------------------------------------------------------------------------
# relu-pl-connectivity and relu-star: probability curves
# ---------------------------------------------------------------------------------------------

def _grid(lo: int, hi: int, n: int = 40) -> list[int]:
    return sorted(set(np.unique(np.round(np.geomspace(lo, hi, n)).astype(int)).tolist()))


def probability_curves(cfg, Ms: list[int], ks: list[int], m_max: int, n_draws: int) -> dict:
    """For each (M, k) and width m: the probability that k random minima have a common center,
    against the paper's bound (Theorems 8 and 10).

    * The paper's draw (what the claim is tested on): every row is one of the M + 1 types S_0
      (zero), S_1 … S_M with equal probability, conditioned on every column being used; the
      probability is estimated on ``n_draws`` draws (exact decision each) with a Clopper–Pearson
      interval at family-wise confidence 1 − ALPHA over all widths of all curves (Bonferroni).
    * The variant with no zero rows: the same estimate beside its closed form
      (:func:`relu.p_center_exact`) — under it the bound holds by a union bound, so it is shown,
      not tested; the estimate against the closed form checks the sampler and the decision.
    """
    rng, _ = _rng(cfg, 1)
    pairs = [(M, k) for M in Ms for k in ks]
    grids = {(M, k): _grid(M, max(M + 1, m_max)) for M, k in pairs}
    level = 1 - ALPHA / sum(len(g) for g in grids.values())
    curves = []
    for M, k in _bar(pairs, "probability"):
        c = {"M": M, "k": k, "m": grids[M, k], "estimate": [], "lower": [], "upper": [], "bound": [],
             "variant_estimate": [], "variant_exact": [], "variant_inside": []}
        for m in grids[M, k]:
            hits = round(R.estimate_p_center(m, M, k, n_draws, rng, p_zero=R.paper_p_zero(M)) * n_draws)
            lo, hi = binomial_interval(hits, n_draws, level)
            c["estimate"].append(hits / n_draws)
            c["lower"].append(lo)
            c["upper"].append(hi)
            c["bound"].append(R.p_center_bound(m, M, k))
            v_hits = round(R.estimate_p_center(m, M, k, n_draws, rng, p_zero=0.0) * n_draws)
            v_lo, v_hi = binomial_interval(v_hits, n_draws, level)
            exact = R.p_center_exact(m, M, k)
            c["variant_estimate"].append(v_hits / n_draws)
            c["variant_exact"].append(exact)
            c["variant_inside"].append(bool(v_lo - 1e-12 <= exact <= v_hi + 1e-12))
        curves.append(c)
    return {"curves": curves, "confidence": level, "metrics": probability_metrics(curves, n_draws)}


def probability_metrics(curves: list[dict], n_draws: int) -> dict:
    """The recorded numbers of :func:`probability_curves`: violations of the bound beyond the
    sampling error (bound above the upper limit), and the smallest margin estimate − bound
    with its standard error, and the smallest margin in standard errors, over the *informative*
    widths — where the bound is not vacuous (> 0) and the estimate is below 1 (where every draw
    had a center, the upper limit is 1 and no bound can be caught above it). Margins are left out
    when no width is informative."""
    rows = [(c["M"], c["k"], m, est, up, b)
            for c in curves for m, est, up, b in zip(c["m"], c["estimate"], c["upper"], c["bound"])]
    out = {"bound_violations": sum(b > up for *_, up, b in rows),
           "bound_raw_violations": sum(b > est for *_, est, _, b in rows),
           "bound_nonvacuous_widths": sum(b > 0 for *_, b in rows),
           "informative_widths": sum(b > 0 and est < 1 for *_, est, _, b in rows),
           "widths_tested": len(rows),
           "variant_outside_interval": sum(not x for c in curves for x in c["variant_inside"]),
           "variant_bound_exact_violations": sum(b > e + 1e-12 for c in curves
                                                 for b, e in zip(c["bound"], c["variant_exact"]))}
    live = [r for r in rows if r[-1] > 0 and r[3] < 1]
    if live:
        M, k, m, est, _, b = min(live, key=lambda r: r[3] - r[5])
        out.update(min_margin=est - b, min_margin_se=binomial_se(est, n_draws), min_margin_at=f"M={M}, k={k}, m={m}")
        M, k, m, est, _, b = min(live, key=lambda r: (r[3] - r[5]) / binomial_se(r[3], n_draws))
        out.update(min_margin_z=(est - b) / binomial_se(est, n_draws), min_margin_z_at=f"M={M}, k={k}, m={m}")
    return out


def decision_consistency(cfg, M: int, k: int, m: int, n: int, d: int) -> dict:
    """The label-level decision against the weight-level construction: for n random draws of k
    minima (the paper's draw), :func:`relu.center` returns a center exactly when
    :func:`relu.center_exists` says so, and every returned center joins every foot by a zero-loss
    segment (exact identity f = f*)."""
    rng, gen = _rng(cfg, 2)
    x = R.sphere(2000, d, gen)
    agree, worst = 0, 0.0
    for _ in range(n):
        labs = R.random_labels(m, M, rng, size=(k,), p_zero=R.paper_p_zero(M))
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
    """Theorem 9: 4-PL paths for random (the paper's draw) and adversarial pairs, verified on
    sphere samples; and the refusal below m = 2M − 1."""
    rng, gen = _rng(cfg, 3)
    M, d = cfg.M, cfg.d
    x = R.sphere(cfg.n_samples, d, gen)
    rows = []
    for m in _bar(cfg.widths_4pl, "4-PL"):
        for n in range(cfg.n_paths):
            adversarial = n % 2 == 1
            labs = (_adversarial_pair(m, M, rng) if adversarial
                    else R.random_labels(m, M, rng, size=(2,), p_zero=R.paper_p_zero(M)))
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
        "four_pl_all_segments_on_manifold": all(r["segments_on_manifold"] for r in rows),
        "four_pl_refused_below_2M_minus_1": refusal is not None}}


def pl_connectivity(cfg) -> dict:
    """The chapter relu-pl-connectivity: Theorem 8's probability curves (k = 2, every M in
    ``Ms``), the decision against the construction, and Theorem 9's 4-PL paths."""
    constraints.check(cfg)
    prob = probability_curves(cfg, cfg.Ms, [2], cfg.m_max, cfg.n_draws)
    cons = decision_consistency(cfg, cfg.M, 2, 2 * cfg.M, max(10, cfg.n_draws // 10), cfg.d)
    fpl = four_pl(cfg)
    metrics = {**prob["metrics"], **fpl["metrics"], "decision_agreement": cons["agreement"],
               "decision_center_max_abs_error": cons["max_abs_error_on_centers"]}
    return {"metrics": metrics, "curves": prob["curves"], "confidence": prob["confidence"],
            "four_pl": fpl["rows"], "refusal": fpl["refusal"]}


def extended_stars(cfg) -> dict:
    """Theorem 11: extended stars for k_star random feet (the paper's draw) at width m_star, verified."""
    rng, gen = _rng(cfg, 4)
    M, d, k, m = cfg.M, cfg.d, cfg.k_star, cfg.m_star
    x = R.sphere(cfg.n_samples, d, gen)
    out, example = [], None
    for n in _bar(range(cfg.n_stars), "extended stars"):
        labs = R.random_labels(m, M, rng, size=(k,), p_zero=R.paper_p_zero(M))
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
    leading principal directions of those points, and the largest risk on each straight segment
    between two feet (the barriers a straight line crosses)."""
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


def star(cfg) -> dict:
    """The chapter relu-star: Theorem 10's probability curves (teacher M, every k in ``ks``),
    Theorem 11's extended stars, and the picture of one."""
    constraints.check(cfg)
    prob = probability_curves(cfg, [cfg.M], cfg.ks, cfg.m_max, cfg.n_draws)
    stars = extended_stars(cfg)
    pic = star_picture(stars["example"], cfg.M, seed=cfg.seed)
    metrics = {**prob["metrics"], **stars["metrics"]}
    if pic["straight"]:  # k_star >= 2: straight segments between feet exist
        metrics["max_straight_risk_example"] = max(s["max_risk"] for s in pic["straight"])
    return {"metrics": metrics, "curves": prob["curves"], "confidence": prob["confidence"],
            "stars": stars["stars"], "picture": pic}


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
    """Fig 3 (left): SGD solutions per width (``widths`` sorted, repeats dropped), the paper's
    center search (λ > 0), the Eq. 8 NGD bound and its trend with the width (one point per pair,
    :func:`starconn.stats.trend_metrics`); and, for the same pairs projected onto the manifold,
    the Eq. 8 bound of the best 2-PL center on the projected minima's dedicated rows
    (:func:`relu_train.best_center`)."""
    constraints.check(cfg)
    M, d = cfg.M, cfg.d
    data = T.sphere_dataset(cfg.n_train, cfg.n_test, d, M, seed=cfg.seed)
    rows = []
    for m in sorted({int(m) for m in cfg.widths}):
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
            row = {"m": m, "pair": p, "ngd": ngd, "fold_max_test_loss": path_loss, "linear_max_test_loss": lin_loss,
                   "foot_train_loss": [info["train_loss"][2 * p], info["train_loss"][2 * p + 1]],
                   "foot_test_loss": [info["test_loss"][2 * p], info["test_loss"][2 * p + 1]]}
            try:
                P1, l1 = T.project(a, M)
                P2, l2 = T.project(b, M)
            except ValueError:  # a column with no positive weight: the student is far from any minimum
                row["projectable"] = False
            else:
                best = T.best_center(P1, P2, l1, l2, M)
                row.update(projectable=True, projection_distance=[float((a - P1).norm()), float((b - P2).norm())],
                           manifold_midpoint_bound=best["midpoint_bound"], manifold_2pl_bound=best["best_bound"])
            rows.append(row)
    return {"rows": rows, "metrics": ngd_metrics(rows, float((data.test_y**2).mean())), "data_source": data.source}


def ngd_metrics(rows: list[dict], ef2: float) -> dict:
    """The recorded numbers of :func:`ngd_vs_width` from its rows (one per pair): the mean NGD
    bound per width, its trend over every pair, the losses on the paths and at the feet, and the
    exact 2-PL bounds of the projected pairs (their means left out unless every pair has one)."""
    widths = sorted({r["m"] for r in rows})
    means = [float(np.mean([r["ngd"] for r in rows if r["m"] == m])) for m in widths]
    metrics = {
        "widths": widths, "ngd_mean": means,
        "ngd_means_strictly_decreasing": bool(all(x > y for x, y in zip(means, means[1:]))),
        "ngd_at_largest_m": means[-1],
        **trend_metrics([r["m"] for r in rows], [r["ngd"] for r in rows], "ngd", ALPHA),
        "max_fold_test_loss": max(r["fold_max_test_loss"] for r in rows),
        "max_foot_train_loss": max(max(r["foot_train_loss"]) for r in rows),
        "min_linear_test_loss": min(r["linear_max_test_loss"] for r in rows),
        "pairs_not_projectable": sum(not r["projectable"] for r in rows),
        "pairs_without_manifold_center": sum(r.get("manifold_2pl_bound", 0) is None for r in rows),
        "E_fstar_sq": ef2,
    }
    per_width = [[r.get("manifold_2pl_bound") for r in rows if r["m"] == m] for m in widths]
    if all(v is not None for b in per_width for v in b):
        metrics["manifold_2pl_bound_mean"] = [float(np.mean(b)) for b in per_width]
    return metrics


def _count_for_share(norms: np.ndarray, share: float) -> int:
    """How many of the largest ``norms`` carry ``share`` of the total squared norm."""
    sq = np.cumsum(np.sort(norms)[::-1] ** 2)
    return int(np.searchsorted(sq / sq[-1], share) + 1)


def sparsity_run(cfg) -> dict:
    """Fig 3 (right): one SGD solution of width m; its sorted neuron norms and their alignment."""
    constraints.check(cfg)
    M, d, m = cfg.M, cfg.d, cfg.m
    data = T.sphere_dataset(cfg.n_train, cfg.n_test, d, M, seed=cfg.seed)
    W, info = T.train_sgd(m, d, [cfg.seed], data, cfg.steps, cfg.lr_scale / m, cfg.batch_size, cfg.init_scale,
                          desc=f"SGD m={m}")
    W0 = T.Student(m, d, cfg.init_scale, seed=cfg.seed).W.detach()
    out = sparsity_metrics(W[0], W0, M, cfg.top)
    out["metrics"].update(train_loss=info["train_loss"][0], test_loss=info["test_loss"][0],
                          E_fstar_sq=float((data.test_y**2).mean()))
    return {**out, "data_source": data.source}


def sparsity_metrics(W: torch.Tensor, W0: torch.Tensor, M: int, top: int) -> dict:
    """Sorted neuron norms of a student W and of its initialisation W0, the share of the (squared)
    norm in the ``top`` largest neurons, how many neurons carry 90 % of the squared norm, and the
    cosine of each top neuron to its nearest teacher direction e_j."""
    m = W.shape[0]
    sp, sp0 = T.sparsity(W, top), T.sparsity(W0, top)
    order = W.norm(dim=1).argsort(descending=True)[:top]
    rows = W[order]
    align = (rows[:, :M].clamp(min=0).max(1).values / rows.norm(dim=1).clamp(min=1e-300)).tolist()
    return {"norms": sp["norms"], "init_norms": sp0["norms"], "align_top": align, "metrics": {
        "m": m, "top": top,
        "top_fraction": sp["top_fraction"], "top_fraction_sq": sp["top_fraction_sq"],
        "init_top_fraction_sq": sp0["top_fraction_sq"],
        "neurons_for_90pct_sq_mass": _count_for_share(np.array(sp["norms"]), 0.9),
        "neurons_for_90pct_sq_mass_at_init": _count_for_share(np.array(sp0["norms"]), 0.9),
        "min_alignment_top": float(min(align)),
        "sparse": bool(sp["top_fraction_sq"] > 0.5)}}
