"""Deep linear networks (Section 4): exact constructions, refusals, Lemma 17."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from starconn.params import ParamError
from starconn.profiles import CHAPTERS
from starconn.theory import linear as lin
from starconn.theory import linear_chapters as lc
from starconn.theory.linear_search import search_center


def _scale(*thetas) -> float:
    return max(1.0, max(float(np.abs(A).max()) for th in thetas for A in th))


def _random_case(rng, need_ok: bool = True):
    """Random (L, r, m, d, k) satisfying the construction's width condition m >= (r + 1)·min(d, k)."""
    L = int(rng.integers(2, 6))
    r = int(rng.integers(1, 5))
    d, k = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    m = lin.width_needed(r, d, k) + int(rng.integers(0, 4))
    m = max(m, min(d, k))
    return L, r, m, d, k


@pytest.mark.parametrize("seed", range(12))
def test_star_center_exact(seed):
    rng = np.random.default_rng(seed)
    L, r, m, d, k = _random_case(rng)
    Q = rng.standard_normal((k, d))
    minima = [lin.random_minimum(Q, m, L, rng) for _ in range(r)]
    for th in minima:
        assert np.abs(lin.product(th) - Q).max() < 1e-10 * _scale(th) ** L
    c = lin.star_center(minima, Q, rng)
    s = _scale(c, *minima) ** L
    assert np.abs(lin.product(c) - Q).max() < 1e-10 * s
    Sigma = np.eye(d) + 0.3 * np.ones((d, d))  # any Σ ≻ 0
    for th in minima:
        # every coefficient of P(t) − Q vanishes: the whole segment is on the manifold
        assert lin.poly_residual(th, c, Q) < 1e-10 * s
        assert lin.integrated_risk(th, c, Q, Sigma) < 1e-18 * s ** 2
        for t in (0.1, 0.5, 0.77):
            assert lin.risk(lin.lerp(th, c, t), Q, Sigma) < 1e-18 * s ** 2


def test_paper_condition_implies_construction_condition():
    for L in range(2, 8):
        for r in range(1, 8):
            assert lin.paper_width_condition(r, L) + 1 >= lin.width_needed(r, d=5, k=1)


@pytest.mark.parametrize("L", [2, 3, 4])
def test_two_pl_center_exact_and_direct_segment_not(L):
    rng = np.random.default_rng(L)
    Q = rng.standard_normal((1, 3))
    a, b = lin.random_minimum(Q, 7, L, rng), lin.random_minimum(Q, 7, L, rng)
    c = lin.two_pl_center(a, b, Q, rng)
    s = _scale(a, b, c) ** L
    assert lin.poly_residual(a, c, Q) < 1e-10 * s and lin.poly_residual(c, b, Q) < 1e-10 * s
    assert lin.poly_residual(a, b, Q) > 1e-3  # the straight segment leaves the manifold
    assert lin.ngd_bound(a, c, b) >= 1.0


def test_segment_poly_matches_product():
    rng = np.random.default_rng(0)
    a = [rng.standard_normal(s) for s in [(4, 2), (4, 4), (3, 4)]]
    b = [rng.standard_normal(s) for s in [(4, 2), (4, 4), (3, 4)]]
    coefs = lin.segment_poly(a, b)
    assert len(coefs) == 4
    for t in (0.0, 0.3, 1.0, 1.7):
        assert np.allclose(sum(t ** j * C for j, C in enumerate(coefs)), lin.product(lin.lerp(a, b, t)))
    # the exact integral agrees with quadrature
    Q, Sigma = rng.standard_normal((3, 2)), np.eye(2)
    ts = np.linspace(0, 1, 2001)
    vals = [lin.risk(lin.lerp(a, b, t), Q, Sigma) for t in ts]
    assert math.isclose(lin.integrated_risk(a, b, Q, Sigma), np.trapezoid(vals, ts), rel_tol=1e-5)


@pytest.mark.parametrize("r,d,k,m", [(2, 1, 1, 2), (3, 2, 1, 3), (2, 2, 3, 5), (1, 3, 3, 5)])
def test_star_center_refuses_narrow(r, d, k, m):
    rng = np.random.default_rng(1)
    Q = rng.standard_normal((k, d))
    minima = [lin.random_minimum(Q, m, 3, rng) for _ in range(r)]
    with pytest.raises(ValueError, match=r"width m = .* needs m >= \(r \+ 1\)"):
        lin.star_center(minima, Q, rng)


def test_star_center_refuses_non_minimum_and_bad_shapes():
    rng = np.random.default_rng(2)
    Q = rng.standard_normal((1, 2))
    th = lin.random_minimum(Q, 6, 2, rng)
    bad = [th[0], th[1] + 1.0]
    with pytest.raises(ValueError, match="not a minimum"):
        lin.star_center([th, bad], Q, rng)
    with pytest.raises(ValueError, match="layer shapes"):
        lin.star_center([th, [th[0][:5], th[1]]], Q, rng)
    with pytest.raises(ValueError, match="depth L must be >= 2"):
        lin.random_minimum(Q, 6, 1, rng)


def test_lemma17_pair_rejected_by_two_pl_constructor():
    a, b, Q = lin.lemma17_pair(4)
    assert a[0][0, 0] == 1 and np.abs(a[0]).sum() == 1 and np.allclose(lin.product(a), 1) and np.allclose(lin.product(b), 1)
    with pytest.raises(ValueError, match="inconsistent"):
        lin.two_pl_center(a, b, Q, np.random.default_rng(0))
    # the same for the pair θ, −θ of random minima at L = 2, for any width
    rng = np.random.default_rng(3)
    for m in (3, 6, 10):
        th = lin.random_minimum(Q, m, 2, rng)
        with pytest.raises(ValueError, match="inconsistent"):
            lin.two_pl_center(th, [-A for A in th], Q, rng)


def test_lemma17_algebra_and_bound():
    a, b, Q = lin.lemma17_pair(4)
    rng = np.random.default_rng(4)
    Sigma = np.array([[2.0]])
    for _ in range(50):
        c = [rng.standard_normal(A.shape) for A in a]
        # t-coefficients of P(t) − Q on the two segments always sum to −4Q: no center
        assert math.isclose(lin.segment_poly(a, c)[1][0, 0] + lin.segment_poly(b, c)[1][0, 0], -4.0, abs_tol=1e-12)
        # on the manifold the integrated loss is the closed form in s, hence >= 4/15 E x²
        cm = [c[0], c[1] / (c[1] @ c[0])[0, 0]]
        assert abs(float(lin.product(cm)[0, 0]) - 1) < 1e-10
        J = lin.integrated_risk(a, cm, Q, Sigma) + lin.integrated_risk(b, cm, Q, Sigma)
        s = float((cm[1] @ a[0] + a[1] @ cm[0])[0, 0])
        assert J == pytest.approx(lc.lemma17_closed_form(s, 2.0), rel=1e-10)
        assert J >= 4 / 15 * 2.0 - 1e-12
    best, c, _ = search_center([a, b], Q, Sigma, restarts=2, seed=0, on_manifold=True)
    assert abs(best / (4 / 15 * 2.0) - 1) < 1e-6
    assert abs(float(lin.product(c)[0, 0]) - 1) < 1e-10


@pytest.mark.parametrize("s", [-2.0, -0.5, 0.0, 0.7, 3.0])
def test_lemma17_family_of_centers_attains_the_bound_at_s_0(s):
    a, b, Q = lin.lemma17_pair(5)
    c = lc.lemma17_center(s, 5)
    assert float(lin.product(c)[0, 0]) == pytest.approx(1, abs=1e-14)
    assert float((c[1] @ a[0] + a[1] @ c[0])[0, 0]) == pytest.approx(s, abs=1e-14)
    Sigma = np.array([[1.5]])
    J = lin.integrated_risk(a, c, Q, Sigma) + lin.integrated_risk(b, c, Q, Sigma)
    assert J == pytest.approx(1.5 * (2 * s * s + 8) / 30, rel=1e-12)
    assert (J == pytest.approx(4 / 15 * 1.5, rel=1e-12)) == (s == 0)


def test_rotated_lemma17_pair_is_equivalent():
    """(w, wᵀ) with ‖w‖ = 1 and its negative: rotating the hidden layer by U (Ue_1 = w) maps every
    center to one with the same integrated loss and the same distances."""
    m = 4
    a, b, Q = lin.lemma17_pair(m)
    w = np.full((m, 1), 1 / math.sqrt(m))
    U, _ = np.linalg.qr(np.hstack([w, np.random.default_rng(0).standard_normal((m, m - 1))]))
    U *= np.sign(U[0, 0] * w[0, 0])  # Ue_1 = w
    assert np.allclose(U[:, :1], w)
    rot = lambda th: [U @ th[0], th[1] @ U.T]  # noqa: E731
    ra, rb = rot(a), rot(b)
    assert np.allclose(ra[0], w) and np.allclose(ra[1], w.T)
    Sigma = np.array([[1.0]])
    rng = np.random.default_rng(1)
    for _ in range(10):
        c = [rng.standard_normal((m, 1)), rng.standard_normal((1, m))]
        J = lin.integrated_risk(a, c, Q, Sigma) + lin.integrated_risk(b, c, Q, Sigma)
        Jr = lin.integrated_risk(ra, rot(c), Q, Sigma) + lin.integrated_risk(rb, rot(c), Q, Sigma)
        assert Jr == pytest.approx(J, rel=1e-12)
        assert lin.ngd_bound(ra, rot(c), rb) == pytest.approx(lin.ngd_bound(a, c, b), rel=1e-12)


def test_three_pl_path_for_degenerate_pair():
    a, b, Q = lin.lemma17_pair(4)
    rng = np.random.default_rng(5)
    c1, c2 = lin.three_pl_path(a, b, Q, rng)
    s = _scale(a, b, c1, c2) ** 2
    for p, q in ((a, c1), (c1, c2), (c2, b)):
        assert lin.poly_residual(p, q, Q) < 1e-10 * s


def test_search_center_finds_existing_center():
    rng = np.random.default_rng(6)
    Q = rng.standard_normal((1, 2))
    minima = [lin.random_minimum(Q, 4, 2, rng) for _ in range(2)]
    best, c, _ = search_center(minima, Q, np.eye(2), restarts=1, seed=0)
    J0 = sum(lin.integrated_risk(th, [np.zeros_like(A) for A in th], Q, np.eye(2)) for th in minima)
    assert best < 1e-9 * J0


def test_deep_linear_module_matches_product():
    model = lin.DeepLinear(3, 5, 4, 2).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    mats = lin.mats_of(params)
    assert [A.shape for A in mats] == [(5, 3), (5, 5), (5, 5), (2, 5)]
    x = torch.randn(7, 3, dtype=torch.float64)
    assert torch.allclose(model(x), x @ torch.as_tensor(lin.product(mats)).T)
    back = lin.params_of(mats, dtype=torch.float64)
    assert all(torch.equal(back[k], params[k]) for k in params)
    assert len(list(model.parameters())) == 4 and all(m.bias is None for m in model.layers)


def test_chapters_registered_with_every_param():
    ids = ["linear-2pl", "linear-counterexample", "linear-star", "linear-ngd"]
    chs = [CHAPTERS[i] for i in ids]
    assert [c.order for c in chs] == [1, 2, 3, 4] and {c.part for c in chs} == {"Deep linear networks"}
    for c in chs:
        for profile in ("smoke", "cpu", "paper"):
            c.resolve(profile)  # no error; the parameters cell is checked in test_params
    with pytest.raises(ParamError, match="'m'"):
        CHAPTERS["linear-2pl"].resolve("smoke", m=0)
    with pytest.raises(ParamError, match="'depths'"):
        CHAPTERS["linear-star"].resolve("smoke", depths=[1])


def test_linear_star_without_depth_2_leaves_the_search_metrics_out():
    """Issue 16: with no L = 2 the search never runs; its metrics are left out, never NaN."""
    m = lc.star(CHAPTERS["linear-star"].resolve("smoke", depths=[4], seed=3, trials=2))["metrics"]
    assert not any(k.startswith("search_") for k in m)
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in m.values())


def test_linear_2pl_refuses_too_narrow_a_width_before_any_work():
    with pytest.raises(ParamError, match=r"parameter 'm' must be >= 3·min\(d, k\) = 9"):
        lc.two_pl(CHAPTERS["linear-2pl"].resolve("smoke", d=3, k=5, m=8))


def test_linear_2pl_tests_several_pairs_per_depth_and_states_the_paper_condition():
    res = lc.two_pl(CHAPTERS["linear-2pl"].resolve("smoke", d=2, m=6, depths=[2, 4], pairs=4))
    assert all(len(r["fold_rel_residual"]) == 4 == len(r["three_pl_rel_residual"]) for r in res["depths"].values())
    assert res["metrics"]["depths_meeting_paper_condition"] == [2] and res["metrics"]["depths_below_paper_condition"] == [4]
    assert res["metrics"]["three_pl_rel_residual_random"] < 1e-10
