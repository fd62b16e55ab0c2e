"""Constraints between a chapter's parameters, checked before any work.

A :class:`~starconn.params.Param` checks one value against its range; some chapters also need
values to fit together (a student at least as wide as the teacher, a 4-PL width ≥ 2M − 1, …).
``check(cfg)`` raises a one-line :class:`~starconn.errors.ParamError` naming the parameter, the
rule and the value; ``Chapter.resolve`` calls it, so a bad combination fails before any work (on
the command line: exit code 2). A chapter without an entry in :data:`CONSTRAINTS` has no joint
constraint.
"""
from __future__ import annotations

from typing import Callable, Mapping

from .errors import ParamError


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
    ws = {float(w) for w in cfg["widths"]}
    need(len(ws) >= 2 and min(ws) > 0, "widths", "hold at least two distinct positive widths", cfg["widths"])


def _relu_ngd_theory(cfg: Mapping) -> None:
    M, widths = cfg["M"], sorted(set(cfg["widths"]))
    _relu_dims(cfg, M)
    need(len(widths) >= 2, "widths", "hold at least 2 distinct widths", cfg["widths"])
    need(widths[0] > M, "widths", f"be > M = {M} (Theorems 12 and 14 assume m > M)", cfg["widths"])
    need(all(K >= M and sum(w >= 2 * K for w in widths) >= 2 for K in cfg["actives"]), "actives",
         f"hold K >= M = {M} with at least 2 widths >= 2K (widths {widths})", cfg["actives"])
    need(len(cfg["Ms"]) >= 2 and max(cfg["Ms"]) < widths[-1], "Ms",
         f"hold >= 2 teacher sizes below max(widths) = {widths[-1]}", cfg["Ms"])


def pieces(Ks: list) -> list[int]:
    """geodesic-estimate's numbers of pieces, ascending: at least two distinct even integers, each a
    multiple of the one before (the smallest K cuts the fold-line, each larger K the path before)."""
    ks = sorted({int(K) for K in Ks if int(K) == K})
    need(len(ks) == len(set(Ks)) and len(ks) >= 2 and ks[0] >= 2 and ks[0] % 2 == 0
         and all(b % a == 0 for a, b in zip(ks, ks[1:])), "Ks",
         "hold at least two distinct even integers >= 2, each a multiple of the one before (e.g. [2, 4, 8])", Ks)
    return ks


def _geodesic(cfg: Mapping) -> None:
    from .profiles import chapter  # the source chapter's teacher (profiles import this module)

    pieces(cfg["Ks"])
    need(any(cfg[n] for n in ("relu_widths", "linear_widths", "fnn_widths")), "relu_widths",
         "be non-empty, or linear_widths or fnn_widths (at least one setting)", cfg["relu_widths"])
    for name in ("relu_widths", "linear_widths"):
        need(all(int(m) == m for m in cfg[name]), name, "be a list of integers", cfg[name])
    M = chapter("relu-ngd-sgd").resolve(cfg["profile"])["M"]
    need(min(cfg["relu_widths"], default=M) >= M, "relu_widths",
         f"be >= M = {M} (relu-ngd-sgd's teacher: narrower students cannot fit it)", cfg["relu_widths"])


CONSTRAINTS: dict[str, Callable[[Mapping], None]] = {
    "relu-manifold": _relu_manifold,
    "relu-pl-connectivity": _relu_pl,
    "relu-star": _relu_star,
    "relu-ngd-sgd": _relu_sgd,
    "relu-sparsity": _relu_sgd,
    "linear-2pl": _linear_2pl,
    "linear-star": _linear_star,
    "linear-ngd": _linear_ngd,
    "relu-ngd-theory": _relu_ngd_theory,
    "baselines": _baselines,
    "ngd-width-practical": _width_sweep,
    "geodesic-estimate": _geodesic,
}


def check(cfg: Mapping) -> None:
    """Raise ``ParamError`` if the values of ``cfg`` (a resolved configuration) do not fit together."""
    rule = CONSTRAINTS.get(cfg["chapter"])
    if rule is not None:
        rule(cfg)
