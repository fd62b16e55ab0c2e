"""Part II: deep linear networks (Section 4: Theorem 16, Lemma 17, Theorem 18, Fig 1 right, Fig 4).

The paper's linear-network results are theorems (exact constructions) and one figure of trained
networks; the only number the paper states is Lemma 17's bound 4/15·E x². ``paper`` therefore
holds that bound and, for the constructions, the value the theorems assert exactly (0).
"""
from __future__ import annotations

from ..params import Chapter, Param, table

PART = "Deep linear networks"

SEED = Param("seed", int, "random seed of the run", low=0)

TWO_PL = Chapter(
    id="linear-2pl",
    title="Two-piece linear paths between minima of deep linear networks",
    part=PART,
    order=1,
    paper={None: {"fold_poly_residual": 0.0}},
    reproduces=("Theorem 16",),
    params=(
        Param("d", int, "input dimension d", low=1, high=64),
        Param("k", int, "output dimension k (y = Qx, Q ∈ R^{k×d})", low=1, high=64),
        Param("m", int, "width m of the hidden layers (the construction needs m >= 3·min(d, k); Theorem 16 "
              "states m > 2L − 1)", low=1, high=512),
        Param("depths", list, "depths L to construct a 2-PL center for", low=2, high=8),
        Param("pairs", int, "pairs of random minima per depth (each with a 2-PL center and a 3-PL path)", low=1),
        Param("n_train", int, "Gaussian training inputs (the training loss uses their second moment)", low=10),
        Param("n_t", int, "points on each path segment", low=3, high=2001),
        SEED,
    ),
    defaults=table(
        {
            "smoke": dict(d=3, k=1, m=6, depths=[2, 3], pairs=3, n_train=200, n_t=21),
            "cpu": dict(d=5, k=1, m=16, depths=[2, 3, 4, 6], pairs=10, n_train=2000, n_t=101),
            "paper": dict(d=5, k=1, m=16, depths=[2, 3, 4, 6], pairs=50, n_train=2000, n_t=201),
        },
        common=dict(seed=0),
    ),
)

COUNTEREXAMPLE = Chapter(
    id="linear-counterexample",
    title="A pair of minima with no 2-PL center (Lemma 17)",
    part=PART,
    order=2,
    paper={None: {"best_integrated_risk_over_Ex2": 4 / 15}},
    reproduces=("Lemma 17",),
    params=(
        Param("m", int, "width m (the pair is θ_1 = (e_1, e_1ᵀ) and θ_2 = −θ_1; paper: 4)", low=2, high=64),
        Param("sigma2", float, "E x² of the scalar input", low=1e-6, high=1e6),
        Param("restarts", int, "random starts of the search over centers on the minima manifold", low=1),
        Param("n_random", int, "random centers on the manifold on which the closed form and the bound are checked",
              low=1),
        Param("n_t", int, "points on each path segment", low=3, high=2001),
        SEED,
    ),
    defaults=table(
        {
            "smoke": dict(restarts=6, n_random=20, n_t=21),
            "cpu": dict(restarts=200, n_random=1000, n_t=101),
            "paper": dict(restarts=1000, n_random=10000, n_t=201),
        },
        common=dict(m=4, sigma2=1.0, seed=0),
        stated={"m": "Lemma 17: the pair of width 4"},
    ),
)

STAR = Chapter(
    id="linear-star",
    title="Star-shaped connectivity of deep linear networks (Theorem 18)",
    part=PART,
    order=3,
    paper={None: {"max_rel_poly_residual": 0.0}},
    reproduces=("Theorem 18",),
    params=(
        Param("d", int, "input dimension d (scalar output, k = 1)", low=1, high=64),
        Param("depths", list, "depths L", low=2, high=8),
        Param("rs", list, "numbers r of minima", low=1, high=16),
        Param("extra_width", int, "second width checked above the paper's condition: (2 + r(L−1)) + this", low=0),
        Param("trials", int, "random sets of minima per (L, r, m)", low=1),
        Param("restarts", int, "L-BFGS starts of the numerical center search below the width", low=1),
        Param("search_trials", int, "sets of minima searched numerically per (L, r, m); 0 = no search", low=0),
        SEED,
    ),
    defaults=table(
        {
            "smoke": dict(depths=[2, 3], rs=[2], trials=3, restarts=1, search_trials=1),
            "cpu": dict(depths=[2, 3, 4], rs=[2, 3], trials=20, restarts=2, search_trials=4),
            "paper": dict(depths=[2, 3, 4, 5], rs=[2, 3, 4], trials=100, restarts=4, search_trials=10),
        },
        common=dict(d=2, extra_width=4, seed=0),
    ),
)

NGD = Chapter(
    id="linear-ngd",
    title="Normalised geodesic distance against width (Fig 4)",
    part=PART,
    order=4,
    reproduces=("Fig 4",),
    params=(
        Param("widths", list, "widths m (input dimension d = m, L = 2, scalar output)", low=1, high=1024),
        Param("runs", int, "pairs of minima (and centers) per width", low=1),
        Param("n_train", int, "Gaussian training inputs", low=10),
        Param("n_test", int, "Gaussian test inputs", low=10),
        Param("epochs", int, "Adam epochs of the minima", low=1),
        Param("lr", float, "Adam learning rate of the minima", low=1e-6, high=1.0),
        Param("batch_size", int, "minibatch size (minima and center)", low=1),
        Param("center_epochs", int, "epochs of the center search", low=1),
        Param("center_lr", float, "Adam learning rate of the center search", low=1e-6, high=1.0),
        Param("lam", float, "penalty weight λ on ‖θ − θ_i‖² in the center objective", low=0.0),
        Param("B_t", int, "values of t per foot and step of the center search", low=1),
        Param("n_t", int, "points on each path segment", low=3, high=2001),
        SEED,
    ),
    defaults=table(
        {
            "smoke": dict(widths=[4, 128], runs=3, n_train=500, epochs=50, center_epochs=30),
            "cpu": dict(widths=[2, 4, 8, 16, 32, 64, 128], runs=5, n_train=1000, epochs=80, center_epochs=60),
            "paper": dict(widths=[2, 4, 8, 16, 32, 64, 128, 256, 512], runs=5, n_train=2000, epochs=200,
                          center_epochs=200),
        },
        common=dict(n_test=1000, lr=1e-2, batch_size=250, center_lr=1e-2, lam=1e-3, B_t=3, n_t=21, seed=0),
    ),
)

CHAPTERS = [TWO_PL, COUNTEREXAMPLE, STAR, NGD]
