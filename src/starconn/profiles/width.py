"""Beyond the paper: the NGD bound and fold-line barrier of the FNN on MNIST against width.

``paper`` follows the paper's FNN protocol (``practical.PROTOCOL['fnn-mnist']['paper']``: full
MNIST, 40 epochs per minimum, 30 center epochs) at five widths with three seed pairs each; ``cpu``
is reduced (an MNIST subset, few epochs, two seed pairs) so that the chapter finishes in minutes on
a 2-core laptop; ``smoke`` checks the code path. λ is ``ngd-practical``'s value at every width.

``cpu`` searches the center with Adam lr 1e-3 instead of the paper's 0.01: its search is 160 steps
(4 epochs of 4000 examples) against the paper's 9000, and with lr 0.01 those few steps threw the
center of the ×4 network away from the minima (its fold-line lost more accuracy than the straight
line, a center that is not one); lr 1e-3 gave fold-lines better than the straight line at every width.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..params import Chapter, Param
from .practical import COMMON, PROTOCOL, TRAIN_PARAMS

PART = "Beyond the paper"

_FNN = PROTOCOL["fnn-mnist"]
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(_FNN["smoke"], widths=[0.25, 0.5], n_seeds=1, n_train=2000, n_test=1000, epochs=3,
                  center_epochs=2, n_points=5, lam=1e-3),
    "cpu": dict(_FNN["cpu"], widths=[0.25, 0.5, 1.0, 2.0, 4.0], n_seeds=2, n_train=4000, n_test=2000, epochs=10,
                batch_size=100, center_epochs=4, center_lr=1e-3, n_points=7, ensemble=4, lam=1e-3),
    "paper": dict(_FNN["paper"], widths=[0.25, 0.5, 1.0, 2.0, 4.0], n_seeds=3, ensemble=6, lam=1e-3),
}


def _defaults(profile: str, given: Mapping[str, Any]) -> dict:
    out = {**COMMON, **PROFILES[profile], "setting": "fnn-mnist"}
    out.pop("width", None)
    return out


PARAMS = tuple(p for p in TRAIN_PARAMS if p.name not in ("setting", "width")) + (
    Param("setting", str, "network and dataset (the FNN on MNIST only)", choices=("fnn-mnist",)),
    Param("widths", list, "width multipliers of the hidden layers (at least two)", low=0.01, high=16),
    Param("n_seeds", int, "seed pairs (minima seed + 2r, seed + 2r + 1) per width", low=1, high=20),
    Param("lam", float, "penalty weight λ of ‖θ−θ_i‖² in the center search, the same at every width", low=0.0),
)

CHAPTERS = [
    Chapter(
        "ngd-width-practical", "The NGD of a practical network against width: FNN on MNIST", PART, PARAMS,
        _defaults, order=2, paper={},
    ),
]
