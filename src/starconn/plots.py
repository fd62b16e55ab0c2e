"""Figures shared by chapters, styled like the paper's (seaborn, labelled axes with units).

Importing this module changes nothing; a chapter calls :func:`use_style` once for the book's look.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from .paths import Curve


def use_style() -> None:
    """The book's figure style (seaborn's white grid, notebook context) for the figures drawn after it."""
    sns.set_theme(style="whitegrid", context="notebook")


def path_figure(linear: dict[tuple[int, int], Curve], fold: dict[tuple[int, int], Curve], title: str = ""):
    """Training loss (left, log scale) and accuracy (right) along linear paths θi → θj and
    fold-lines θi → θ* → θj; the position is normalised to [0, 1] (the center sits at 0.5)."""
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    colors = sns.color_palette("tab10", max(len(linear), 1))
    for c, ((i, j), cur) in zip(colors, linear.items()):
        kw = dict(color=c, ls="--", lw=1.2, label=f"linear θ{i + 1}→θ{j + 1}")
        ax_l.plot(cur.s, cur.loss, **kw)
        ax_a.plot(cur.s, cur.acc, **kw)
    for c, ((i, j), cur) in zip(colors, fold.items()):
        x = [s / cur.s[-1] for s in cur.s]
        kw = dict(color=c, ls="-", lw=1.8, label=f"fold-line θ{i + 1}→θ*→θ{j + 1}")
        ax_l.plot(x, cur.loss, **kw)
        ax_a.plot(x, cur.acc, **kw)
    ax_l.set(yscale="log", xlabel="position along path (center at 0.5 on fold-lines)",
             ylabel="training loss (cross-entropy, nats)")
    ax_a.set(xlabel="position along path (center at 0.5 on fold-lines)", ylabel="training accuracy (%)")
    handles, labels = ax_a.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, ncol=5, loc="outside lower center")
    if title:
        fig.suptitle(title)
    return fig


def ngd_tradeoff(sweep: dict[str, dict]):
    """NGD bound (Eq. 8) and fold-line minimum accuracy against the penalty weight λ; ``sweep``:
    ``{str(λ): {"ngd": …, "fold_acc": …}}`` (``practical.ngd_metrics(…)["sweep"]``)."""
    lams = sorted(sweep, key=float)
    fig, (ax_n, ax_a) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    ax_n.plot([float(l) for l in lams], [sweep[l]["ngd"] for l in lams], "o-")
    ax_a.plot([float(l) for l in lams], [sweep[l]["fold_acc"] for l in lams], "o-", color="C1")
    for ax in (ax_n, ax_a):
        ax.set_xscale("log")
        ax.set_xlabel("penalty weight λ")
    ax_n.set_ylabel("NGD upper bound (Eq. 8)")
    ax_a.set_ylabel("fold-line min training accuracy (%)")
    return fig


def convergence_figure(info: dict, rows: list[dict], title: str = ""):
    """The center search epoch by epoch (``info``: the center's record, ``center.find_center``):
    left, the epoch-mean path risk E_t R(tθ + (1−t)θi) and objective J (log scale), with the
    fold-line loss barrier through the center after each kept epoch (``rows``,
    ``practical.convergence``); right, the fold-line accuracy barrier and the center's training
    accuracy after each kept epoch."""
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    epochs = range(1, len(info["objective"]) + 1)
    ax_l.plot(epochs, info["risk"], label="path risk (epoch mean)")
    if info["objective"] != info["risk"]:
        ax_l.plot(epochs, info["objective"], ls=":", label="objective J (with the penalty)")
    if rows:
        e = [r["epoch"] for r in rows]
        ax_l.plot(e, [r["fold_loss_barrier"] for r in rows], "o-", label="fold-line loss barrier")
        ax_l.plot(e, [r["center_train_loss"] for r in rows], "s--", label="center's training loss")
        ax_a.plot(e, [r["fold_acc_barrier"] for r in rows], "o-", color="C2", label="fold-line accuracy barrier")
        ax_a.plot(e, [r["center_train_acc"] for r in rows], "s--", color="C3", label="center's training accuracy")
        ax_a.legend(fontsize=8)
    ax_l.set(yscale="log", xlabel="center search epoch", ylabel="training loss (cross-entropy, nats)")
    ax_a.set(xlabel="center search epoch", ylabel="training accuracy (%)")
    ax_l.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def bound_figure(starts: dict[str, dict]):
    """The Eq. 8 bound through the center during the search, from each start (``starts``:
    ``practical.ngd_metrics(…)["starts"]``; epoch 0 is the start)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for init, r in starts.items():
        if r["bound"]:
            ax.plot(range(len(r["bound"])), r["bound"], "o-", ms=3, label=f"start: {init}")
    ax.set(xlabel="center search epoch (0: the start)", ylabel="Eq. 8 bound (ratio, ≥ 1)")
    ax.legend(fontsize=8)
    return fig
