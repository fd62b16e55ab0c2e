"""Constraints between a chapter's parameters, checked before any work.

A :class:`~starconn.params.Param` checks one value against its range; some chapters also need
values to fit together (a student at least as wide as the teacher, a 4-PL width ≥ 2M − 1, …).
``check(cfg)`` raises a one-line :class:`~starconn.params.ParamError` naming the parameter, the
rule and the value; every chapter function of Parts I and II calls it first (the Part III chapters
do not yet). A chapter without an entry in :data:`CONSTRAINTS` has no joint constraint.
"""
from __future__ import annotations

from typing import Callable, Mapping

from .params import ParamError


def need(ok: bool, name: str, rule: str, value) -> None:
    """Raise ``ParamError`` "parameter NAME must RULE; got VALUE" unless ``ok``."""
    if not ok:
        raise ParamError(f"parameter {name!r} must {rule}; got {value!r}")


def _relu_dims(cfg: Mapping, M: int) -> None:
    need(cfg["d"] >= M, "d", f"be >= M = {M} (the teacher uses the first M input directions)", cfg["d"])


def _relu_manifold(cfg: Mapping) -> None:
    _relu_dims(cfg, cfg["M"])
    need(cfg["m"] >= cfg["M"], "m", f"be >= M = {cfg['M']} (a global minimum needs a row per teacher neuron)", cfg["m"])


def _relu_pl(cfg: Mapping) -> None:
    _relu_dims(cfg, cfg["M"])
    need(min(cfg["widths_4pl"], default=0) >= 2 * cfg["M"] - 1, "widths_4pl",
         f"be a non-empty list of widths >= 2M - 1 = {2 * cfg['M'] - 1} (Theorem 9)", cfg["widths_4pl"])
    need(len(cfg["Ms"]) > 0, "Ms", "be a non-empty list", cfg["Ms"])


def _relu_star(cfg: Mapping) -> None:
    _relu_dims(cfg, cfg["M"])
    need(cfg["m_star"] >= cfg["k_star"] * cfg["M"], "m_star",
         f"be >= k_star·M = {cfg['k_star'] * cfg['M']} (Theorem 11)", cfg["m_star"])
    need(len(cfg["ks"]) > 0, "ks", "be a non-empty list", cfg["ks"])


def _relu_sgd(cfg: Mapping) -> None:
    _relu_dims(cfg, cfg["M"])
    widths = cfg["widths"] if "widths" in cfg else [cfg["m"]]
    need(len(widths) > 0 and all(int(m) == m for m in widths), "widths", "be a non-empty list of integers", widths)
    need(min(widths) >= cfg["M"], "widths" if "widths" in cfg else "m",
         f"be >= M = {cfg['M']} (narrower students cannot fit the teacher)", widths if "widths" in cfg else cfg["m"])


def _linear_2pl(cfg: Mapping) -> None:
    need(len(cfg["depths"]) > 0 and all(int(L) == L for L in cfg["depths"]), "depths",
         "be a non-empty list of integers", cfg["depths"])
    w = 3 * min(cfg["d"], cfg["k"])
    need(cfg["m"] >= w, "m", f"be >= 3·min(d, k) = {w} (the width the 2-PL construction needs)", cfg["m"])


def _linear_star(cfg: Mapping) -> None:
    for name in ("depths", "rs"):
        need(len(cfg[name]) > 0 and all(int(v) == v for v in cfg[name]), name, "be a non-empty list of integers",
             cfg[name])


def _linear_ngd(cfg: Mapping) -> None:
    need(len(cfg["widths"]) > 0 and all(int(m) == m for m in cfg["widths"]), "widths",
         "be a non-empty list of integers", cfg["widths"])


def _baselines(cfg: Mapping) -> None:
    beta = cfg["star_beta"]
    need(len(beta) == 2, "star_beta", "be two Beta parameters [a, b], both > 0", beta)


def _width_sweep(cfg: Mapping) -> None:
    from .width_sweep import check_widths  # the chapter's own rule (it checks it after loading the data)

    check_widths(cfg["widths"])


CONSTRAINTS: dict[str, Callable[[Mapping], None]] = {
    "relu-manifold": _relu_manifold,
    "relu-pl-connectivity": _relu_pl,
    "relu-star": _relu_star,
    "relu-ngd-sgd": _relu_sgd,
    "relu-sparsity": _relu_sgd,
    "linear-2pl": _linear_2pl,
    "linear-star": _linear_star,
    "linear-ngd": _linear_ngd,
    # Part III: rules the chapters check themselves, later (found by tests/test_random_params.py)
    "baselines": _baselines,  # checked after the minima are trained
    "ngd-width-practical": _width_sweep,  # checked after the data are loaded
}


def check(cfg: Mapping) -> None:
    """Raise ``ParamError`` if the values of ``cfg`` (a resolved configuration) do not fit together."""
    rule = CONSTRAINTS.get(cfg["chapter"])
    if rule is not None:
        rule(cfg)
