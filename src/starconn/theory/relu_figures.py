"""Figures of the Part I chapters that more than one chapter draws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def probability_figure(curves: list[dict], vary: str, title: str, confidence: float):
    """P(k random minima have a common center) against the width m, one colour per curve:
    the paper's draw (estimate with its Clopper–Pearson interval), the paper's bound (clipped at 0), and
    the no-zero-rows variant's closed form. ``vary`` is the curve key in the legend ("M" or "k")."""
    fig, ax = plt.subplots(figsize=(8, 5.2), layout="constrained")
    for i, c in enumerate(curves):
        col = f"C{i}"
        est = np.array(c["estimate"])
        err = [est - np.array(c["lower"]), np.array(c["upper"]) - est]
        ax.errorbar(c["m"], est, yerr=err, fmt="o", ms=3, lw=0.8, color=col,
                    label=f"{vary}={c[vary]}: paper's draw, estimate")
        ax.plot(c["m"], c["bound"], "--", color=col, lw=1.2, label=f"{vary}={c[vary]}: bound")
        ax.plot(c["m"], c["variant_exact"], ":", color=col, lw=1, label=f"{vary}={c[vary]}: no zero rows, closed form")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("student width m (neurons)")
    ax.set_ylabel("probability of a common center")
    ax.set_title(f"{title}\n(bars: Clopper–Pearson intervals at confidence {confidence:.5g} each, "
                 "Bonferroni over all widths; bound clipped at 0)", fontsize=9)
    fig.legend(fontsize=7, ncol=min(3, 3 * len(curves)), loc="outside lower center")
    return fig
