"""Section 3.3 (Theorems 12 and 14): the exact smallest 2-PL NGD bound, the lower bound for every
path, the random minima, and the chapter's claim check fed false cases."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from starconn import claims
from starconn.params import ParamError
from starconn.profiles import CHAPTERS
from starconn.theory import relu as R
from starconn.theory import relu_ngd as N
from starconn.theory import relu_ngd_chapter as C
from starconn.theory import relu_train as T


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _brute_force(A, B, l1, l2, M, rng):
    """min (‖A−C‖ + ‖C−B‖)/‖A−B‖ by enumerating every label (or none) of every row zero in both
    minima and solving each convex problem over its product of simplices with SLSQP."""
    m = len(l1)
    free = [i for i in range(m) if l1[i] == R.ZERO and l2[i] == R.ZERO]
    best = math.inf
    for sigma in itertools.product(range(-1, M), repeat=len(free)):
        cols = [[i for i in range(m) if i not in free and l1[i] in (R.ZERO, j) and l2[i] in (R.ZERO, j)]
                + [f for f, s in zip(free, sigma) if s == j] for j in range(M)]
        if any(not c for c in cols):
            continue
        idx = [(i, j) for j, c in enumerate(cols) for i in c]

        def build(x):
            Cm = np.zeros_like(A)
            for (i, j), v in zip(idx, x):
                Cm[i, j] = v
            return Cm

        def f(x):
            Cm = build(x)
            return np.linalg.norm(A - Cm) + np.linalg.norm(Cm - B)

        cons = [{"type": "eq", "fun": lambda x, j=j: sum(v for (_, jj), v in zip(idx, x) if jj == j) - 1}
                for j in range(M)]
        for _ in range(3):
            x0 = np.concatenate([rng.dirichlet(np.ones(len(c))) for c in cols])
            res = minimize(f, x0, method="SLSQP", bounds=[(0, 1)] * len(idx), constraints=cons,
                           options={"ftol": 1e-14, "maxiter": 1000})
            x = np.clip(res.x, 0, None)
            if np.allclose(build(x).sum(0), 1, atol=1e-8):
                best = min(best, f(x))
    return best / np.linalg.norm(A - B)


# ---- the smallest Eq. 8 bound over exact 2-PL centers ------------------------------------------

def test_best_two_pl_matches_brute_force_on_tiny_widths(rng):
    checked = 0
    while checked < 12:
        M = int(rng.integers(2, 4))
        m = int(rng.integers(M + 2, 8))
        labs = R.random_labels(m, M, rng, size=(2,), p_zero=0.4)
        W = N.magnitudes(labs, M, rng)
        best = N.best_two_pl(W[0], W[1], labs[0], labs[1], M)
        if best["conflict_rows"] == 0 or best["free_rows"] == 0 or not math.isfinite(best["bound"]):
            continue  # the interesting case: conflicts to route around, rows zero in both to use
        assert best["bound"] == pytest.approx(_brute_force(W[0], W[1], labs[0], labs[1], M, rng), abs=1e-7)
        checked += 1


def test_best_two_pl_against_a_grid():
    # m = 4, M = 2: one conflict row per column, one row compatible with each, two rows zero in both
    l1, l2 = np.array([0, 1, 0, -1, -1, 1]), np.array([1, 0, -1, -1, -1, -1])
    rng = np.random.default_rng(3)
    W = N.magnitudes(np.stack([l1, l2]), 2, rng)
    best = N.best_two_pl(W[0], W[1], l1, l2, 2)
    g = np.linspace(0, 1, 201)
    grid = math.inf  # column 0 on rows {2, 3} or {2, 4} or {2, 3, 4}; column 1 on {5} and the rest
    for c0_rows, c1_rows in [([2, 3], [5, 4]), ([2, 4], [5, 3]), ([2, 3, 4], [5]), ([2], [5, 3, 4])]:
        for u in g:
            for v in g:
                a = [u, 1 - u] if len(c0_rows) == 2 else ([u * v, u * (1 - v), 1 - u] if len(c0_rows) == 3 else [1.0])
                b = [v, 1 - v] if len(c1_rows) == 2 else ([u * v, u * (1 - v), 1 - u] if len(c1_rows) == 3 else [1.0])
                Cm = np.zeros_like(W[0])
                Cm[c0_rows, 0], Cm[c1_rows, 1] = a, b
                grid = min(grid, N.eq8(W[0], Cm, W[1]))
    assert best["bound"] <= grid + 1e-12
    assert grid - best["bound"] < 1e-3  # the grid's resolution


def test_center_is_a_minimum_attaining_the_bound(rng):
    for m, r in [(12, 0.2), (40, 0.5), (200, 0.8), (300, 0.0)]:
        for _ in range(5):
            W, (l1, l2) = N.draw_pair(m, 3, r, rng)
            best = N.best_two_pl(W[0], W[1], l1, l2, 3)
            if best["center"] is None:
                assert not R.center_exists(np.stack([l1, l2]), 3)
                continue
            lc = R.labels_of(best["center"], 3, tol=1e-13)
            assert R.linearly_connected(l1, lc) and R.linearly_connected(lc, l2)
            assert N.eq8(W[0], best["center"], W[1]) == pytest.approx(best["bound"], abs=1e-12)
            assert best["lower"] == best["bound"]  # the search proved its minimum
            assert 1 <= N.path_lower_bound(W[0], W[1], l1, l2, 3) <= best["bound"] + 1e-12


def test_no_worse_than_the_center_on_dedicated_rows(rng):
    for _ in range(10):
        labs = R.random_labels(14, 3, rng, size=(2,), p_zero=0.3)
        W1, W2 = (R.minimum_from_labels(lab, 3, 3, rng) for lab in labs)
        mine = N.best_two_pl(W1, W2, labs[0], labs[1], 3)["bound"]
        theirs = T.best_center(W1, W2, labs[0], labs[1], 3, iters=300)["best_bound"]
        if theirs is None:
            assert math.isinf(mine) == (not R.center_exists(labs, 3))
        else:
            assert mine <= theirs + 1e-9


def test_rows_zero_in_both_carry_the_center():
    # every row nonzero in a minimum conflicts; the center lives on the four rows zero in both,
    # two per column at 1/2 each: ‖A−C‖² = 2 + 1, ‖A−B‖² = 4, bound 2√3/2 = √3 (one row per
    # column, the most a search on dedicated rows uses here, gives 2)
    l1, l2 = np.array([0, 1, -1, -1, -1, -1]), np.array([1, 0, -1, -1, -1, -1])
    W1, W2 = R.minimum_from_labels(l1, 2, 2), R.minimum_from_labels(l2, 2, 2)
    best = N.best_two_pl(W1, W2, l1, l2, 2)
    assert best["bound"] == pytest.approx(math.sqrt(3), abs=1e-12)
    assert best["allocation"].tolist() == [2, 2]
    assert N.best_two_pl(W1[:3], W2[:3], l1[:3], l2[:3], 2)["bound"] == math.inf  # 2 columns, 1 free row


def test_linearly_connected_pair_has_bound_one(rng):
    l1 = np.array([0, 1, 2, -1, 1])
    l2 = np.array([0, -1, 2, 1, -1])
    W = N.magnitudes(np.stack([l1, l2]), 3, rng)
    best = N.best_two_pl(W[0], W[1], l1, l2, 3)
    assert best["bound"] == 1.0 and N.path_lower_bound(W[0], W[1], l1, l2, 3) == 1.0


# ---- the lower bound for every path ---------------------------------------------------------------

def _length(vertices):
    return sum(float((b - a).norm()) for a, b in zip(vertices, vertices[1:]))


def test_path_lower_bound_below_four_pl_paths(rng):
    M, d = 3, 3
    for _ in range(10):
        labs = R.random_labels(9, M, rng, size=(2,), p_zero=0.2)
        W1, W2 = (R.minimum_from_labels(lab, M, d, rng) for lab in labs)
        path = R.four_pl_path(W1, W2, M)
        low = N.path_lower_bound(W1, W2, labs[0], labs[1], M)
        assert low * float((W1 - W2).norm()) <= _length(path) + 1e-12


def test_path_lower_bound_formula():
    # one conflict row (1/2 e_0 in θ1, 1/2 e_1 in θ2): √(1 + 2 · (1/2)(1/2) / ‖θ1 − θ2‖²)
    l1, l2 = np.array([0, 0, 1, -1]), np.array([1, -1, 1, 0])
    W1 = np.array([[0.5, 0], [0.5, 0], [0, 1], [0, 0]])
    W2 = np.array([[0, 0.5], [0, 0], [0, 0.5], [1, 0]])
    d2 = float(((W1 - W2) ** 2).sum())
    assert N.path_lower_bound(W1, W2, l1, l2, 2) == pytest.approx(math.sqrt(1 + 2 * 0.25 / d2))


def test_lower_bound_limit_matches_wide_draws(rng):
    for r in (0.2, 0.6):
        vals = [N.path_lower_bound(W[0], W[1], l[0], l[1], 4)
                for W, l in (N.draw_pair(20_000, 4, r, rng) for _ in range(4))]
        assert np.mean(vals) == pytest.approx(N.lower_bound_limit(4, r), abs=3e-3)
    assert N.lower_bound_limit(4, 1 - 1e-9) == pytest.approx(1.0)


def test_draw_pair_follows_definition_13(rng):
    W, labs = N.draw_pair(5000, 4, 0.3, rng)
    assert W.shape == (2, 5000, 4)
    assert np.mean(labs == R.ZERO) == pytest.approx(0.3, abs=0.02)
    for w, lab in zip(W, labs):
        np.testing.assert_array_equal(R.labels_of(w, 4), lab)
    assert R.paper_p_zero(4) == 0.2
    with pytest.raises(ValueError, match="r .* must be in"):
        N.draw_pair(10, 2, 1.0, rng)


# ---- trends and the claim check ---------------------------------------------------------------------

WIDTHS = [16, 32, 64, 128, 256, 512, 1024, 2048]


def _curve(f, rng, n=60, noise=0.01):
    ms = np.repeat(WIDTHS, n)
    return ms, f(ms.astype(float)) + noise * rng.standard_normal(len(ms))


def test_width_trend_verdicts(rng):
    falls = C.width_trend(*_curve(lambda m: 1 + 2 / np.sqrt(m), rng), 500, rng)
    flat = C.width_trend(*_curve(lambda m: 1.2 + 0 * m, rng), 500, rng)
    rising = C.width_trend(*_curve(lambda m: 1.4 - 2 / np.sqrt(m), rng), 500, rng)
    assert falls["tends_to_1"] and not falls["stays_above_1"]
    assert falls["c_one"] == pytest.approx(2, rel=0.05) and falls["rms_one"] < 0.01
    assert not flat["tends_to_1"] and flat["stays_above_1"]
    assert not rising["tends_to_1"] and rising["stays_above_1"]
    assert flat["rms_one"] > 10 * flat["rms_free"]  # Theorem 14's form does not describe a flat curve


def test_growth_in_M(rng):
    Ms = np.repeat([2, 4, 8, 16], 50)
    sqrt = C.growth_in_M(Ms, 0.7 * np.sqrt(Ms) * (1 + 0.01 * rng.standard_normal(len(Ms))), 500, rng)
    linear = C.growth_in_M(Ms, 0.7 * Ms * (1 + 0.01 * rng.standard_normal(len(Ms))), 500, rng)
    assert sqrt["gamma"] == pytest.approx(0.5, abs=0.02) and sqrt["c2"] == pytest.approx(0.7, rel=0.05)
    assert linear["gamma_ci"][0] > 0.5


def _true_metrics(rng):
    """Metrics as the chapter records them, from curves where every claim holds."""
    uniform = C.width_trend(*_curve(lambda m: 1.5 + 1 / m, rng), 500, rng)
    sparse = [C.width_trend(*_curve(lambda m: 1.1 + 1 / m, rng), 500, rng)]
    active = [C.width_trend(*_curve(lambda m: 1 + 8 / m, rng), 500, rng)]
    m = {"max_certificate_gap": 0.0, "invalid_centers": 0, "max_center_eq8_error": 1e-15,
         "lower_bound_above_two_pl": 0, "uniform_limit_ci": uniform["a_ci"],
         "uniform_exponent_in_M_ci": [0.3, 0.4], "sparse_rs": [0.5], "actives": [8],
         "sparse_lower_bound_at_largest_m_ci": [[1.09, 1.1]], "sgd_active_trend_p": 1e-4}
    m.update(C.verdicts(uniform, sparse, active, sgd_p=1e-4, sgd_widths=3))
    return m


def test_claim_check_passes_when_the_claims_hold(rng):
    assert C.claim_failures(_true_metrics(rng)) == []
    report = claims.check("relu-ngd-theory", _true_metrics(rng), "cpu")  # the notebook's call
    assert report.held and not report.skipped


@pytest.mark.parametrize("case", ["sparse falls to 1", "uniform falls to 1", "active flat", "exponent above 1/2",
                                  "lower bound reaches 1", "sgd not sparser", "invalid center", "no proof"])
def test_claim_check_fails_on_false_cases(rng, case):
    m = _true_metrics(rng)
    to_one = C.width_trend(*_curve(lambda w: 1 + 2 / np.sqrt(w), rng), 500, rng)
    flat = C.width_trend(*_curve(lambda w: 1.2 + 0 * w, rng), 500, rng)
    if case == "sparse falls to 1":
        m.update(C.verdicts(flat, [to_one], [to_one], 1e-4, 3))
    elif case == "uniform falls to 1":
        m.update(C.verdicts(to_one, [flat], [to_one], 1e-4, 3))
        m["uniform_limit_ci"] = to_one["a_ci"]
    elif case == "active flat":
        m.update(C.verdicts(flat, [flat], [flat], 1e-4, 3))
    elif case == "exponent above 1/2":
        m["uniform_exponent_in_M_ci"] = [0.8, 1.1]
    elif case == "lower bound reaches 1":
        m["sparse_lower_bound_at_largest_m_ci"] = [[0.99, 1.01]]
    elif case == "sgd not sparser":
        m.update(C.verdicts(flat, [flat], [to_one], 0.4, 3))
    elif case == "invalid center":
        m["invalid_centers"] = 1
    else:
        m["max_certificate_gap"] = 1e-6
    assert C.claim_failures(m)
    with pytest.raises(claims.ClaimFailed):  # the notebook's call
        claims.check("relu-ngd-theory", m, "cpu")


def test_active_fraction():
    W = torch.zeros(10, 3, dtype=torch.float64)
    W[0, 0], W[1:, 1] = 3.0, 0.1
    assert C.active_fraction(W) == 0.1
    assert C.active_fraction(np.ones((8, 2))) == 1.0  # 90 % of equal rows: 8 · 0.9 → 8


def test_chapter_parameters_are_checked():
    ch = CHAPTERS["relu-ngd-theory"]
    for bad, match in [(dict(widths=[4, 8]), "widths.*> M = 4"), (dict(actives=[2]), "actives"),
                       (dict(actives=[40]), "actives"), (dict(Ms=[2, 4096]), "Ms"), (dict(d=3), "'d'"),
                       (dict(widths=[16]), "at least 2 distinct")]:
        with pytest.raises(ParamError, match=match):  # at resolve, before any work
            ch.resolve("smoke", **bad)


def test_chapter_runs_at_a_tiny_scale():
    cfg = CHAPTERS["relu-ngd-theory"].resolve("smoke", widths=[8, 16, 32], rs=[0.5], n_pairs=4, n_boot=100,
                                               sgd_widths=[8], steps=20, Ms=[2, 3])
    res = C.ngd_theory(cfg)
    m = res["metrics"]
    assert m["max_certificate_gap"] == 0 and m["invalid_centers"] == 0
    assert "sparse_ngd_tends_to_1" not in m  # three widths: no trend verdict is drawn
    assert C.claim_failures(m) == []
    assert set(res["draws"]) == {"uniform", "sparse r=0.5", "active K=8"}
    assert res["draws"]["active K=8"]["m"] == [16] * 4 + [32] * 4  # only widths >= 2K
