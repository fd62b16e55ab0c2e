"""Beyond the paper: how far the fold-line bound (Eq. 8) is from the shortest K-piece path at the
minima's level, per width, for the ReLU teacher–student, the deep linear net and the FNN on MNIST.

The minima and centers are the source chapters' (``relu-ngd-sgd``, ``linear-ngd``,
``ngd-width-practical``) at the same profile; this chapter chooses only the widths and the number of
pairs per width, and how the K-piece paths are found (``starconn.geodesic``).
"""
from __future__ import annotations

from ..params import Chapter, Param
from ..protocol import Protocol, choice, layered, reduced, reductions

PART = "Beyond the paper"
CPU_FNN = ("cpu profile: a chain step on the FNN costs a forward/backward per piece (FNN chains were 56 % of a "
           "27-minute cpu trial with ×1): widths ×¼ and ×½ (×1 and up at paper), 150 steps a round, 24 points")

TABLE = layered({
    "relu_widths": choice([8, 16, 32, 64, 128, 256, 512], "relu-ngd-sgd's paper widths"),
    "relu_pairs": choice(3, "three pairs of SGD solutions per width"),
    "linear_widths": choice([2, 4, 8, 16, 32, 64, 128, 256, 512], "linear-ngd's paper widths"),
    "linear_pairs": choice(3, "three pairs of minima per width"),
    "fnn_widths": choice([0.25, 0.5, 1.0, 2.0, 4.0], "ngd-width-practical's widths"),
    "fnn_pairs": choice(2, "two seed pairs per width"),
    "Ks": choice([2, 4, 8], "the issue's K = 2, 4, 8 (K = 2 starts at the paper's center)"),
    "eps": choice(1e-3, "the level (ReLU, linear): 0.1 % of a trivial predictor's loss above the minima's loss"),
    "fnn_eps": choice(1e-2, "the level (FNN): 1 % of ln 10 above the minima's loss. At the cpu profile the FNN's "
                      "minibatch loss (batch 200) has a standard deviation of 0.032 nats at a fold-line's midpoint, "
                      "0.0094 with the endpoints as control variate, far above 0.1 % of ln 10 (0.0023): at that level "
                      "the hinge fired wherever the path was and pushed it down the loss (×¼: an 8-piece path at the "
                      "level grew from 1.191 to 1.218)"),
    "chain_steps": choice(2000, "Adam steps per round of a K-piece path (ReLU, linear)"),
    "fnn_chain_steps": choice(2000, "Adam steps per round of a K-piece path (FNN)"),
    "chain_lr": choice(0.01, "Adam lr in units of the rms entry of θ1 − θ2: 40–160 epochs of the ReLU m = 8 "
                       "chain gave NGD estimates within 2 % of each other at lr 0.01 and 0.03"),
    "mu": choice(1.0, "hinge weight of the first round: μ = 10 gave a 5 % longer ReLU m = 128 path and did not "
                 "straighten the convex test case in 600 steps (a rare hinge spike inflates Adam's second moment)"),
    "mu_growth": choice(10.0, "μ × 10 in a round after one that ended above the level"),
    "rounds": choice(3, "at most three rounds per K (e.g. μ, 10μ, 100μ while above the level)"),
    "min_gain": choice(1e-3, "another round at the same μ only after one that shortened the path by more than 0.1 % of "
                       "‖θ1 − θ2‖: further rounds gained < 0.0005 in the cpu trial (ReLU m = 128, linear m = 2)"),
    "margin": choice(0.5, "the chain is trained to ℓ − ε/2 and checked at ℓ: minibatch noise"),
    "B_t": choice(1, "one value of t per piece and step"),
    "n_points": choice(200, "dense points per path where the loss is checked (ReLU, linear)"),
    "fnn_n_points": choice(80, "dense points per path where the loss is checked (FNN)"),
}, {
    "smoke": reductions("smoke", relu_widths=[8, 32], relu_pairs=1, linear_widths=[4, 16], linear_pairs=1,
                        fnn_widths=[0.25], fnn_pairs=1, chain_steps=30, fnn_chain_steps=10, rounds=1, n_points=16,
                        fnn_n_points=8),
    "cpu": reductions("cpu", relu_widths=[8, 32, 128], relu_pairs=1, linear_widths=[2, 8, 32, 128], linear_pairs=1,
                      fnn_widths=reduced([0.25, 0.5], CPU_FNN), fnn_pairs=1, chain_steps=400,
                      fnn_chain_steps=reduced(150, CPU_FNN), n_points=80, fnn_n_points=reduced(24, CPU_FNN)),
})

PARAMS = (
    Param("relu_widths", list, "ReLU student widths m (relu-ngd-sgd's minima and centers; empty: skip)", low=1,
          high=4096, min_len=0),
    Param("relu_pairs", int, "pairs of SGD solutions per ReLU width", low=1, high=20),
    Param("linear_widths", list, "deep linear widths m = d (linear-ngd's minima and centers; empty: skip)", low=1,
          high=1024, min_len=0),
    Param("linear_pairs", int, "pairs of minima per linear width", low=1, high=20),
    Param("fnn_widths", list, "FNN width multipliers (ngd-width-practical's minima and centers; empty: skip)",
          low=0.01, high=16, min_len=0),
    Param("fnn_pairs", int, "seed pairs per FNN width", low=1, high=20),
    Param("Ks", list, "pieces K of the estimated paths (even, each a multiple of the one before: coarse to fine)",
          low=2, high=64),
    Param("eps", float, "the level (ReLU, linear): ε·L₀ above the minima's loss (L₀: a trivial predictor's loss)",
          low=1e-9, high=1.0),
    Param("fnn_eps", float, "the level (FNN): ε·L₀ above the minima's loss (L₀ = ln 10)", low=1e-9, high=1.0),
    Param("chain_steps", int, "Adam steps per round of a K-piece path (ReLU, linear)", low=1),
    Param("fnn_chain_steps", int, "Adam steps per round of a K-piece path (FNN)", low=1),
    Param("chain_lr", float, "Adam lr of the K-piece path, in units of the rms entry of θ1 − θ2", low=1e-6, high=1.0),
    Param("mu", float, "weight μ of the hinge on the loss above the level", low=1e-6),
    Param("mu_growth", float, "μ's factor in a round after one that ended above the level", low=1.0),
    Param("rounds", int, "rounds of the chain's optimisation at most", low=1, high=10),
    Param("margin", float, "the chain is trained to ℓ − margin·ε (checked at ℓ)", low=0.0, high=0.99),
    Param("min_gain", float, "another round at the same μ only after one that shortened the path by more (NGD units)",
          low=0.0, high=1.0),
    Param("B_t", int, "values of t per piece and step", low=1, high=16),
    Param("n_points", int, "dense points per path where the loss is checked (ReLU, linear)", low=3),
    Param("fnn_n_points", int, "dense points per path where the loss is checked (FNN)", low=3),
)

CHAPTERS = [
    Chapter(
        "geodesic-estimate", "How far is the fold-line from the geodesic? The shortest K-piece path at the minima's "
        "level", PART, PARAMS, Protocol({None: TABLE}), order=4,
        paper={None: {"fnn_fold_ngd_width_1": 1.003}},
    ),
]
