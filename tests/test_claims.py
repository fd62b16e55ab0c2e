"""Every claim check of Parts I and II fails on a case where its claim is false and passes on a true one.

The true cases come from the chapter functions at small sizes; the false cases are computed where
that is cheap (a perturbed center's residual, a network off the manifold, a pair that does have a
center, an increasing NGD curve fed through the chapter's own metric code) and otherwise are the
true metrics with one number replaced.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from starconn import claims
from starconn.claims import ClaimFailed
from starconn.profiles import CHAPTERS
from starconn.theory import linear as lin
from starconn.theory import linear_chapters as lc
from starconn.theory import relu as R
from starconn.theory import relu_chapters as rc
from starconn.theory.linear_search import search_center

PART_I_II = ["relu-manifold", "relu-pl-connectivity", "relu-star", "relu-ngd-sgd", "relu-sparsity",
             "linear-2pl", "linear-counterexample", "linear-star", "linear-ngd"]


def cfg(chapter: str, **kw):
    return CHAPTERS[chapter].resolve("smoke", **kw)


def fails(chapter: str, metrics: dict, match: str, profile: str = "cpu") -> None:
    with pytest.raises(ClaimFailed, match=match):
        claims.check(chapter, metrics, profile)


def test_every_part_i_and_ii_chapter_has_a_claim_check():
    assert set(PART_I_II) <= set(claims.CHECKS)
    with pytest.raises(KeyError, match="no claim check"):
        claims.check("no-such-chapter", {}, "smoke")


def test_claim_failed_is_an_assertion_error_listing_every_false_claim():
    c = claims.Claims("x")
    c.require(False, "first", "1 > 0")
    c.require(True, "second")
    c.skip("third", "n/a")
    assert c.failed == ["first (1 > 0)"] and c.held == ["second"] and "skipped: third — n/a" in c.markdown()
    assert issubclass(ClaimFailed, AssertionError)


# ---- Part I ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifold():
    return rc.manifold(cfg("relu-manifold", n_minima=6, n_off=8, n_pairs=12, n_samples=2000))["metrics"]


def test_relu_manifold(manifold):
    assert not claims.check("relu-manifold", manifold, "smoke").failed
    M, d = 4, 6
    x = R.sphere(2000, d, torch.Generator().manual_seed(0))
    W = R.minimum_from_labels(np.array([0, 1, 2, 3, 0, -1, 1, 2]), M, d)
    off = W.clone()
    off[0, 0] *= 1.2  # column 0 no longer sums to 1: not a minimum
    fails("relu-manifold", {**manifold, "max_risk_minima": float(R.risk(off, M, x)),
                            "max_identity_error": R.identity_error(off, M, x)}, r"Theorem 6 \(if\)")
    fails("relu-manifold", {**manifold, "min_risk_off": float(R.risk(W, M, x))}, r"Theorem 6 \(only if\)")
    fails("relu-manifold", {**manifold, "lemma7_agreement": 0.95}, "Lemma 7")


@pytest.fixture(scope="module")
def pl():
    return rc.pl_connectivity(cfg("relu-pl-connectivity", Ms=[2, 3], m_max=30, n_draws=300, widths_4pl=[7],
                                  n_paths=2, n_samples=1000))


def test_relu_pl_connectivity_true_case(pl):
    m = pl["metrics"]
    assert m["bound_violations"] == 0 and m["informative_widths"] > 0 and m["min_margin"] > 0
    assert not claims.check("relu-pl-connectivity", m, "smoke").failed


def test_relu_pl_connectivity_fails_on_a_bound_above_the_probability(pl):
    curves = [dict(c) for c in pl["curves"]]
    curves[0]["bound"] = [min(1.0, u + 0.01) if b > 0 else b for u, b in zip(curves[0]["upper"], curves[0]["bound"])]
    bad = {**pl["metrics"], **rc.probability_metrics(curves, 300)}
    assert bad["bound_violations"] > 0 and bad["min_margin"] < 0
    fails("relu-pl-connectivity", bad, "Theorem 8")


def test_relu_pl_connectivity_fails_on_a_path_off_the_manifold_or_a_wrong_decision(pl):
    M, d = 4, 6
    x = R.sphere(2000, d, torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    l1, l2 = R.random_labels(8, M, rng, size=(2,))
    path = R.four_pl_path(R.minimum_from_labels(l1, M, d), R.minimum_from_labels(l2, M, d), M)
    path[2] = path[2] + 0.01  # the hub moved off the manifold
    err = R.path_max_error(path, M, x)
    fails("relu-pl-connectivity", {**pl["metrics"], "four_pl_max_abs_error": err["max_abs_error"],
                                   "four_pl_max_risk": err["max_risk"]}, "Theorem 9")
    fails("relu-pl-connectivity", {**pl["metrics"], "decision_agreement": 0.99}, "counting decision")
    fails("relu-pl-connectivity", {**pl["metrics"], "variant_outside_interval": 3}, "sampler")


def test_relu_star():
    res = rc.star(cfg("relu-star", ks=[2, 3], m_max=30, n_draws=300, n_stars=2, n_samples=1000))
    m = res["metrics"]
    assert not claims.check("relu-star", m, "smoke").failed
    curves = [dict(c, bound=[min(1.0, u + 0.01) if b > 0 else b for u, b in zip(c["upper"], c["bound"])])
              for c in res["curves"]]
    fails("relu-star", {**m, **rc.probability_metrics(curves, 300)}, "Theorem 10")
    fails("relu-star", {**m, "star_max_risk": 1e-6}, "Theorem 11")
    vacuous = {**m, "bound_nonvacuous_widths": 0}
    assert any("vacuous" in why for _, why in claims.check("relu-star", vacuous, "smoke").skipped)


def _ngd_rows(values: dict[int, list[float]], loss: float = 1e-4) -> list[dict]:
    return [{"m": m, "pair": p, "ngd": v, "fold_max_test_loss": 1e-3, "linear_max_test_loss": 1e-1,
             "foot_train_loss": [loss, loss], "projectable": True, "manifold_2pl_bound": 1.5}
            for m, vs in values.items() for p, v in enumerate(vs)]


def test_relu_ngd_sgd_decrease_is_tested_over_seeds():
    rng = np.random.default_rng(0)
    widths = [8, 16, 32, 64, 128]
    falling = {m: list(1 + 1 / np.sqrt(m) + 0.01 * rng.standard_normal(3)) for m in widths}
    ok = rc.ngd_metrics(_ngd_rows(falling), ef2=1.0)
    assert ok["ngd_decreasing"] and ok["ngd_trend_p"] < 1e-3
    assert not claims.check("relu-ngd-sgd", ok, "cpu").failed
    rising = {m: list(1 + 0.01 * np.log(m) + 0.001 * rng.standard_normal(3)) for m in widths}
    fails("relu-ngd-sgd", rc.ngd_metrics(_ngd_rows(rising), 1.0), "decreases with the width")
    # flat with seed noise: the means happen to fall, but not beyond the spread of the seeds
    flat = {m: list(1.2 + 0.05 * rng.standard_normal(3) - 0.002 * i) for i, m in enumerate(widths)}
    fails("relu-ngd-sgd", rc.ngd_metrics(_ngd_rows(flat), 1.0), "decreases with the width")
    fails("relu-ngd-sgd", rc.ngd_metrics(_ngd_rows(falling, loss=0.1), 1.0), "SGD reached solutions")


def test_relu_ngd_sgd_skips_what_the_design_cannot_test():
    two = rc.ngd_metrics(_ngd_rows({8: [1.3], 32: [1.1]}), 1.0)
    assert "ngd_decreasing" not in two and two["ngd_trend_min_p"] == pytest.approx(0.5)
    c = claims.check("relu-ngd-sgd", two, "smoke")
    assert not c.held and "cannot reach" in c.skipped[0][1]
    untrained = claims.check("relu-ngd-sgd", rc.ngd_metrics(_ngd_rows({8: [1.3], 32: [1.1]}, loss=0.5), 1.0), "smoke")
    assert "smoke profile" in untrained.skipped[0][1]


def test_relu_sparsity():
    M, d, m, top = 4, 4, 64, 8
    g = torch.Generator().manual_seed(0)
    W0 = (2 * torch.rand(m, d, generator=g, dtype=torch.float64) - 1) / 2
    sparse = 1e-3 * W0.clone()
    sparse[:M, :M] = torch.eye(M, dtype=torch.float64)  # a few large neurons along e_j, the rest near 0
    base = dict(train_loss=1e-4, test_loss=1e-4, E_fstar_sq=1.0)
    ok = {**rc.sparsity_metrics(sparse, W0, M, top)["metrics"], **base}
    assert not claims.check("relu-sparsity", ok, "cpu").failed
    dense = {**rc.sparsity_metrics(W0 + 0.01, W0, M, top)["metrics"], **base}  # no concentration
    fails("relu-sparsity", dense, "top neurons")
    fails("relu-sparsity", {**ok, "train_loss": 0.5}, "SGD reached solutions")
    all_top = {**rc.sparsity_metrics(sparse, W0, M, m)["metrics"], **base}
    assert len(claims.check("relu-sparsity", all_top, "cpu").skipped) == 2


# ---- Part II --------------------------------------------------------------------------------

def test_linear_2pl():
    res = lc.two_pl(cfg("linear-2pl"))
    m = res["metrics"]
    assert not claims.check("linear-2pl", m, "smoke").failed
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((1, 3))
    a, b = lin.random_minimum(Q, 6, 3, rng), lin.random_minimum(Q, 6, 3, rng)
    c = lin.two_pl_center(a, b, Q, rng)
    off = [A + 1e-3 * rng.standard_normal(A.shape) for A in c]  # a center perturbed off the manifold
    fails("linear-2pl", {**m, "fold_rel_poly_residual": lc._rel_residual([a, off, b], Q)}, "Theorem 16")
    fails("linear-2pl", {**m, "direct_poly_residual_smallest": lin.poly_residual(a, a, Q)}, "barrier")
    fails("linear-2pl", {**m, "three_pl_rel_residual_random": 1e-4}, "3-PL")
    fails("linear-2pl", {**m, "degenerate_refused": False}, "degenerate")


def test_linear_counterexample():
    m = lc.counterexample(cfg("linear-counterexample", restarts=2, n_random=10))["metrics"]
    assert not claims.check("linear-counterexample", m, "smoke").failed
    # a pair that does have a 2-PL center: the integrated loss reaches 0, below the bound
    rng = np.random.default_rng(1)
    Q = np.ones((1, 1))
    a, b = lin.random_minimum(Q, 4, 2, rng), lin.random_minimum(Q, 4, 2, rng)
    best, _, _ = search_center([a, b], Q, np.eye(1), restarts=2, seed=0, on_manifold=True)
    fails("linear-counterexample", {**m, "best_over_bound": best / (4 / 15)}, "Lemma 17")
    wrong = abs(lc.lemma17_closed_form(1.0, 1.0) - (1.0 - 2) ** 2 / 30) / lc.lemma17_closed_form(1.0, 1.0)
    fails("linear-counterexample", {**m, "closed_form_max_rel_dev": wrong}, "closed form|2s² \\+ 8")
    fails("linear-counterexample", {**m, "attained_over_bound": 1.01}, "attained")


def test_linear_star():
    res = lc.star(cfg("linear-star"))
    m = res["metrics"]
    assert "search_found_at_m_1" in m and not claims.check("linear-star", m, "smoke").failed
    fails("linear-star", {**m, "max_rel_poly_residual": 1e-5}, "Theorem 18")
    fails("linear-star", {**m, "construction_success_below_r_plus_1": 0.5}, "below m = r \\+ 1")
    fails("linear-star", {**m, "construction_success_at_or_above_r_plus_1": 0.9}, "whenever m ≥ r \\+ 1")
    fails("linear-star", {**m, "search_found_at_m_1": 1 / 3}, "m = 1")
    no_search = {k: v for k, v in m.items() if not k.startswith("search_")}
    assert claims.check("linear-star", no_search, "cpu").skipped


def _linear_rows(values: dict[int, list[float]], risk: float = 1e-5) -> list[dict]:
    return [{"m": m, "Ey2": 1.0, "ngd": vs, "ngd_mean": float(np.mean(vs)), "ngd_sd": float(np.std(vs, ddof=1)),
             "fold_max_risk": [1e-3] * len(vs), "linear_max_risk": [1e-1] * len(vs), "minima_risk": [risk] * len(vs)}
            for m, vs in values.items()]


def test_linear_ngd_decrease_is_tested_over_runs():
    rng = np.random.default_rng(2)
    widths = [2, 4, 8, 16, 32, 64, 128]
    falling = {m: list(1 + 1 / m + 0.005 * rng.standard_normal(5)) for m in widths}
    ok = lc.ngd_metrics(_linear_rows(falling))
    assert not claims.check("linear-ngd", ok, "cpu").failed
    rising = {m: list(1 + 0.01 * np.log(m) + 0.001 * rng.standard_normal(5)) for m in widths}
    fails("linear-ngd", lc.ngd_metrics(_linear_rows(rising)), "Fig 4")
    flat = {m: list(1.1 + 0.05 * rng.standard_normal(5)) for m in widths}
    flat[widths[-1]] = [v - 0.06 for v in flat[widths[-1]]]  # widest below narrowest, but no trend over the runs
    bad = lc.ngd_metrics(_linear_rows(flat))
    assert bad["ngd_widest"] < bad["ngd_narrowest"]
    fails("linear-ngd", bad, "Fig 4")
    fails("linear-ngd", lc.ngd_metrics(_linear_rows(falling, risk=0.5)), "Adam reached minima")
    few = claims.check("linear-ngd", lc.ngd_metrics(_linear_rows({4: [1.2, 1.3], 128: [1.05, 1.04]})), "cpu")
    assert any("cannot reach" in why for _, why in few.skipped)


def test_relu_star_with_one_teacher_neuron_has_no_informative_width():
    """M = 1: every draw has a center, so no width can catch the bound (found by test_random_params)."""
    m = rc.star(cfg("relu-star", M=1, ks=[2], m_max=20, n_draws=50, k_star=3, m_star=4, n_stars=1, d=2,
                    n_samples=500))["metrics"]
    assert m["informative_widths"] == 0 and "min_margin" not in m
    assert not claims.check("relu-star", m, "smoke").failed
