"""Beyond the paper: other ways of joining two minima, beside the paper's fold-line (FNN on MNIST,
VGG16 on MNIST and CIFAR-10)."""
from __future__ import annotations

from ..params import Chapter, Param
from ..protocol import Rule, choice, layered
from .practical import CONV_LAM, TABLE1, TABLE2, TRAIN_PARAMS, chapter_protocol, fnn_sized

# Weight matching handles chains of Linear / Conv + BatchNorm layers; the ResNets' skip connections
# tie permutations across layers (``matching.permutation_spec`` refuses them), so they are not offered.
SETTINGS = ("fnn-mnist", "vgg16-mnist", "vgg16-cifar10")

# The paper's numbers that concern one of our paths, per setting: Table 1's straight-line barriers
# (mean over the 10 pairs of its 5 minima, training set) and Table 2's pair of minima with its
# fold-line (center with a penalty; Eq. 8 bound = the fold-line's relative length).
PAPER = {
    s: {k: v for k, v in {
        "linear_train_loss_barrier": TABLE1[s].get("linear_loss_barrier"),
        "linear_train_acc_barrier": TABLE1[s].get("linear_acc_barrier"),
        "fold_train_acc_barrier": TABLE2[s].get("fold_acc"),
        "fold_length": TABLE2[s].get("ngd"),
    }.items() if v is not None}
    for s in SETTINGS
}

PARAMS = tuple(Param("setting", str, "network and dataset (weight matching: chains of Linear / Conv + BatchNorm "
                     "layers, not the ResNets)", choices=SETTINGS) if p.name == "setting" else p
               for p in TRAIN_PARAMS) + (
    Param("lam", float, "penalty weight λ of ‖θ−θ_i‖² in the paper's center search (fold-line)", low=0.0),
    Param("bezier_epochs", int, "epochs of the Bezier control point's training", low=1),
    Param("bezier_lr", float, "Adam learning rate of the Bezier control point", low=1e-6, high=1.0),
    Param("star_epochs", int, "epochs of the Beta-t star model's training", low=1),
    Param("star_lr", float, "Adam learning rate of the Beta-t star model", low=1e-6, high=1.0),
    Param("star_beta", list, "(a, b) of the Beta distribution of t for the star model", low=1e-3,
          min_len=2, max_len=2),
    Param("repair_examples", int, "training examples (the first n) on which REPAIR measures each hidden unit's "
          "statistics (the FNN; BatchNorm nets recompute theirs at every point)", low=10),
)

# λ = the ngd-practical chapter's, so the pair's center is shared with it through the store.
SHARED = "ngd-practical's λ, so that the pair's center is shared with it through the store"
BETA = {"star_beta": choice([2.0, 2.0], "beyond the paper: t ~ Beta(2, 2) for the star model"),
        "repair_examples": choice(10000, "REPAIR's statistics on a subset of the training set (ours): over 10000 "
                                  "examples a unit's mean is known to 1 % of its deviation (at most n_train)")}
# Every trained path gets the center search's budget: as many epochs and the same Adam learning
# rate (the Bezier curve draws B_t values of t per step, the star model B_r·B_t networks, as the center).
BUDGET = "every trained path gets the center search's budget"
RULES = tuple(Rule(f"{path}_{knob}", f"center_{knob}", lambda v, knob=knob: v[f"center_{knob}"], "choice", BUDGET)
              for path in ("bezier", "star") for knob in ("epochs", "lr"))

CHAPTERS = [
    Chapter(
        "baselines", "Baselines: linear, aligned, Bezier and star paths beside the fold-line (FNN and VGG16)",
        "Beyond the paper", PARAMS,
        chapter_protocol(
            fnn=layered({"lam": choice(1e-3, SHARED), **BETA}, {}),
            conv=layered({"lam": choice(1e-5, f"{SHARED}; {CONV_LAM}"), **BETA}, fnn_sized(lam=1e-3)),
            settings=SETTINGS, rules=RULES),
        order=1, paper=PAPER,
    ),
]
