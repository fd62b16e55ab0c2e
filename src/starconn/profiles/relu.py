"""Part I: two-layer ReLU networks in the teacher–student setup (Section 3, Theorems 6–11, Fig 3)."""
from __future__ import annotations

from ..params import Chapter, Param, table

PART = "Two-layer ReLU networks"

SEED = Param("seed", int, "seed of every random draw in the chapter", low=0)
M_P = Param("M", int, "teacher neurons M (teacher f*(x) = Σ_{j≤M} σ(x_j))", low=1, high=16)
D_P = Param("d", int, "input dimension d (x uniform on the sphere S^{d−1}); needs d ≥ M", low=2, high=64)
N_SAMPLES = Param("n_samples", int, "sphere samples of the Monte-Carlo risk and of the identity f = f*", low=100)

MANIFOLD = Chapter(
    "relu-manifold", "The manifold of global minima (Theorem 6, Lemma 7)", PART,
    (M_P, D_P,
     Param("m", int, "student width m (needs m ≥ M)", low=1, high=4096),
     Param("n_minima", int, "random global minima checked", low=1),
     Param("n_off", int, "perturbed (off-manifold) networks checked", low=1),
     Param("n_pairs", int, "random pairs of minima whose segment is checked (Lemma 7)", low=1),
     Param("n_t", int, "interior points of each segment where the risk is measured", low=1),
     Param("p_zero", float, "probability that a row of a random minimum is zero", low=0.0, high=0.9),
     Param("p_keep", float, "probability that a row of the second minimum of a pair copies the first's label",
           low=0.0, high=1.0),
     N_SAMPLES, SEED),
    table({
        "smoke": dict(m=8, n_minima=20, n_off=20, n_pairs=40, n_t=5, n_samples=20_000),
        "cpu": dict(m=12, n_minima=150, n_off=150, n_pairs=200, n_t=5, n_samples=100_000),
        "paper": dict(m=12, n_minima=1000, n_off=1000, n_pairs=2000, n_t=9, n_samples=200_000),
    }, dict(M=4, d=6, p_zero=0.2, p_keep=0.8, seed=0)),
    order=1, paper={None: {"max_risk_minima": 0.0, "min_risk_off": "> 0", "lemma7_agreement": 1.0}},
    reproduces=("Theorem 6", "Lemma 7"),
)

PL = Chapter(
    "relu-pl-connectivity", "2-PL and 4-PL connectivity (Theorems 8 and 9)", PART,
    (Param("Ms", list, "teacher sizes M of the probability curves", low=1, high=8),
     Param("m_max", int, "largest width m of the probability curves", low=2, high=2000),
     Param("n_draws", int, "pairs of random minima per (M, m)", low=10),
     Param("M", int, "teacher size M of the 4-PL constructions", low=2, high=16),
     Param("widths_4pl", list, "widths m of the 4-PL constructions (each ≥ 2M − 1)", low=1, high=4096),
     Param("n_paths", int, "pairs per width joined by a 4-PL path (half random, half adversarial)", low=2),
     Param("d", int, "input dimension of the 4-PL checks (needs d ≥ M)", low=2, high=64),
     N_SAMPLES, SEED),
    table({
        "smoke": dict(Ms=[2, 3], m_max=40, n_draws=500, widths_4pl=[7, 8], n_paths=6, n_samples=5_000),
        "cpu": dict(Ms=[2, 3, 4, 5], m_max=160, n_draws=5_000, widths_4pl=[7, 8, 12, 20], n_paths=30,
                    n_samples=20_000),
        "paper": dict(Ms=[2, 3, 4, 5, 6], m_max=300, n_draws=20_000, widths_4pl=[7, 8, 12, 20, 40],
                      n_paths=200, n_samples=100_000),
    }, dict(M=4, d=6, seed=0)),
    order=2, paper={None: {"bound_violations": 0, "four_pl_max_risk": 0.0}}, reproduces=("Theorem 8", "Theorem 9"),
)

STAR = Chapter(
    "relu-star", "Star-shaped connectivity (Theorems 10 and 11, Fig 2)", PART,
    (M_P,
     Param("ks", list, "numbers k of minima of the probability curves", low=2, high=8),
     Param("m_max", int, "largest width m of the probability curves", low=2, high=5000),
     Param("n_draws", int, "draws of k random minima per (k, m)", low=10),
     Param("k_star", int, "feet of the extended star (Theorem 11)", low=1, high=16),
     Param("m_star", int, "width of the extended stars (needs m ≥ k_star·M)", low=1, high=4096),
     Param("n_stars", int, "extended stars constructed and verified", low=1),
     D_P, N_SAMPLES, SEED),
    table({
        "smoke": dict(ks=[2, 3], m_max=60, n_draws=300, n_stars=3, n_samples=5_000),
        "cpu": dict(ks=[2, 3, 4], m_max=400, n_draws=3_000, n_stars=30, n_samples=20_000),
        "paper": dict(ks=[2, 3, 4, 5], m_max=2000, n_draws=20_000, n_stars=200, n_samples=100_000),
    }, dict(M=3, k_star=4, m_star=12, d=4, seed=0)),
    order=3, paper={None: {"bound_violations": 0, "star_max_risk": 0.0}},
    reproduces=("Theorem 10", "Theorem 11", "Fig 2"),
)

TRAIN = (
    Param("n_train", int, "training sphere samples (teacher labels)", low=10),
    Param("n_test", int, "fresh test sphere samples", low=10),
    Param("steps", int, "SGD steps", low=1),
    Param("lr_scale", float, "SGD step size times m (lr = lr_scale / m)", low=1e-6, high=100.0),
    Param("batch_size", int, "SGD minibatch size", low=1),
    Param("init_scale", float, "initial entries uniform in ±init_scale/√d (1 = nn.Linear's default; 0 would be a "
          "fixed point of SGD: every ReLU gradient vanishes at W = 0)", low=1e-3),
)

NGD = Chapter(
    "relu-ngd-sgd", "NGD of SGD solutions against width (Fig 3, left)", PART,
    (M_P, D_P,
     Param("widths", list, "student widths m", low=1, high=4096),
     Param("n_pairs", int, "pairs of SGD solutions (seeds) per width", low=1),
     *TRAIN,
     Param("center_epochs", int, "epochs of the center search", low=1),
     Param("center_lr", float, "Adam learning rate of the center search", low=1e-6, high=1.0),
     Param("lam", float, "penalty weight λ of ‖θ−θ_i‖² in the center search (> 0)", low=1e-12),
     Param("B_t", int, "values of t per step of the center search", low=1),
     Param("n_t", int, "points per segment where the path loss is measured", low=3),
     SEED),
    table({
        "smoke": dict(widths=[8, 32], n_pairs=1, n_train=500, n_test=500, steps=300, center_epochs=3),
        "cpu": dict(widths=[8, 16, 32, 64, 128], n_pairs=5, n_train=2000, n_test=5000, steps=6000,
                    center_epochs=30),
        "paper": dict(widths=[8, 16, 32, 64, 128, 256, 512], n_pairs=5, n_train=5000, n_test=20000,
                      steps=20000, center_epochs=100),
    }, dict(M=4, d=4, lr_scale=4.0, batch_size=32, init_scale=1.0, center_lr=0.01, lam=0.01, B_t=3,
            n_t=11, seed=0), stated={"M": "Fig 3: M = 4"}),
    order=4, paper={None: {"ngd_decreasing": True}}, reproduces=("Fig 3 (left)",),
)

SPARSITY = Chapter(
    "relu-sparsity", "SGD finds sparse solutions (Fig 3, right)", PART,
    (M_P, D_P,
     Param("m", int, "student width m", low=1, high=8192),
     *TRAIN,
     Param("top", int, "number of largest neurons whose share of the mass is reported", low=1),
     SEED),
    table({
        "smoke": dict(m=512, n_train=500, n_test=500, steps=300),
        "cpu": dict(m=512, n_train=2000, n_test=5000, steps=20000),
        "paper": dict(m=512, n_train=5000, n_test=20000, steps=50000),
    }, dict(M=4, d=4, lr_scale=4.0, batch_size=32, init_scale=1.0, top=16, seed=0),
        stated={"m": "Fig 3 (right): m = 512", "M": "Fig 3 (right): M = 4", "d": "Fig 3 (right): d = 4"}),
    order=5, paper={None: {"sparse": True}}, reproduces=("Fig 3 (right)",),
)

CHAPTERS = [MANIFOLD, PL, STAR, NGD, SPARSITY]

NGD_THEORY = Chapter(
    "relu-ngd-theory", "NGD of random minima against width (Theorems 12 and 14)", PART,
    (M_P, D_P,
     Param("widths", list, "student widths m of the random minima (each > M)", low=2, high=65536),
     Param("rs", list, "zero-row probabilities r of the neuron-sparse draws SP(𝓜, r) (Definition 13)",
           low=0.01, high=0.99),
     Param("actives", list, "numbers K of active rows of the draws SP(𝓜, 1 − K/m), drawn at the widths "
           "≥ 2K (K ≥ M, two such widths)", low=1, high=32768),
     Param("Ms", list, "teacher sizes M of the uniform draws compared with Theorem 12's √M", low=2, high=64),
     Param("n_pairs", int, "pairs of random minima per draw model and width", low=2),
     Param("n_boot", int, "bootstrap resamples of every confidence interval", low=100),
     Param("sgd_widths", list, "widths m of the SGD students placed among the draws", low=2, high=4096),
     Param("sgd_pairs", int, "pairs of SGD students (seeds) per width", low=1),
     *TRAIN, SEED),
    table({
        "smoke": dict(widths=[8, 32, 128], rs=[0.5, 0.9], actives=[8], Ms=[2, 4], n_pairs=10, n_boot=200,
                      sgd_widths=[8, 16], sgd_pairs=1, n_train=500, n_test=500, steps=300),
        "cpu": dict(widths=[16, 32, 64, 128, 256, 512, 1024, 2048, 4096], rs=[0.5, 0.75, 0.9], actives=[8],
                    Ms=[2, 4, 8, 16], n_pairs=200, n_boot=2000, sgd_widths=[16, 64, 256], sgd_pairs=2,
                    n_train=2000, n_test=5000, steps=6000),
        "paper": dict(widths=[16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384], rs=[0.25, 0.5, 0.75, 0.9],
                      actives=[8, 32], Ms=[2, 4, 8, 16, 32], n_pairs=500, n_boot=5000,
                      sgd_widths=[16, 64, 256, 1024], sgd_pairs=3, n_train=5000, n_test=20000, steps=20000),
    }, dict(M=4, d=4, lr_scale=4.0, batch_size=32, init_scale=1.0, seed=0)),
    order=6, paper={None: {"uniform_ngd_tends_to_1": False, "uniform_exponent_in_M": "<= 0.5",
                           "sparse_ngd_tends_to_1": True}},
    reproduces=("Theorem 12", "Theorem 14"),
)

CHAPTERS.append(NGD_THEORY)
