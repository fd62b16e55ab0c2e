"""Beyond the paper: other ways of joining two minima, beside the paper's fold-line (FNN on MNIST)."""
from __future__ import annotations

from ..params import Chapter, Param
from .practical import TABLE1, TABLE2, TRAIN_PARAMS, _defaults

# The paper's numbers that concern one of our paths (FNN + MNIST): Table 1's straight-line
# barriers (mean over the 10 pairs of its 5 minima, training set) and Table 2's pair of minima
# with its fold-line (center with a penalty; Eq. 8 bound = the fold-line's relative length).
PAPER = {
    "linear_train_loss_barrier": TABLE1["fnn-mnist"]["linear_loss_barrier"],
    "linear_train_acc_barrier": TABLE1["fnn-mnist"]["linear_acc_barrier"],
    "fold_train_acc_barrier": TABLE2["fnn-mnist"]["fold_acc"],
    "fold_length": TABLE2["fnn-mnist"]["ngd"],
}

# Weight matching is implemented for fully connected networks: the chapter runs the FNN only.
_PARAMS = tuple(Param("setting", str, "network and dataset (weight matching: fully connected networks only)",
                      choices=("fnn-mnist",)) if p.name == "setting" else p for p in TRAIN_PARAMS) + (
    Param("lam", float, "penalty weight λ of ‖θ−θ_i‖² in the paper's center search (fold-line)", low=0.0),
    Param("bezier_epochs", int, "epochs of the Bezier control point's training", low=1),
    Param("bezier_lr", float, "Adam learning rate of the Bezier control point", low=1e-6, high=1.0),
    Param("star_epochs", int, "epochs of the Beta-t star model's training", low=1),
    Param("star_lr", float, "Adam learning rate of the Beta-t star model", low=1e-6, high=1.0),
    Param("star_beta", list, "(a, b) of the Beta distribution of t for the star model", low=1e-3),
)

# Every trained path gets the center search's budget: as many epochs and B_r·B_t networks per step
# (the Bezier curve draws B_t values of t per step), from the same learning rate. λ = the
# ngd-practical chapter's, so the pair's center is shared with it through the store.
_TRAINED = {"smoke": dict(lam=1e-3, bezier_epochs=3, star_epochs=3),
            "cpu": dict(lam=1e-3, bezier_epochs=10, star_epochs=10),
            "paper": dict(lam=1e-3, bezier_epochs=30, star_epochs=30)}
_EXTRA = {p: dict(v, bezier_lr=0.01, star_lr=0.01, star_beta=[2.0, 2.0]) for p, v in _TRAINED.items()}

CHAPTERS = [
    Chapter(
        "baselines", "Baselines: linear, aligned, Bezier and star paths beside the fold-line (FNN, MNIST)",
        "Beyond the paper", _PARAMS, _defaults(_EXTRA), order=1, paper={"fnn-mnist": PAPER},
    ),
]
