"""The computation of chapter ``relu-ngd-theory``: NGD of random minima against width
(Theorems 12 and 14, Definition 13), and where SGD solutions sit.

:func:`ngd_theory` draws pairs of minima from the paper's Unif(𝓜), from SP(𝓜, r) for fixed r and
from SP(𝓜, 1 − K/m) (K active rows expected, whatever the width), computes for every pair the
smallest Eq. 8 bound over exact 2-PL centers and the lower bound that holds for every path
(:mod:`.relu_ngd`), fits each curve against m, and trains a few SGD students to place them among
the draws. :func:`claim_failures` is the chapter's claim check.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np
from scipy.stats import kendalltau
from tqdm import tqdm

from .. import constraints
from . import relu as R
from . import relu_ngd as N
from . import relu_train as T

ALPHA = 0.01  # family-wise error rate of the chapter's statistical claims (Bonferroni over curves)
SHARE = 0.9  # "active" rows: the fewest rows holding this share of the squared norm
CHECKED = 5  # pairs per draw model and width whose center is checked against Theorem 6 and Lemma 7
MIN_DESIGN = dict(widths=4, span=16, pairs=50)  # below this a trend verdict is not drawn (too little power)


# ---------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------

def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares y = a + b x along the last axis (batched): returns (a, b)."""
    n = x.shape[-1]
    sx, sy = x.sum(-1), y.sum(-1)
    sxx, sxy = (x * x).sum(-1), (x * y).sum(-1)
    b = (n * sxy - sx * sy) / (n * sxx - sx**2)
    return (sy - b * sx) / n, b


def _grouped(keys, ys, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The finite values ``ys`` sorted by their group ``keys``, and the distinct keys (>= 2)."""
    keys, ys = np.asarray(keys, dtype=float), np.asarray(ys, dtype=float)
    keep = np.isfinite(ys)
    order = np.argsort(keys[keep], kind="stable")
    keys, ys = keys[keep][order], ys[keep][order]
    levels = np.unique(keys)
    if len(levels) < 2:
        raise ValueError(f"{what} needs pairs at >= 2 values; got {levels.tolist()}")
    return keys, ys, levels


def _bootstrap(keys: np.ndarray, levels: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (n_boot, len(keys)) of a bootstrap that resamples within each group of sorted keys."""
    out, start = [], 0
    for k in levels:
        n = int(np.sum(keys == k))
        out.append(start + rng.integers(0, n, size=(n_boot, n)))
        start += n
    return np.concatenate(out, axis=1)


def _group_means(ys: np.ndarray, keys: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Mean of ``ys`` (…, n) over each group of ``keys`` (n,): shape (…, len(levels))."""
    return np.stack([ys[..., keys == k].mean(-1) for k in levels], -1)


def width_trend(ms, ys, n_boot: int, rng: np.random.Generator, level: float = 1 - ALPHA) -> dict:
    """NGD against width, fitted pair by pair as y = a + b/√m (a: the m → ∞ value).

    ``ms``, ``ys``: one entry per pair (pairs without a center, ``inf``, are left out). Confidence
    intervals at ``level`` (of a, b and of each width's mean) from a bootstrap that resamples
    pairs within each width. Verdicts:

    * ``tends_to_1`` — Theorem 14's prediction: the NGD falls with m (b > 0) and its limit is 1
      (the interval of a reaches down to 1);
    * ``stays_above_1`` — the limit is above 1 (the interval of a lies above 1).

    Also the fit of Theorem 14's own form, y = 1 + c/(r√m) up to the factor 1/r (``c_one``: the
    coefficient of 1/√m with the intercept held at 1), on the width means, and the root-mean-square
    residual of both fits on the width means.
    """
    ms, ys, widths = _grouped(ms, ys, "a width trend")
    x = 1 / np.sqrt(ms)
    a, b = _ols(x, ys)
    idx = _bootstrap(ms, widths, n_boot, rng)
    A, B = _ols(x[idx], ys[idx])
    q = [(1 - level) / 2, (1 + level) / 2]
    a_ci, b_ci = np.quantile(A, q), np.quantile(B, q)
    means = _group_means(ys, ms, widths)
    means_ci = np.quantile(_group_means(ys[idx], ms, widths), q, axis=0).T.tolist()
    xw = 1 / np.sqrt(widths)
    c_one = float(np.sum(xw * (means - 1)) / np.sum(xw**2))
    return {
        "widths": widths.tolist(), "means": means.tolist(), "means_ci": means_ci, "a": float(a), "b": float(b),
        "a_ci": a_ci.tolist(), "b_ci": b_ci.tolist(),
        "rms_free": float(np.sqrt(np.mean((means - a - b * xw) ** 2))),
        "c_one": c_one, "rms_one": float(np.sqrt(np.mean((means - 1 - c_one * xw) ** 2))),
        "tends_to_1": bool(b_ci[0] > 0 and a_ci[0] <= 1),
        "stays_above_1": bool(a_ci[0] > 1),
    }


def growth_in_M(Ms, ys, n_boot: int, rng: np.random.Generator, level: float = 1 - ALPHA) -> dict:
    """The level of the NGD against the teacher size M: log y = log c + γ log M fitted to the means
    per M, with a bootstrap interval for γ (pairs resampled within each M). Theorem 12 bounds the
    NGD by c2·√M, i.e. growth no faster than γ = 1/2; ``c2`` is the smallest constant that makes
    that bound hold for the measured means."""
    Ms, ys, sizes = _grouped(Ms, ys, "a growth in M")
    means = _group_means(ys, Ms, sizes)
    lx = np.log(sizes)
    _, gamma = _ols(lx, np.log(means))
    boot = _group_means(ys[_bootstrap(Ms, sizes, n_boot, rng)], Ms, sizes)
    _, G = _ols(np.broadcast_to(lx, boot.shape), np.log(boot))
    return {"M": sizes.astype(int).tolist(), "means": means.tolist(), "gamma": float(gamma),
            "gamma_ci": np.quantile(G, [(1 - level) / 2, (1 + level) / 2]).tolist(),
            "c2": float(np.max(means / np.sqrt(sizes)))}


def mean_ci(y, n_boot: int, rng: np.random.Generator, level: float = 1 - ALPHA) -> list[float]:
    """Bootstrap percentile interval of a mean."""
    y = np.asarray(y, dtype=float)
    boot = y[rng.integers(0, len(y), size=(n_boot, len(y)))].mean(1)
    return np.quantile(boot, [(1 - level) / 2, (1 + level) / 2]).tolist()


def active_fraction(W, share: float = SHARE) -> float:
    """The fewest rows of W holding ``share`` of its squared norm, as a fraction of its rows."""
    W = np.asarray(W.detach().cpu() if hasattr(W, "detach") else W, dtype=float)
    sq = np.sort((W**2).sum(1))[::-1]
    return float((np.searchsorted(np.cumsum(sq) / sq.sum(), share) + 1) / len(sq))


# ---------------------------------------------------------------------------------------------
# the chapter
# ---------------------------------------------------------------------------------------------

def _models(cfg) -> list[dict]:
    """The draws compared: Unif(𝓜), SP(𝓜, r) for each r in ``rs``, SP(𝓜, 1 − K/m) for each K."""
    out = [{"name": "uniform", "label": rf"Unif($\mathcal{{M}}$) (r = 1/(M+1) = {R.paper_p_zero(cfg.M):.2f})",
            "r": lambda m: R.paper_p_zero(cfg.M), "fixed_r": R.paper_p_zero(cfg.M)}]
    out += [{"name": f"sparse r={r:g}", "label": rf"SP($\mathcal{{M}}$, r = {r:g})", "r": (lambda m, r=r: r),
             "fixed_r": r} for r in cfg.rs]
    out += [{"name": f"active K={K}", "label": rf"SP($\mathcal{{M}}$, 1 − {K}/m): {K} active rows", "K": K,
             "r": (lambda m, K=K: 1 - K / m), "fixed_r": None} for K in cfg.actives]
    return out


def _pairs(m: int, M: int, r: float, n: int, rng: np.random.Generator) -> dict:
    """n pairs from SP(𝓜, r) at width m: exact 2-PL minimum, path lower bound and their checks
    (Eq. 8 and the certificate for every pair, Theorem 6 and Lemma 7 for the first CHECKED)."""
    out = {"bound": [], "lower": [], "active": [], "gap": 0.0, "eq8_error": 0.0, "invalid_centers": 0,
           "lower_above_bound": 0}
    for i in range(n):
        W, (l1, l2) = N.draw_pair(m, M, r, rng)
        best = N.best_two_pl(W[0], W[1], l1, l2, M)
        low = N.path_lower_bound(W[0], W[1], l1, l2, M)
        out["bound"].append(best["bound"])
        out["lower"].append(low)
        out["active"].append(active_fraction(W[0]))
        out["lower_above_bound"] += low > best["bound"] * (1 + 1e-12)
        if best["center"] is None:
            continue
        out["gap"] = max(out["gap"], best["bound"] - best["lower"])
        out["eq8_error"] = max(out["eq8_error"], abs(N.eq8(W[0], best["center"], W[1]) - best["bound"]))
        if i >= CHECKED:
            continue
        try:  # the center is a minimum (Theorem 6) linearly connected to both (Lemma 7)
            lc = R.labels_of(best["center"], M, tol=1e-13)
            out["invalid_centers"] += not (R.linearly_connected(l1, lc) and R.linearly_connected(lc, l2))
        except ValueError:
            out["invalid_centers"] += 1
    return out


def _merge(checks: dict, res: dict) -> None:
    checks["gap"], checks["eq8_error"] = max(checks["gap"], res["gap"]), max(checks["eq8_error"], res["eq8_error"])
    checks["invalid_centers"] += res["invalid_centers"]
    checks["lower_above_bound"] += res["lower_above_bound"]


def _sgd(cfg, rng: np.random.Generator) -> dict:
    """SGD students (the protocol of relu-ngd-sgd), projected onto the manifold: their active
    fraction, zero-row fraction, and for pairs the exact 2-PL minimum and the path lower bound."""
    data = T.sphere_dataset(cfg.n_train, cfg.n_test, cfg.d, cfg.M, seed=cfg.seed)
    rows = []
    for m in cfg.sgd_widths:
        seeds = [cfg.seed * 1000 + s for s in range(2 * cfg.sgd_pairs)]
        W, info = T.train_sgd(m, cfg.d, seeds, data, cfg.steps, cfg.lr_scale / m, cfg.batch_size,
                              cfg.init_scale, desc=f"SGD m={m}")
        for p in range(cfg.sgd_pairs):
            try:
                (P1, l1), (P2, l2) = T.project(W[2 * p], cfg.M), T.project(W[2 * p + 1], cfg.M)
                bounds = N.best_two_pl(P1, P2, l1, l2, cfg.M)["bound"], N.path_lower_bound(P1, P2, l1, l2, cfg.M)
                zero = [float(np.mean(l1 == R.ZERO)), float(np.mean(l2 == R.ZERO))]
            except ValueError:  # a column without positive weight (untrained): not near the manifold
                bounds, zero = (math.nan, math.nan), [math.nan, math.nan]
            rows.append({
                "m": m, "pair": p, "two_pl": bounds[0], "lower": bounds[1], "zero_rows": zero,
                "active": [active_fraction(W[2 * p]), active_fraction(W[2 * p + 1])],
                "train_loss": max(info["train_loss"][2 * p], info["train_loss"][2 * p + 1])})
    ms = [r["m"] for r in rows for _ in r["active"]]
    act = [a for r in rows for a in r["active"]]
    p = float(kendalltau(ms, act, alternative="less").pvalue) if len(set(ms)) > 1 else math.nan
    widths = list(cfg.sgd_widths)

    def per_width(key):
        vals = [[v for r in rows if r["m"] == m for v in np.atleast_1d(r[key]) if np.isfinite(v)] for m in widths]
        return [float(np.mean(v)) if v else None for v in vals]

    return {"rows": rows, "data_source": data.source, "metrics": {
        "sgd_widths": widths, "sgd_active_fraction": per_width("active"),
        "sgd_zero_row_fraction": per_width("zero_rows"), "sgd_two_pl_mean": per_width("two_pl"),
        "sgd_pairs_without_center": [sum(math.isinf(r["two_pl"]) for r in rows if r["m"] == m) for m in widths],
        "sgd_pairs_not_projectable": sum(math.isnan(r["two_pl"]) for r in rows),
        "sgd_lower_bound_mean": per_width("lower"),
        "sgd_active_trend_p": p if math.isfinite(p) else None,  # None: no test (one width, or all tied)
        "sgd_max_train_loss": max(r["train_loss"] for r in rows),
        "E_fstar_sq": float((data.test_y**2).mean())}}


def design_ok(cfg) -> bool:
    """Whether the widths and pairs give the trend tests power enough to draw a verdict."""
    w = sorted(set(cfg.widths))
    return (len(w) >= MIN_DESIGN["widths"] and w[-1] >= MIN_DESIGN["span"] * w[0]
            and cfg.n_pairs >= MIN_DESIGN["pairs"])


def ngd_theory(cfg) -> dict:
    """Everything the chapter shows: per draw model and width the exact 2-PL NGD bound and the
    path lower bound of ``n_pairs`` pairs with their width trends; the uniform level against M; SGD
    students placed among the draws."""
    constraints.check(cfg)
    t0 = time.time()
    rng = np.random.default_rng([cfg.seed, 12])
    M, widths = cfg.M, sorted(set(cfg.widths))
    models = _models(cfg)
    level = 1 - ALPHA / (len(models) + 1)  # Bonferroni: every curve's trend and the growth in M
    draws, trends = {}, {}
    checks = {"gap": 0.0, "eq8_error": 0.0, "invalid_centers": 0, "lower_above_bound": 0}
    jobs = [(mod, m) for mod in models for m in widths if "K" not in mod or m >= 2 * mod["K"]]
    for mod, m in tqdm(jobs, desc="pairs", file=sys.stderr, mininterval=1):
        res = _pairs(m, M, mod["r"](m), cfg.n_pairs, rng)
        d = draws.setdefault(mod["name"], {"label": mod["label"], "fixed_r": mod["fixed_r"], "m": [],
                                           "bound": [], "lower": [], "active": [], "no_center": []})
        d["m"] += [m] * cfg.n_pairs
        for k in ("bound", "lower", "active"):
            d[k] += res[k]
        d["no_center"].append(int(np.sum(~np.isfinite(res["bound"]))))
        _merge(checks, res)
    for name, d in draws.items():
        trends[name] = t = width_trend(d["m"], d["bound"], cfg.n_boot, rng, level)
        for key in ("lower", "active"):
            t[f"{key}_means"] = [float(np.mean([v for mm, v in zip(d["m"], d[key]) if mm == w])) for w in t["widths"]]
        top = [v for mm, v in zip(d["m"], d["lower"]) if mm == max(d["m"])]
        t["lower_at_largest_m"] = float(np.mean(top))
        t["lower_at_largest_m_ci"] = mean_ci(top, cfg.n_boot, rng, level)
        t["lower_limit"] = None if d["fixed_r"] is None else N.lower_bound_limit(M, d["fixed_r"])
    # Theorem 12's level against M, at the largest width
    by_M = {"M": [], "bound": []}
    for Mi in tqdm(cfg.Ms, desc="uniform, M", file=sys.stderr, mininterval=1):
        res = _pairs(widths[-1], Mi, R.paper_p_zero(Mi), cfg.n_pairs, rng)
        by_M["M"] += [Mi] * cfg.n_pairs
        by_M["bound"] += res["bound"]
        _merge(checks, res)
    growth = growth_in_M(by_M["M"], by_M["bound"], cfg.n_boot, rng, level)
    sgd = _sgd(cfg, rng)
    sparse = [trends[m["name"]] for m in models if m["name"].startswith("sparse")]
    active = [trends[m["name"]] for m in models if "K" in m]
    metrics = {
        "M": M, "widths": widths, "n_pairs": cfg.n_pairs, "confidence": level,
        "max_certificate_gap": checks["gap"], "max_center_eq8_error": checks["eq8_error"],
        "invalid_centers": checks["invalid_centers"], "lower_bound_above_two_pl": checks["lower_above_bound"],
        "pairs_without_center": {n: d["no_center"] for n, d in draws.items()},
        "uniform_ngd_mean": trends["uniform"]["means"], "uniform_limit": trends["uniform"]["a"],
        "uniform_limit_ci": trends["uniform"]["a_ci"],
        "uniform_lower_bound_at_largest_m": trends["uniform"]["lower_at_largest_m"],
        "uniform_level_by_M": growth["means"], "uniform_M": growth["M"],
        "uniform_exponent_in_M": growth["gamma"], "uniform_exponent_in_M_ci": growth["gamma_ci"],
        "uniform_c2": growth["c2"],
        "sparse_rs": list(cfg.rs), "sparse_ngd_mean": [t["means"] for t in sparse],
        "sparse_limit": [t["a"] for t in sparse], "sparse_limit_ci": [t["a_ci"] for t in sparse],
        "sparse_slope_ci": [t["b_ci"] for t in sparse],
        "sparse_theorem14_c": [t["c_one"] * r for t, r in zip(sparse, cfg.rs)],
        "sparse_theorem14_rms": [t["rms_one"] for t in sparse], "sparse_free_fit_rms": [t["rms_free"] for t in sparse],
        "sparse_lower_bound_at_largest_m": [t["lower_at_largest_m"] for t in sparse],
        "sparse_lower_bound_at_largest_m_ci": [t["lower_at_largest_m_ci"] for t in sparse],
        "sparse_lower_bound_limit": [t["lower_limit"] for t in sparse],
        "actives": list(cfg.actives), "active_ngd_mean": [t["means"] for t in active],
        "active_limit": [t["a"] for t in active], "active_limit_ci": [t["a_ci"] for t in active],
        **sgd["metrics"], "wall_s_compute": time.time() - t0,
    }
    if design_ok(cfg):  # the trend verdicts, where the design can support them
        metrics.update(verdicts(trends["uniform"], sparse, active, metrics["sgd_active_trend_p"],
                                len(cfg.sgd_widths)))
    return {"draws": draws, "trends": trends, "growth": growth, "by_M": by_M, "sgd": sgd["rows"],
            "data_source": sgd["data_source"], "metrics": metrics}


def verdicts(uniform: dict, sparse: list[dict], active: list[dict], sgd_p: float | None, sgd_widths: int) -> dict:
    """The recorded verdicts of the trends (:func:`width_trend` results): does the uniform, each
    sparse and each K-active curve tend to 1 or stay above it; does the SGD students' active
    fraction fall with the width (one-sided Kendall test at ALPHA, with >= 3 widths)."""
    out = {"uniform_ngd_tends_to_1": uniform["tends_to_1"], "uniform_stays_above_1": uniform["stays_above_1"],
           "sparse_ngd_tends_to_1": all(t["tends_to_1"] for t in sparse),
           "sparse_stays_above_1": [t["stays_above_1"] for t in sparse],
           "active_ngd_tends_to_1": [t["tends_to_1"] for t in active]}
    if sgd_widths >= 3 and sgd_p is not None:
        out["sgd_active_fraction_decreasing"] = bool(sgd_p <= ALPHA)
    return out


def claim_failures(m: dict) -> list[str]:
    """The chapter's claims that the metrics ``m`` (from :func:`ngd_theory`) contradict ([] if none).

    Always: every center search ended with a proof of its minimum (gap 0), every center is a
    minimum linearly connected to both feet with the Eq. 8 value reported, and no path lower bound
    exceeds its pair's 2-PL minimum. Where the design supports trend verdicts: the uniform NGD
    stays above 1 (Theorem 12) and grows with M no faster than √M; the NGD of SP(𝓜, r) at fixed r
    stays above 1 — against Theorem 14 — and so does the lower bound for every path; with K active
    rows it tends to 1; SGD students' active fraction falls with the width.
    """
    out = []
    if m["max_certificate_gap"] > 1e-12:
        out.append(f"a center search ended without proving its minimum (gap {m['max_certificate_gap']:.2e})")
    if m["invalid_centers"] or m["max_center_eq8_error"] > 1e-9:
        out.append(f"{m['invalid_centers']} centers off the manifold or not linearly connected; "
                   f"Eq. 8 mismatch {m['max_center_eq8_error']:.2e}")
    if m["lower_bound_above_two_pl"]:
        out.append(f"{m['lower_bound_above_two_pl']} path lower bounds above the pair's 2-PL minimum")
    if "uniform_stays_above_1" not in m:
        return out
    if not m["uniform_stays_above_1"]:
        out.append(f"Theorem 12: the uniform NGD's limit {m['uniform_limit_ci']} is not above 1")
    lo, hi = m["uniform_exponent_in_M_ci"]
    if not (lo > 0 and lo <= 0.5):
        out.append(f"Theorem 12: the uniform level's exponent in M, interval [{lo:.3f}, {hi:.3f}], "
                   "is not in (0, 1/2] (growth with M, at most √M)")
    for r, ok, ci in zip(m["sparse_rs"], m["sparse_stays_above_1"], m["sparse_lower_bound_at_largest_m_ci"]):
        if not ok:
            out.append(f"SP(r={r:g}): the NGD's limit is not above 1 (it may tend to 1, as Theorem 14 says)")
        if ci[0] <= 1:
            out.append(f"SP(r={r:g}): the path lower bound at the largest width, interval {ci}, reaches 1")
    for K, ok in zip(m["actives"], m["active_ngd_tends_to_1"]):
        if not ok:
            out.append(f"K={K} active rows: the NGD does not tend to 1")
    if m.get("sgd_active_fraction_decreasing") is False:
        out.append(f"SGD: the active fraction does not fall with the width (p = {m['sgd_active_trend_p']:.3g})")
    return out


def _ci(v) -> str:
    return f"[{v[0]:.3f}, {v[1]:.3f}]"


def verdict_note(m: dict) -> str:
    """The chapter's findings in words, from its metrics (Markdown)."""
    top = m["widths"][-1]
    if "uniform_stays_above_1" not in m:
        return ("**No trend verdict at this scale**: fewer than {w} widths spanning a factor {s}, or fewer than "
                "{p} pairs per width; the curves are shown, not judged.").format(
                    w=MIN_DESIGN["widths"], s=MIN_DESIGN["span"], p=MIN_DESIGN["pairs"])
    agree = "agrees with Theorem 12" if m["uniform_stays_above_1"] else "does not settle Theorem 12"
    lines = [f"- **Unif(𝓜)**: the fitted m → ∞ value of the NGD is {m['uniform_limit']:.3f}, interval "
             f"{_ci(m['uniform_limit_ci'])}: the NGD does not fall toward 1 with the width ({agree}). Its level "
             f"at m = {top} grows with the teacher size like M^{m['uniform_exponent_in_M']:.2f} (interval "
             f"{_ci(m['uniform_exponent_in_M_ci'])}), within Theorem 12's c2·√M with c2 = {m['uniform_c2']:.2f}."]
    for r, a, ci, ok, low, low_ci, lim in zip(m["sparse_rs"], m["sparse_limit"], m["sparse_limit_ci"],
                                              m["sparse_stays_above_1"], m["sparse_lower_bound_at_largest_m"],
                                              m["sparse_lower_bound_at_largest_m_ci"], m["sparse_lower_bound_limit"]):
        verdict = "stays above 1" if ok else "is not shown to stay above 1"
        lines.append(f"- **SP(𝓜, r = {r:g})**: m → ∞ value {a:.3f}, interval {_ci(ci)}: the NGD {verdict}. "
                     f"No path at all does better than the lower bound, {low:.4f} on average at m = {top} "
                     f"(interval {_ci(low_ci)}; its m → ∞ value {lim:.4f}).")
    sparse = ("**Disagrees with Theorem 14**: at a fixed sparsity r the NGD does not tend to 1."
              if all(m["sparse_stays_above_1"]) else "Theorem 14's limit is not ruled out at every r.")
    for K, ok, ci, means in zip(m["actives"], m["active_ngd_tends_to_1"], m["active_limit_ci"], m["active_ngd_mean"]):
        lines.append(f"- **{K} active rows** (r = 1 − {K}/m): the NGD falls to {means[-1]:.4f} at m = {top}; the "
                     f"fitted m → ∞ value has interval {_ci(ci)} (below 1 when the fall is faster than 1/√m): "
                     f"it {'tends to 1' if ok else 'is not shown to tend to 1'}.")
    if "sgd_active_fraction_decreasing" in m:
        fr = ", ".join(f"{a:.2f} (m = {w})" for w, a in zip(m["sgd_widths"], m["sgd_active_fraction"]))
        lines.append(f"- **SGD students**: active fraction {fr}; it falls with the width (one-sided Kendall "
                     f"p = {m['sgd_active_trend_p']:.2g}): "
                     f"{'yes' if m['sgd_active_fraction_decreasing'] else 'not significantly'}.")
    return "\n".join(lines) + "\n\n" + sparse
