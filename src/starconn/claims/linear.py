"""Claim checks of Part II (deep linear networks: Theorem 16, Lemma 17, Theorem 18, Fig 4)."""
from __future__ import annotations

from typing import Any, Mapping

from ..theory.linear_chapters import ALPHA, EXACT
from . import Claims

TRAINED = 1e-2  # the feet of linear-ngd are minima when their population risk is below TRAINED·E y²


def two_pl(c: Claims, m: Mapping[str, Any], profile: str) -> None:
    below = m["depths_below_paper_condition"]
    note = f"; depths {below} do not meet Theorem 16's m > 2L − 1, where the construction works too" if below else ""
    c.require(m["fold_rel_poly_residual"] < EXACT,
              f"Theorem 16: every pair of random minima ({m['pairs_per_depth']} per depth) has a 2-PL center: both "
              f"fold segments lie on the manifold (every coefficient of P(t) − Q is round-off){note}",
              f"largest relative coefficient {m['fold_rel_poly_residual']:.1e} ≥ {EXACT:g}")
    c.require(m["direct_poly_residual_smallest"] > 1e-6 and m["fold_max_risk"] < 1e-12 * m["direct_max_risk_smallest"],
              "the straight segment between the minima leaves the manifold (a barrier) where the fold-line does not",
              f"smallest direct coefficient {m['direct_poly_residual_smallest']:.1e}, fold-line loss "
              f"{m['fold_max_risk']:.1e} vs direct {m['direct_max_risk_smallest']:.1e}")
    c.require(m["three_pl_rel_residual_random"] < EXACT,
              "Theorem 16: the 3-PL path joins every random pair on the manifold",
              f"largest relative coefficient {m['three_pl_rel_residual_random']:.1e}")
    c.require(m["degenerate_refused"] and m["three_pl_rel_residual_degenerate"] < EXACT,
              "the degenerate pair (θ, −θ) has no 2-PL center from the construction, but a 3-PL path on the "
              "manifold", f"refused: {m['degenerate_refused']}, 3-PL relative coefficient "
                          f"{m['three_pl_rel_residual_degenerate']:.1e}")


def counterexample(c: Claims, m: Mapping[str, Any], profile: str) -> None:
    c.require(m["refused"], "the 2-PL construction finds no center for Lemma 17's pair (θ, −θ)",
              "the constructor returned a center")
    c.require(m["closed_form_max_rel_dev"] < 1e-10,
              "the integrated loss along both segments is E x²·(2s² + 8)/30 for every center on the manifold "
              "(exact integral on the family θ*(s) and on random centers)",
              f"largest relative deviation {m['closed_form_max_rel_dev']:.1e}")
    c.require(m["best_over_bound"] > 1 - 1e-9,
              "Lemma 17: no center on the manifold has integrated loss below 4/15·E x² (family, random centers, "
              "L-BFGS)",
              f"smallest found {m['best_over_bound']:.10f} × the bound")
    c.require(abs(m["attained_over_bound"] - 1) < 1e-12 and abs(m["search_best_over_bound"] - 1) < 1e-6,
              "the bound is attained (at θ* = (e_2, e_2ᵀ), s = 0), and L-BFGS over the manifold converges to it",
              f"θ*(0): {m['attained_over_bound']:.12f}, L-BFGS: {m['search_best_over_bound']:.10f} × the bound")
    c.require(m["best_unrestricted_over_Ex2"] > 1 / 6 - 1e-9,
              "even off the manifold no θ* joins the pair: the integrated loss stays ≥ E x²/6",
              f"L-BFGS found {m['best_unrestricted_over_Ex2']:.10f}·E x²")


def star(c: Claims, m: Mapping[str, Any], profile: str) -> None:
    c.require(m["max_rel_poly_residual"] < EXACT and m["rel_poly_residual_of_successes"] < EXACT,
              "Theorem 18: at the paper's width m > 1 + r(L − 1) the constructed star centers are exact",
              f"largest relative coefficient {m['max_rel_poly_residual']:.1e} (successes below the width: "
              f"{m['rel_poly_residual_of_successes']:.1e})")
    c.require(m["construction_success_at_or_above_r_plus_1"] == 1.0,
              "the construction works whenever m ≥ r + 1 (the paper's condition is sufficient, not necessary)",
              f"succeeded in a fraction {m['construction_success_at_or_above_r_plus_1']:.3f} of some cell")
    c.require(m["construction_success_below_r_plus_1"] == 0.0 and m["min_residual_below_r_plus_1"] > 1e-6,
              "below m = r + 1 the construction's last system is inconsistent (generic minima)",
              f"succeeded in a fraction {m['construction_success_below_r_plus_1']:.3f}; smallest median residual "
              f"{m['min_residual_below_r_plus_1']:.1e}")
    claim = "at m = 1 (L = 2, r ≥ 2 minima, rescalings of one another) no common center exists: the search finds none"
    if "search_found_at_m_1" in m:
        c.require(m["search_found_at_m_1"] == 0.0, claim, f"found in a fraction {m['search_found_at_m_1']:.3f}")
    else:
        c.skip(claim, "the numerical search did not run at m = 1 with r ≥ 2 (it runs at L = 2 only, with "
                      "search_trials > 0)")


NGD_CLAIM = (f"Fig 4: the NGD bound decreases with the width (one-sided Kendall permutation test over every run, "
             f"p ≤ {ALPHA:g})")


def ngd(c: Claims, m: Mapping[str, Any], profile: str) -> None:
    claims = [NGD_CLAIM, "the fold-lines through the found centers have a lower barrier than the straight segments"]
    if not c.trained(m["minima_max_rel_risk"] < TRAINED, f"Adam reached minima (population risk < {TRAINED:g}·E y²)",
                     f"largest risk of a foot {m['minima_max_rel_risk']:.1e}·E y²", profile, claims):
        return
    c.decrease(m, "ngd", NGD_CLAIM, ALPHA, f", means {m['ngd_mean']}")
    c.require(m["fold_below_linear_all_widths"], claims[1],
              f"mean fold-line barrier {m['fold_max_risk_mean']} vs straight {m['linear_max_risk_mean']}")


CHECKS = {
    "linear-2pl": two_pl,
    "linear-counterexample": counterexample,
    "linear-star": star,
    "linear-ngd": ngd,
}
