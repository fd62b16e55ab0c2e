"""Beyond the paper: the NGD bound and fold-line barrier of the FNN on MNIST against width.

``paper`` follows the paper's FNN protocol (``practical.PROTOCOL['fnn-mnist']['paper']``) at five
widths with three seed pairs each; ``cpu`` is reduced (an MNIST subset, few epochs, two seed pairs)
so that the chapter finishes in minutes on a 2-core laptop; ``smoke`` checks the code path. λ is
``ngd-practical``'s value at every width.
"""
from __future__ import annotations

from ..params import Chapter, Param
from ..protocol import Protocol, choice, layered, reduced, reductions
from .practical import NOTES, PROTOCOL, TRAIN_PARAMS

PART = "Beyond the paper"

FNN = {k: v for k, v in PROTOCOL["fnn-mnist"]["paper"].items() if k != "width"}
TABLE = layered({
    **FNN,
    "widths": choice([0.25, 0.5, 1.0, 2.0, 4.0], "beyond the paper: five widths around the paper's FNN (×1)"),
    "n_seeds": choice(3, "three seed pairs per width"),
    "ensemble": choice(6, "a width's six minima as one vmapped ensemble"),
    "lam": choice(1e-3, "ngd-practical's λ, the same at every width"),
}, {
    "smoke": reductions("smoke", widths=[0.25, 0.5], n_seeds=1, n_train=2000, n_test=1000, epochs=3,
                        center_epochs=2, n_points=5, ensemble=1),
    "cpu": reductions("cpu", n_seeds=2, n_train=4000, n_test=2000, epochs=10, batch_size=100, center_epochs=4,
                      center_lr=reduced(1e-3, f"lr 0.01 threw the ×4 center away in the cpu profile's 160 steps ({NOTES})"),
                      n_points=7, ensemble=4),
})

PARAMS = tuple(p for p in TRAIN_PARAMS if p.name not in ("setting", "width")) + (
    Param("setting", str, "network and dataset (the FNN on MNIST only)", choices=("fnn-mnist",)),
    Param("widths", list, "width multipliers of the hidden layers (at least two)", low=0.01, high=16, min_len=2),
    Param("n_seeds", int, "seed pairs (minima seed + 2r, seed + 2r + 1) per width", low=1, high=20),
    Param("lam", float, "penalty weight λ of ‖θ−θ_i‖² in the center search, the same at every width", low=0.0),
)

CHAPTERS = [
    Chapter(
        "ngd-width-practical", "The NGD of a practical network against width: FNN on MNIST", PART, PARAMS,
        Protocol({"fnn-mnist": TABLE}, default_setting=choice("fnn-mnist", "the chapter's only setting")),
        order=2,
    ),
]
