"""Beyond the paper: does a center found from r feet connect to minima it was not built from?
(chapter ``star-heldout``; FNN on MNIST and VGG16 on CIFAR-10).

The minima and the center search follow the star chapters' protocols
(``practical.PROTOCOL``, λ of ``star-barriers``), so that the feet, the r = 5 FNN center
(``star-barriers``), the r = 2 FNN center (``ngd-practical``'s sweep) and the r = 3 VGG16 center
(``star-vgg16-cifar10``) are shared with those chapters through the store.
"""
from __future__ import annotations

from ..params import Chapter, Param
from ..protocol import Protocol, choice, layered, reduced, reductions
from .practical import (CONV_STAR_LAM, CPU_CENTER_EPOCHS, CPU_CENTER_EPOCHS_PER_FOOT, NOTES, STAR_LAM, TRAIN_PARAMS,
                        chapter_protocol, fnn_sized)

SETTINGS = ("fnn-mnist", "vgg16-cifar10")

PARAMS = tuple(Param("setting", str, "network and dataset (none given: the chapter runs both)", choices=SETTINGS)
               if p.name == "setting" else p for p in TRAIN_PARAMS) + (
    Param("r_values", list, "numbers r of feet: one center per r, found from the minima seed … seed + r − 1",
          low=1, high=20, min_len=2),
    Param("n_heldout", int, "held-out minima, never used by a center search: the seeds after the feet's "
          "(seed + max r …)", low=2, high=20),
    Param("lam", float, "penalty weight λ of ‖θ−θ_i‖² in the center search", low=0.0),
    Param("epochs_per_foot", bool, "center_epochs counts per foot: the center of r feet searches r × center_epochs "
          "epochs (else every center gets center_epochs)"),
    Param("n_eval", int, "training examples (the first n) on which barriers are measured", low=100),
)

R_PAPER = choice([1, 2, 3, 5, 8], "issue 19: r = 1, 2, 3, 5, 8 (Sonthalia et al. 2024 vary the number of anchors)")
HELDOUT = {
    "n_heldout": choice(5, "five held-out minima: the trend's sign is tested on each"),
    "epochs_per_foot": choice(False, "every center gets the star chapters' center_epochs, whatever r (so the "
                              "centers shared with star-barriers and ngd-practical are the same entries)"),
}
CPU_R = "cpu profile: only the r whose centers other chapters compute, plus r = 1"
CPU_HELD = reduced(3, "cpu profile: three held-out minima (a sign test over three)")

FNN = layered({"r_values": R_PAPER, **HELDOUT, "lam": STAR_LAM,
               "n_eval": choice(60000, "the whole training set")}, {
    "smoke": reductions("smoke", r_values=[1, 2], n_heldout=2, n_eval=2000),
    "cpu": reductions("cpu", r_values=reduced([1, 2, 5], f"{CPU_R} (r = 2: ngd-practical, r = 5: star-barriers); "
                                              "r = 3 and 8 cut: a center costs minutes on 2 cores"),
                      n_heldout=CPU_HELD,
                      n_eval=reduced(10000, "cpu profile: barriers on the first 10000 training examples (6× cheaper "
                                     "per point than 60000)")),
})
SMALL_LAM = fnn_sized(lam=1e-4)
CONV = layered({"r_values": R_PAPER, **HELDOUT, "lam": CONV_STAR_LAM,
                "n_eval": choice(50000, "the whole training set")}, {
    "smoke": {**SMALL_LAM["smoke"], **reductions("smoke", r_values=[1, 3], n_heldout=2, n_eval=500)},
    "cpu": {**SMALL_LAM["cpu"], **reductions(
        "cpu", r_values=reduced([1, 3], f"{CPU_R} (r = 3: star-vgg16-cifar10); r = 2, 5 and 8 cut: 24 center "
                                "epochs per foot"),
        n_heldout=CPU_HELD, n_eval=1000,
        center_epochs=reduced(CPU_CENTER_EPOCHS_PER_FOOT, f"{CPU_CENTER_EPOCHS_PER_FOOT} epochs per foot, the star "
                              f"chapters' cpu rule ({NOTES})"),
        epochs_per_foot=reduced(True, "the star chapters' cpu rule: one foot per step, so the search grows with r"))},
})

_BASE = chapter_protocol(fnn=FNN, conv=CONV, settings=SETTINGS,
                         default_setting=choice(SETTINGS[0], "the chapter runs both settings unless one is given; "
                                                "`show` prints the first"))
# the star chapters' rule sets center_epochs from n_minima; here epochs_per_foot says it per r
PROTOCOL = Protocol(_BASE.table, tuple(r for r in _BASE.rules if r is not CPU_CENTER_EPOCHS), _BASE.default_setting)

CHAPTERS = [
    Chapter(
        "star-heldout", "Does the center connect to minima it was not built from? (FNN and VGG16)",
        "Beyond the paper", PARAMS, PROTOCOL, order=3,
    ),
]
