"""Does a center connect to minima it was not built from? (chapter ``star-heldout``)

The paper's center θ*_r is found from r feet θ_1 … θ_r (``center.find_center``). Sonthalia et al.
(2024) report that a star model trained against many anchors is also linearly connected to
*held-out* minima, after permutation alignment. For each r of ``r_values`` (nested feet: the
minima of seeds ``seed`` … ``seed + r − 1``) this module measures, on the training set, the
barrier of the segment

* θ*_r → θ'_j for every held-out minimum θ'_j (the ``n_heldout`` seeds after the feet's, so never
  a foot);
* θ*_r → π_j(θ'_j), θ'_j with its hidden units permuted by weight matching to θ*_r
  (``matching.align``; the same function as θ'_j, a different point);
* θ*_r → θ_i for every foot (what the search optimised);

and the straight lines θ_i → θ_{i+1} between consecutive feet (the barrier a center removes).
A barrier is the paper's: the maximum training loss (minimum training accuracy) along the segment.
Networks with BatchNorm get their statistics recomputed at every evaluated point
(``paths.Evaluator``). Minima and centers come from the store (``practical.get_minima``,
``practical.get_center``), so the feet and centers of the star chapters are shared.

The trend with r is summarised per held-out minimum by the least-squares slope of its barrier
against log₂ r (:func:`slopes`); :func:`check_claim` asserts its sign.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from . import paths, practical, results
from .matching import align, permutation_spec
from .params import Config
from .paths import Curve
from .profiles import configure as configure_chapter
from .profiles.heldout import SETTINGS

CHAPTER = "star-heldout"
KINDS = {"heldout": "center → held-out minimum", "aligned": "center → held-out minimum, aligned to the center",
         "feet": "center → its feet"}


def configure(namespace: dict) -> dict[str, Config]:
    """The chapter's configuration for each setting it runs: the notebook's ``setting`` if given,
    else every setting of the chapter; the other parameters apply to each."""
    chosen = [namespace["setting"]] if namespace.get("setting") else list(SETTINGS)
    return {s: configure_chapter(CHAPTER, namespace, setting=s) for s in chosen}


def feet_seeds(c: Config) -> list[int]:
    return [c.seed + i for i in range(max(c.r_values))]


def heldout_seeds(c: Config) -> list[int]:
    """The held-out minima's seeds: the ``n_heldout`` seeds after the feet's."""
    return [c.seed + max(c.r_values) + j for j in range(c.n_heldout)]


def center_epochs(c: Config, r: int) -> int:
    """Epochs of the center search of r feet: ``r × center_epochs`` when ``epochs_per_foot``."""
    return r * c.center_epochs if c.epochs_per_foot else c.center_epochs


@dataclass
class Links:
    """One center θ*_r and its segments to its feet, to the held-out minima and to their aligned copies."""

    r: int
    info: dict  # the center's store metadata (training loss and accuracy, wall time …)
    feet: list[Curve]
    heldout: list[Curve]
    aligned: list[Curve]
    distance: dict[str, list[float]]  # per kind: ‖θ*_r − endpoint‖ of each segment


@dataclass
class HeldOut:
    """A setting's measurements: the feet and held-out minima (their store metadata), every
    center's :class:`Links`, and the straight lines between consecutive feet."""

    setting: str
    profile: str
    feet: list[dict]
    heldout: list[dict]
    centers: dict[int, Links]
    foot_pairs: dict[tuple[int, int], Curve]

    @property
    def r_values(self) -> list[int]:
        return sorted(self.centers)

    def barriers(self, kind: str, which: str = "loss") -> list[list[float]]:
        """Per r (rows, increasing), the barrier of each segment of ``kind`` (``loss`` or ``acc``)."""
        attr = f"{which}_barrier"
        return [[getattr(c, attr) for c in getattr(self.centers[r], kind)] for r in self.r_values]

    def metrics(self) -> dict:
        r = self.r_values
        out: dict = {"r": r}
        for kind in KINDS:
            for which in ("loss", "acc"):
                rows = self.barriers(kind, which)
                out[f"{kind}_{which}_barrier"] = [float(np.mean(row)) for row in rows]
                if kind != "feet":
                    out[f"{kind}_{which}_barriers"] = rows  # [r][held-out minimum]
            out[f"{kind}_distance"] = [float(np.mean(self.centers[x].distance[kind])) for x in r]
        for kind in ("heldout", "aligned"):
            out[f"{kind}_slopes"] = slopes(self.barriers(kind), r)
        pairs = list(self.foot_pairs.values())
        out["foot_foot_loss_barrier"] = paths.mean([c.loss_barrier for c in pairs])
        out["foot_foot_acc_barrier"] = paths.mean([c.acc_barrier for c in pairs])
        out["center_train_loss"] = [self.centers[x].info["train_loss"] for x in r]
        out["center_train_acc"] = [self.centers[x].info["train_acc"] for x in r]
        out["feet_train_acc"] = [m["train_acc"] for m in self.feet]
        out["heldout_train_acc"] = [m["train_acc"] for m in self.heldout]
        return out


FLAT = 1e-6  # a slope within ±FLAT (nats per doubling of r) counts as no trend: rounding, not a fall


def falls(slope: float) -> bool:
    """Does a held-out minimum's barrier fall with r? Its slope is below −:data:`FLAT` (a barrier
    that sits at an endpoint for every r is flat up to rounding and does not count)."""
    return slope < -FLAT


def slopes(barriers: list[list[float]], r: list[int]) -> list[float]:
    """For each held-out minimum j (column of ``barriers[r][j]``), the least-squares slope of its
    barrier against log₂ r: negative when the barrier falls as the center is built from more feet."""
    x = np.log2(np.asarray(r, dtype=float))
    if len(x) < 2 or np.ptp(x) == 0:
        raise ValueError(f"r_values: need at least two different r for a trend; got {list(r)}")
    y = np.asarray(barriers, dtype=float)  # (len(r), n_heldout)
    xc = x - x.mean()
    return [float(v) for v in (xc @ (y - y.mean(0))) / (xc @ xc)]


def study(s: practical.Setup, progress: bool = True) -> HeldOut:
    """The chapter's computation for one setting (a ``practical.Setup`` of a ``star-heldout``
    configuration): the feet and held-out minima (store), a center for every r (store), and every
    segment's curve on the first ``n_eval`` training examples at ``n_points`` points."""
    c = s.cfg
    held_seeds, seeds = heldout_seeds(c), feet_seeds(c)
    spec = permutation_spec(s.make_model(0), name=f"setting {c.setting!r}")
    feet = practical.get_minima(s, seeds)
    held = practical.get_minima(s, held_seeds)
    full = s.evaluator("train")  # BatchNorm statistics recomputed on the whole training set
    n = min(c.n_eval, s.data.n_train)
    ev = paths.Evaluator(full.model, full.x[:n], full.y[:n], bn_x=full.bn_x, batch_size=full.batch_size)
    r_values = sorted(set(c.r_values))
    total = sum(r + 2 * len(held) for r in r_values) + len(feet) - 1
    bar = tqdm(total=total, desc=f"{c.setting} segments", disable=not progress, file=sys.stderr)

    def curve(a, b) -> Curve:
        out = paths.linear_curve(ev, a, b, c.n_points)
        bar.update()
        return out

    centers = {}
    for r in r_values:
        sr = replace(s, cfg=Config({**c, "center_epochs": center_epochs(c, r)}))
        center, info = practical.get_center(sr, [p for p, _ in feet[:r]],
                                            [practical.minimum_key(s, sd) for sd in seeds[:r]], c.lam)
        ends = {"feet": [p for p, _ in feet[:r]], "heldout": [p for p, _ in held],
                "aligned": [align(center, p, seed=c.seed, spec=spec)[0] for p, _ in held]}
        segments = {k: [curve(center, p) for p in v] for k, v in ends.items()}
        centers[r] = Links(r, info, **segments, distance={k: [paths.distance(center, p) for p in v]
                                                          for k, v in ends.items()})
    pairs = {(i, i + 1): curve(feet[i][0], feet[i + 1][0]) for i in range(len(feet) - 1)}
    bar.close()
    return HeldOut(c.setting, c.profile, [m for _, m in feet], [m for _, m in held], centers, pairs)


# ---------------------------------------------------------------------------------------------
# What the chapter shows


def describe(c: Config) -> str:
    """The chapter's own part of a run: r, the center epochs per r, the held-out seeds, n_eval."""
    epochs = ", ".join(f"r = {r}: {center_epochs(c, r)}" for r in sorted(set(c.r_values)))
    return (f"Feet: seeds {c.seed} … {c.seed + max(c.r_values) - 1}; held-out minima: seeds "
            f"{', '.join(map(str, heldout_seeds(c)))}; center epochs {epochs}; barriers on the first "
            f"{min(c.n_eval, c.n_train)} training examples at {c.n_points} points per segment.")


def table(h: HeldOut) -> str:
    """Per r: the center's training loss and accuracy, the mean loss / accuracy barrier of its
    segments to the held-out minima, to their aligned copies and to its feet, and its mean distance
    to the held-out minima before and after alignment."""
    m = h.metrics()
    rows = ["| r | center train loss | center train acc (%) | → held-out: loss / acc (%) "
            "| → held-out aligned: loss / acc (%) | → feet: loss / acc (%) | ‖θ*−θ'‖ raw / aligned |",
            "|---|---|---|---|---|---|---|"]
    for i, r in enumerate(m["r"]):
        cells = [f"{m[f'{k}_loss_barrier'][i]:.3g} / {m[f'{k}_acc_barrier'][i]:.2f}" for k in KINDS]
        rows.append(f"| {r} | {m['center_train_loss'][i]:.2e} | {m['center_train_acc'][i]:.2f} | "
                    f"{' | '.join(cells)} | {m['heldout_distance'][i]:.1f} / {m['aligned_distance'][i]:.1f} |")
    rows.append(f"\nStraight lines between consecutive feet: loss barrier {m['foot_foot_loss_barrier']:.3g}, accuracy "
                f"barrier {m['foot_foot_acc_barrier']:.2f} % (mean of {len(h.foot_pairs)}). Slope of each held-out "
                "minimum's loss barrier against log₂ r: raw "
                + ", ".join(f"{v:+.3g}" for v in m["heldout_slopes"]) + "; aligned "
                + ", ".join(f"{v:+.3g}" for v in m["aligned_slopes"]) + ".")
    return "\n".join(rows)


def figure(studies: dict[str, HeldOut]):
    """Loss barrier (top, log scale) and accuracy barrier (bottom) against the number of feet r,
    one column per setting: segments from the center to the held-out minima (raw and aligned; the
    mean, each held-out minimum as a faint dot), to the center's own feet, and the straight lines
    between feet (dashed, independent of r)."""
    fig, axes = plt.subplots(2, len(studies), figsize=(5.5 * len(studies), 7), squeeze=False, constrained_layout=True)
    for col, (setting, h) in enumerate(studies.items()):
        m, r = h.metrics(), h.r_values
        for row, which in enumerate(("loss", "acc")):
            ax = axes[row, col]
            for i, kind in enumerate(KINDS):
                ax.plot(r, m[f"{kind}_{which}_barrier"], "o-", color=f"C{i}", label=KINDS[kind])
                if kind != "feet":
                    for x, ys in zip(r, h.barriers(kind, which)):
                        ax.plot([x] * len(ys), ys, ".", color=f"C{i}", alpha=0.35)
            ax.axhline(m[f"foot_foot_{which}_barrier"], color="C3", ls="--", label="foot → foot (straight line)")
            ax.set_xscale("log", base=2)
            ax.set_xticks(r, [str(x) for x in r])
            ax.set_xlabel("number of feet r the center was found from")
            if which == "loss":
                ax.set(yscale="log", ylabel="loss barrier (max training cross-entropy, nats)",
                       title=f"{setting} ({h.profile} profile)")
            else:
                ax.set_ylabel("accuracy barrier (min training accuracy, %)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=8, ncol=4, loc="outside lower center")
    return fig


def record(cfgs: dict[str, Config], studies: dict[str, HeldOut], data_sources: dict[str, str]) -> dict:
    """The chapter's results JSON: ``params`` and ``metrics`` keyed by setting."""
    first = next(iter(cfgs.values()))
    cfg = Config(chapter=CHAPTER, profile=first.profile, out=first.get("out"), settings=list(cfgs),
                 **{s: {k: v for k, v in c.items() if k not in ("chapter", "profile", "out")} for s, c in cfgs.items()})
    cfg.started = min(c.started for c in cfgs.values())
    return results.record(cfg, {s: h.metrics() for s, h in studies.items()}, {},
                          data_source="; ".join(f"{s}: {d}" for s, d in data_sources.items()))


def summary(metrics: dict[str, dict]) -> str:
    """In words, per setting: the held-out barriers (raw and aligned) at the smallest and largest r
    beside the feet's and the straight lines', and which way each trend went."""
    out = []
    for setting, m in metrics.items():
        r0, r1 = m["r"][0], m["r"][-1]

        def way(kind):
            v = m[f"{kind}_slopes"]
            counts = {"falls": sum(map(falls, v)), "rises": sum(x > FLAT for x in v)}
            counts["is flat (within rounding)"] = len(v) - counts["falls"] - counts["rises"]
            for word, k in counts.items():
                if k == len(v):
                    return f"{word.removesuffix(' (within rounding)')} for every held-out minimum"
            return ", ".join(f"{w} for {k}" for w, k in counts.items() if k) + f" of {len(v)} held-out minima"

        out.append(
            f"**{setting}.** From r = {r0} to r = {r1} feet, the loss barrier from the center to a held-out minimum "
            f"goes from {m['heldout_loss_barrier'][0]:.3g} to {m['heldout_loss_barrier'][-1]:.3g} (raw: {way('heldout')}) "
            f"and, after aligning the minimum to the center, from {m['aligned_loss_barrier'][0]:.3g} to "
            f"{m['aligned_loss_barrier'][-1]:.3g} ({way('aligned')}); the center's own feet: "
            f"{m['feet_loss_barrier'][0]:.3g} to {m['feet_loss_barrier'][-1]:.3g}; straight lines between feet: "
            f"{m['foot_foot_loss_barrier']:.3g}. Accuracy barriers: held-out {m['heldout_acc_barrier'][0]:.2f} → "
            f"{m['heldout_acc_barrier'][-1]:.2f} %, aligned {m['aligned_acc_barrier'][0]:.2f} → "
            f"{m['aligned_acc_barrier'][-1]:.2f} %, feet {m['feet_acc_barrier'][0]:.2f} → {m['feet_acc_barrier'][-1]:.2f} %, "
            f"straight lines {m['foot_foot_acc_barrier']:.2f} %.")
    return "\n\n".join(out)


# ---------------------------------------------------------------------------------------------
# The claim, checked


def check_claim(metrics: dict[str, dict], profile: str) -> str:
    """The chapter's claim, stated before the runs (Sonthalia et al. 2024, for the paper's center):
    *a center found from more feet connects better to minima it was not built from* — for every
    held-out minimum, the training-loss barrier of the segment from the center to the minimum
    aligned to it falls with r (negative least-squares slope against log₂ r, :func:`slopes`), in
    every setting. Asserted from ``cpu`` up (minima trained to convergence); at ``smoke`` printed.
    The raw (unaligned) trend is reported beside it, not asserted. Raises ``AssertionError`` naming
    the setting and the slopes; returns what was checked."""
    lines = []
    for setting, m in metrics.items():
        fell = {k: all(falls(v) for v in m[f"{k}_slopes"]) for k in ("aligned", "heldout")}
        lines.append(f"{setting}: aligned held-out barrier falls with r for every held-out minimum: {fell['aligned']} "
                     f"(slopes {', '.join(f'{v:+.3g}' for v in m['aligned_slopes'])}); raw: {fell['heldout']} "
                     f"(slopes {', '.join(f'{v:+.3g}' for v in m['heldout_slopes'])})")
        if profile != "smoke" and not fell["aligned"]:
            raise AssertionError(f"{setting}: the barrier from the center to an aligned held-out minimum does not fall "
                                 f"with the number of feet r = {m['r']}: slopes against log2 r "
                                 f"{[round(v, 4) for v in m['aligned_slopes']]} (every one must be < -{FLAT:g})")
    return ("asserted" if profile != "smoke" else "smoke run, printed, not asserted") + ":\n" + "\n".join(lines)
