"""Part I mathematics: Theorems 6–11 for two-layer ReLU networks, constructions and refusals."""
import itertools

import numpy as np
import pytest
import torch

from starconn.theory import relu as R
from starconn.theory import relu_train as T

M, D = 3, 5


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def x():
    return R.sphere(4000, D, torch.Generator().manual_seed(1))


def _all_labels(m, M):
    for t in itertools.product(range(-1, M), repeat=m):
        a = np.array(t)
        if R.covers(a, M):
            yield a


# ---- Theorem 6 -----------------------------------------------------------------------------

def test_minima_satisfy_the_exact_identity(rng, x):
    for _ in range(20):
        lab = R.random_labels(9, M, rng, p_zero=0.3)
        W = R.minimum_from_labels(lab, M, D, rng)
        assert R.is_minimum(W, M)
        np.testing.assert_array_equal(R.labels_of(W, M), lab)
        assert R.identity_error(W, M, x) < 1e-14
        assert float(R.risk(W, M, x)) < 1e-28


def test_off_manifold_has_positive_risk(rng, x):
    W = R.minimum_from_labels(R.random_labels(6, M, rng), M, D, rng)
    mixed = W.clone()
    i = int(torch.nonzero(W[:, 0])[0])
    mixed[i, 1] += 0.3 * W[i, 0]
    mixed[i, 0] *= 0.7
    scaled = W.clone()
    scaled[:, 2] *= 1.1
    outside = W.clone()
    outside[i, M] = 0.2
    for P in (mixed, scaled, outside, W + 0.01):
        assert not R.is_minimum(P, M)
        assert float(R.risk(P, M, x)) > 1e-8


def test_labels_of_rejects_non_minima():
    W = torch.zeros(4, D, dtype=torch.float64)
    W[0, 0], W[1, 1] = 1.0, 1.0
    with pytest.raises(ValueError, match="columns j < M=3 of W must sum to 1"):
        R.labels_of(W, M)
    W[2, 2], W[3, 3] = 1.0, 0.5
    with pytest.raises(ValueError, match="row 3"):
        R.labels_of(W, M)


def test_constructor_refusals(rng):
    with pytest.raises(ValueError, match="m .* must be >= M"):
        R.minimum_from_labels([0, 1], M, D)
    with pytest.raises(ValueError, match="d .* must be >= max"):
        R.minimum_from_labels([0, 1, 2], M, 2)
    with pytest.raises(ValueError, match=r"columns \[2\] have no row"):
        R.minimum_from_labels([0, 1, 1, -1], M, D)
    with pytest.raises(ValueError, match="m must be >= M"):
        R.random_labels(2, M, rng)


# ---- Lemma 7 and common centers ------------------------------------------------------------

def test_lemma7_criterion_matches_the_risk(rng, x):
    for _ in range(30):
        l1 = R.random_labels(6, M, rng, p_zero=0.3)
        l2 = np.where(rng.random(6) < 0.6, l1, R.random_labels(6, M, rng, p_zero=0.3))
        if not R.covers(l2, M):
            continue
        W1, W2 = R.minimum_from_labels(l1, M, D, rng), R.minimum_from_labels(l2, M, D, rng)
        broken = float(R.segment_risk(W1, W2, M, x, 5).max()) > 1e-24
        assert bool(R.linearly_connected(l1, l2)) == (not broken)


def test_center_decision_is_exact_on_all_small_pairs():
    """Exhaustive for M = 2, m = 3: the counting test agrees with a brute-force search over all
    label vectors of the center, and the built centers are valid."""
    M2, m = 2, 3
    labels = list(_all_labels(m, M2))
    for l1, l2 in itertools.product(labels, repeat=2):
        brute = any(R.linearly_connected(l1, c) and R.linearly_connected(c, l2) for c in labels)
        assert bool(R.center_exists(np.stack([l1, l2]), M2)) == brute
        W1, W2 = R.minimum_from_labels(l1, M2, 3), R.minimum_from_labels(l2, M2, 3)
        C = R.center([W1, W2], M2)
        assert (C is not None) == brute
        if C is not None:
            lc = R.labels_of(C, M2)
            assert R.linearly_connected(l1, lc) and R.linearly_connected(lc, l2)


def test_probability_closed_form_and_bound(rng):
    for Mk, k, m in [(2, 2, 6), (3, 2, 12), (3, 3, 40), (4, 2, 30)]:
        exact = R.p_center_exact(m, Mk, k)
        assert R.p_center_bound(m, Mk, k) <= exact <= 1
        est = R.estimate_p_center(m, Mk, k, 4000, rng)
        assert abs(est - exact) < 5 * np.sqrt(exact * (1 - exact) / 4000) + 1e-3


# ---- Theorem 9: 4-PL paths -----------------------------------------------------------------

def _check_path(path, x, Mk):
    for a, b in zip(path, path[1:]):
        assert R.linearly_connected(R.labels_of(a, Mk), R.labels_of(b, Mk))
    err = R.path_max_error(path, Mk, x[:, : path[0].shape[1]], n_t=7)
    assert err["max_abs_error"] < 1e-14 and err["max_risk"] < 1e-28


def test_four_pl_path_for_all_pairs_at_the_threshold(x):
    """Exhaustive for M = 2 at m = 2M − 1 = 3, including the pairs with no 2-PL center."""
    Mk, m = 2, 3
    labels = list(_all_labels(m, Mk))
    seen_without_2pl = 0
    for l1, l2 in itertools.product(labels, repeat=2):
        W1, W2 = R.minimum_from_labels(l1, Mk, D), R.minimum_from_labels(l2, Mk, D)
        seen_without_2pl += not R.center_exists(np.stack([l1, l2]), Mk)
        _check_path(R.four_pl_path(W1, W2, Mk), x, Mk)
    assert seen_without_2pl > 0


def test_four_pl_path_adversarial(rng, x):
    m = 2 * M - 1
    l1 = np.array([0, 1, 2, 0, 1])
    l2 = np.array([1, 2, 0, 2, 0])  # every row differs: no 2-PL center
    assert not R.center_exists(np.stack([l1, l2]), M)
    W1, W2 = R.minimum_from_labels(l1, M, D, rng), R.minimum_from_labels(l2, M, D, rng)
    assert len(l1) == m
    path = R.four_pl_path(W1, W2, M)
    assert len(path) == 5
    _check_path(path, x, M)


def test_four_pl_refuses_narrow_networks(rng):
    W = R.minimum_from_labels([0, 1, 2, 0], M, D)
    with pytest.raises(ValueError, match=r"needs m >= 2\*M-1 = 5 .* got m=4"):
        R.four_pl_path(W, W, M)


# ---- Theorem 11: extended stars ------------------------------------------------------------

def test_extended_star_zero_loss(rng, x):
    k, m = 3, 3 * M
    for _ in range(5):
        feet = [R.minimum_from_labels(l, M, D, rng) for l in R.random_labels(m, M, rng, size=(k,))]
        star = R.extended_star(feet, M)
        for W, C in zip(feet, star["centers"]):
            _check_path([W, C, star["hub"]], x, M)


def test_extended_star_refuses_narrow_networks(rng):
    feet = [R.minimum_from_labels(l, M, D, rng) for l in R.random_labels(8, M, rng, size=(3,))]
    with pytest.raises(ValueError, match=r"needs m >= k\*M = 9 .* got m=8"):
        R.extended_star(feet, M)


# ---- SGD students, projection and the best center -------------------------------------------

def test_student_module_matches_the_formula(x):
    s = T.Student(7, D, seed=0)
    torch.testing.assert_close(s(x), R.student(x, s.W.detach()))


def test_projection_and_best_center(rng):
    l1, l2 = R.random_labels(12, M, rng, size=(2,))
    W1, W2 = R.minimum_from_labels(l1, M, D, rng), R.minimum_from_labels(l2, M, D, rng)
    P1, p1 = T.project(W1 + 1e-4 * torch.rand(12, D, dtype=torch.float64), M)
    assert R.is_minimum(P1, M, tol=1e-12)
    np.testing.assert_array_equal(p1, l1)
    best = T.best_center(W1, W2, l1, l2, M)
    if R.center_exists(np.stack([l1, l2]), M):
        assert 1 <= best["best_bound"] <= best["midpoint_bound"] + 1e-12
        lc = R.labels_of(best["center"], M, tol=1e-10)
        assert R.linearly_connected(l1, lc) and R.linearly_connected(lc, l2)


def test_sgd_reaches_a_minimum_at_the_teacher_width():
    data = T.sphere_dataset(500, 200, 3, 3)
    W, info = T.train_sgd(3, 3, [0], data, steps=1500, lr=0.5, batch_size=32, progress=False)
    assert info["train_loss"][0] < 1e-6


def test_best_center_uses_rows_zero_in_both_only_when_needed():
    l1, l2 = np.array([0, 1, -1, -1]), np.array([1, 0, -1, -1])
    W1, W2 = R.minimum_from_labels(l1, 2, 3), R.minimum_from_labels(l2, 2, 3)
    best = T.best_center(W1, W2, l1, l2, 2)
    lc = R.labels_of(best["center"], 2, tol=1e-10)
    assert R.linearly_connected(l1, lc) and R.linearly_connected(lc, l2)
    assert best["best_bound"] >= 1
    assert T.best_center(W1[:3], W2[:3], l1[:3], l2[:3], 2)["best_bound"] is None


def test_best_center_is_an_upper_bound_not_the_minimum_over_all_centers():
    """Rows zero in both minima can lower the Eq. 8 bound below best_center's: spreading column 0's
    mass over its dedicated row 0 and the free row 2 shortens the path (the docstring's caveat)."""
    l1, l2 = np.array([0, 1, -1, -1]), np.array([-1, 0, -1, 1])
    W1, W2 = R.minimum_from_labels(l1, 2, 3), R.minimum_from_labels(l2, 2, 3)
    best = T.best_center(W1, W2, l1, l2, 2)
    assert best["best_bound"] == pytest.approx(np.sqrt(2), abs=1e-9)
    C = torch.zeros(4, 3, dtype=torch.float64)
    C[0, 0], C[2, 0], C[3, 1] = 0.8, 0.2, 1.0
    lc = R.labels_of(C, 2)
    assert R.linearly_connected(l1, lc) and R.linearly_connected(lc, l2)  # an exact 2-PL center
    other = float(((W1 - C).norm() + (C - W2).norm()) / (W1 - W2).norm())
    assert other < best["best_bound"] - 0.04


# ---- the paper's draw of random minima and the bound --------------------------------------

@pytest.mark.parametrize("m, M, p_zero", [(3, 2, 1 / 3), (4, 3, 0.25), (4, 2, 0.0)])
def test_random_labels_follow_the_conditional_law_exactly(m, M, p_zero):
    """Both samplers (rejection, used when a valid draw is likely, and row by row) against the exact
    law of i.i.d. rows conditioned on every column being used, by enumeration."""
    labels = list(_all_labels(m, M))
    weight = np.array([np.prod([p_zero if v == -1 else (1 - p_zero) / M for v in lab]) for lab in labels])
    exact = weight / weight.sum()
    index = {tuple(lab): i for i, lab in enumerate(labels)}
    q = (1 - p_zero) / M
    F = R._cover_table(m, M, q)
    assert F[M, m] == pytest.approx(weight.sum(), rel=1e-12)  # P(every column used)
    rng = np.random.default_rng(0)
    n = 60_000
    for sampler in (R._by_rejection, R._row_by_row):
        draws = sampler(n, m, M, p_zero, F, rng)
        counts = np.bincount([index[tuple(d)] for d in draws], minlength=len(labels))
        assert counts.sum() == n  # every draw is a valid minimum
        possible = exact > 0
        assert counts[~possible].sum() == 0
        z = (counts / n - exact)[possible] / np.sqrt(exact * (1 - exact) / n)[possible]
        assert np.abs(z).max() < 4.5, (sampler.__name__, np.abs(z).max())


def test_random_labels_handle_rare_valid_draws():
    rng = np.random.default_rng(0)
    lab = R.random_labels(16, 16, rng, size=(5,), p_zero=0.9)  # P(valid) ~ 1e-22: no rejection loop
    assert lab.shape == (5, 16) and R.covers(lab, 16).all()


def test_paper_bound_is_clipped_where_vacuous():
    assert R.p_center_bound(3, 2, 2) == 0.0  # m < kM: the formula is negative
    assert R.p_center_bound(1, 1, 2) == 0.0 and R.p_center_bound(3, 1, 2) == 1.0  # M = 1: 0 to a power
    assert 0 < R.p_center_bound(40, 3, 2) < 1
