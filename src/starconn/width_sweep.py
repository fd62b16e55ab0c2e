"""Beyond the paper: the NGD bound (Eq. 8) and the fold-line barrier against width, FNN on MNIST.

The paper shows NGD falling toward 1 as width grows for two-layer ReLU networks (Fig 3) and deep
linear networks (Fig 4), not for practical networks. Here, for each width multiplier w of the FNN
784-(500w)-(300w)-10 and each seed pair (θ1, θ2) = (seed + 2r, seed + 2r + 1), r = 0 … n_seeds−1,
the paper's procedure is run unchanged: two minima, a center θ* of the pair found by the paper's
algorithm with penalty λ‖θ − θi‖² (the same λ at every width), then

* the bound NGD(θ1, θ2) ≤ (‖θ1 − θ*‖ + ‖θ* − θ2‖) / ‖θ1 − θ2‖ (Eq. 8), and
* the barriers (max loss / min accuracy on the training set) of the fold-line θ1 → θ* → θ2 and,
  for reference, of the straight line θ1 → θ2.

Every minimum and center is cached in the store (``starconn.practical``), keyed by its width.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

import matplotlib.pyplot as plt
from tqdm import tqdm

from . import paths, practical
from .params import Config, ParamError

SETTING = "fnn-mnist"


@dataclass
class WidthPoint:
    """One seed pair at one width: the Eq. 8 bound and the barriers of its two paths."""

    width: float
    seeds: tuple[int, int]
    n_params: int
    ngd: float
    distance: float  # ‖θ1 − θ2‖
    fold_loss_barrier: float
    fold_acc_barrier: float
    linear_loss_barrier: float
    linear_acc_barrier: float
    feet_train_acc: float  # the lower of the two minima's training accuracies (%)
    center_train_acc: float
    center_penalty: float = 0.0  # λ · mean_i ‖θ* − θi‖², the penalty term of the center's objective


def pair_seeds(seed: int, n_seeds: int) -> list[tuple[int, int]]:
    """Seed pairs (seed + 2r, seed + 2r + 1), r = 0 … n_seeds − 1: disjoint pairs of minima."""
    if n_seeds < 1:
        raise ParamError(f"parameter 'n_seeds' must be an integer >= 1; got {n_seeds!r}")
    return [(seed + 2 * r, seed + 2 * r + 1) for r in range(n_seeds)]


def check_widths(widths: list[float]) -> list[float]:
    """The widths, sorted; at least two distinct positive values are needed for a trend."""
    ws = sorted({float(w) for w in widths})
    if len(ws) < 2 or ws[0] <= 0:
        raise ParamError(f"parameter 'widths' must hold at least two distinct positive widths; got {widths!r}")
    return ws


def at_width(s: practical.Setup, width: float) -> practical.Setup:
    """The same data, device and store, with the network's width multiplier set to ``width``."""
    return practical.Setup(Config({**s.cfg, "setting": SETTING, "width": float(width)}), s.data, s.model_name,
                           s.device, s.store)


def setup(cfg: Config) -> practical.Setup:
    """MNIST (``n_train`` / ``n_test``) and the FNN, on the device; the width is set per point."""
    if cfg.get("setting", SETTING) != SETTING:
        raise ParamError(f"parameter 'setting' must be {SETTING}; got {cfg.setting!r}")
    return practical.setup(Config({**cfg, "setting": SETTING, "width": 1.0}))


def measure(s: practical.Setup, seeds: tuple[int, int], lam: float) -> WidthPoint:
    """Train (or load) the pair, find its center, and evaluate both paths (``s`` has the width)."""
    st = practical.star(s, 2, lam, seeds=list(seeds))
    m = st.metrics()
    return WidthPoint(
        width=s.cfg.width, seeds=tuple(seeds), n_params=sum(v.numel() for v in st.center.values()),
        ngd=practical.ngd(st), distance=paths.distance(st.minima[0][0], st.minima[1][0]),
        fold_loss_barrier=m["fold_loss_barrier"], fold_acc_barrier=m["fold_acc_barrier"],
        linear_loss_barrier=m["linear_loss_barrier"], linear_acc_barrier=m["linear_acc_barrier"],
        feet_train_acc=min(m["train_acc"]), center_train_acc=m["center_train_acc"],
        center_penalty=lam * sum(paths.distance(st.center, f) ** 2 for f, _ in st.minima) / 2,
    )


@dataclass
class WidthSweep:
    points: list[WidthPoint]

    @property
    def widths(self) -> list[float]:
        return sorted({p.width for p in self.points})

    def at(self, width: float) -> list[WidthPoint]:
        return [p for p in self.points if p.width == width]

    def values(self, field: str) -> list[list[float]]:
        """``field`` for every seed pair, one list per width (ascending width)."""
        return [[getattr(p, field) for p in self.at(w)] for w in self.widths]

    def mean(self, field: str) -> list[float]:
        return [statistics.fmean(v) for v in self.values(field)]

    def verdict(self) -> dict:
        """How the mean NGD bound moves with width: does it fall from the smallest to the largest
        width, does it fall at every step, and Spearman's rank correlation of NGD with width over
        all seed pairs (−1: NGD falls with width at every comparison)."""
        mean = self.mean("ngd")
        steps = [b < a for a, b in zip(mean, mean[1:])]
        return {
            "ngd_falls": bool(mean[-1] < mean[0]),
            "ngd_falls_every_step": bool(all(steps)),
            "ngd_falling_steps": f"{sum(steps)}/{len(steps)}",
            "ngd_spearman_vs_width": spearman([p.width for p in self.points], [p.ngd for p in self.points]),
            "fold_acc_rises": bool(self.mean("fold_acc_barrier")[-1] > self.mean("fold_acc_barrier")[0]),
        }

    def metrics(self) -> dict:
        ngd = self.values("ngd")
        return {
            "widths": self.widths,
            "n_params": [self.at(w)[0].n_params for w in self.widths],
            "ngd": ngd,
            "ngd_mean": self.mean("ngd"),
            "ngd_sd": [statistics.stdev(v) if len(v) > 1 else 0.0 for v in ngd],
            "ngd_smallest_width": self.mean("ngd")[0],
            "ngd_largest_width": self.mean("ngd")[-1],
            "distance_mean": self.mean("distance"),
            "fold_acc_barrier_mean": self.mean("fold_acc_barrier"),
            "fold_loss_barrier_mean": self.mean("fold_loss_barrier"),
            "linear_acc_barrier_mean": self.mean("linear_acc_barrier"),
            "linear_loss_barrier_mean": self.mean("linear_loss_barrier"),
            "feet_train_acc_min": [min(v) for v in self.values("feet_train_acc")],
            "center_train_acc_mean": self.mean("center_train_acc"),
            "center_penalty_mean": self.mean("center_penalty"),
            **self.verdict(),
            "points": [asdict(p) for p in self.points],
        }

    def table(self) -> str:
        rows = ["| width | parameters | NGD bound (Eq. 8), mean ± sd | ‖θ1−θ2‖ | fold-line min acc (%) | "
                "fold-line max loss | linear min acc (%) | minima's min train acc (%) | λ·mean‖θ*−θi‖² |",
                "|---|---|---|---|---|---|---|---|---|"]
        m = self.metrics()
        for i, w in enumerate(self.widths):
            rows.append(f"| ×{w:g} | {m['n_params'][i]:,} | {m['ngd_mean'][i]:.4f} ± {m['ngd_sd'][i]:.4f} | "
                        f"{m['distance_mean'][i]:.1f} | {m['fold_acc_barrier_mean'][i]:.2f} | "
                        f"{m['fold_loss_barrier_mean'][i]:.2e} | {m['linear_acc_barrier_mean'][i]:.2f} | "
                        f"{m['feet_train_acc_min'][i]:.2f} | {m['center_penalty_mean'][i]:.3g} |")
        return "\n".join(rows)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); nan if either is constant."""

    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    rx, ry = ranks(x), ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    sy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return cov / (sx * sy) if sx and sy else math.nan


def sweep(s: practical.Setup, widths: list[float], n_seeds: int, lam: float) -> WidthSweep:
    """For every width and seed pair: minima (trained together per width), center, NGD, barriers."""
    pairs = pair_seeds(s.cfg.seed, n_seeds)
    points = []
    bar = tqdm(total=len(check_widths(widths)) * len(pairs), desc="width sweep", mininterval=1)
    for w in check_widths(widths):
        sw = at_width(s, w)
        practical.get_minima(sw, [sd for pair in pairs for sd in pair])  # one ensemble per width
        for pair in pairs:
            points.append(measure(sw, pair, lam))
            bar.update()
    bar.close()
    return WidthSweep(points)


def describe(s: practical.Setup, widths: list[float], n_seeds: int, lam: float) -> str:
    c = s.cfg
    reduced = "" if c.profile == "paper" else (
        f" **Reduced run** (`{c.profile}` profile): fewer examples and epochs than the paper's FNN protocol "
        "(`starconn.profiles.practical.PROTOCOL['fnn-mnist']['paper']`), which the `paper` profile follows.")
    return (f"{practical.run_line(s)}; FNN 784-(500w)-(300w)-10 at "
            f"w ∈ {{{', '.join(f'{w:g}' for w in check_widths(widths))}}}, {n_seeds} seed pair(s) per width; "
            f"{practical.protocol_line(Config({**c, 'lam': lam}), ' at every width')}; {c.n_points} points per path "
            f"segment.{reduced}")


def claim_note(sw: WidthSweep, profile: str) -> str:
    """A sentence on the claim "NGD falls toward 1 with width", in the direction the run went."""
    v, m = sw.verdict(), sw.metrics()
    lo, hi = sw.widths[0], sw.widths[-1]
    head = (f"Mean NGD bound {m['ngd_smallest_width']:.4f} at width ×{lo:g} and {m['ngd_largest_width']:.4f} at "
            f"×{hi:g}; it falls at {v['ngd_falling_steps']} steps between neighbouring widths; Spearman's rank "
            f"correlation with width over all seed pairs {v['ngd_spearman_vs_width']:.2f}.")
    worse = [w for w, f, l in zip(sw.widths, m["fold_acc_barrier_mean"], m["linear_acc_barrier_mean"]) if f < l]
    caveat = "" if not worse else (
        f" At width{'s' if len(worse) > 1 else ''} {', '.join(f'×{w:g}' for w in worse)} the fold-line through the "
        "center is *worse* than the straight line (lower minimum accuracy): the center search did not reach a "
        "center there, so the bound at those widths says more about the search than about the landscape.")
    unfit = [w for w, a in zip(sw.widths, m["feet_train_acc_min"]) if a < 99.0]
    if unfit:
        caveat += (f" The minima at width{'s' if len(unfit) > 1 else ''} {', '.join(f'×{w:g}' for w in unfit)} stopped "
                   "below 99 % training accuracy (a reduced training budget), so they are only near-minima.")
    if profile == "smoke":
        return head + " Smoke run: tiny data and training that check the code path; the trend says nothing."
    if v["ngd_falls"]:
        return head + " **Agrees with the claim:** the bound is lower at the largest width than at the smallest." \
            + caveat
    return head + (" **Disagrees with the claim:** the bound is not lower at the largest width than at the "
                   "smallest in this run.") + caveat


def figure(sw: WidthSweep, title: str = ""):
    """NGD bound against width (log x; every seed pair as a dot, the mean as a line, min–max band)
    and the fold-line (and straight-line) minimum training accuracy against width."""
    ws = sw.widths
    fig, (ax_n, ax_a) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    ngd = sw.values("ngd")
    ax_n.fill_between(ws, [min(v) for v in ngd], [max(v) for v in ngd], alpha=0.2, color="C0",
                      label="min–max over seed pairs")
    ax_n.plot(ws, sw.mean("ngd"), "o-", color="C0", label="mean")
    ax_n.plot([p.width for p in sw.points], [p.ngd for p in sw.points], ".", color="k", ms=5, label="seed pair")
    ax_n.axhline(1.0, color="gray", ls=":", lw=1)
    ax_n.set(xscale="log", xlabel="width multiplier w (FNN 784-500w-300w-10)", ylabel="NGD upper bound (Eq. 8)")
    ax_n.legend(fontsize=8)
    for field, label, color in (("fold_acc_barrier", "fold-line θ1→θ*→θ2", "C1"),
                                ("linear_acc_barrier", "straight line θ1→θ2", "C2")):
        vals = sw.values(field)
        ax_a.fill_between(ws, [min(v) for v in vals], [max(v) for v in vals], alpha=0.2, color=color)
        ax_a.plot(ws, sw.mean(field), "o-", color=color, label=label)
    ax_a.set(xscale="log", xlabel="width multiplier w (FNN 784-500w-300w-10)",
             ylabel="min training accuracy along path (%)")
    ax_a.legend(fontsize=8)
    for ax in (ax_n, ax_a):
        ax.set_xticks(ws, [f"{w:g}" for w in ws])
        ax.minorticks_off()
    if title:
        fig.suptitle(title)
    return fig


def check_claim(sw: WidthSweep, widths: list[float], n_seeds: int, profile: str) -> str:
    """The chapter's checks: every requested width was measured, each with its ``n_seeds`` seed
    pairs; at ``cpu``, where this chapter's measurement supports it, the mean NGD bound is lower
    at the largest width than at the smallest (the claim) and the straight line loses less
    accuracy at the largest width than at the smallest. (That every bound is ≥ 1 is the triangle
    inequality, not evidence: not checked.) Raises ``AssertionError`` naming what failed; returns
    the direction the run went."""
    m = sw.metrics()
    if sw.widths != check_widths(widths):
        raise AssertionError(f"widths measured {sw.widths}, requested {check_widths(widths)}")
    short = [w for w in sw.widths if len(sw.at(w)) != n_seeds]
    if short:
        raise AssertionError(f"widths {short} do not have their {n_seeds} seed pair(s)")
    if profile == "cpu":
        if not m["ngd_falls"]:
            raise AssertionError(f"the mean NGD bound does not fall with width: {m['ngd_mean']} at widths {m['widths']}")
        lin = m["linear_acc_barrier_mean"]
        if not lin[-1] > lin[0]:
            raise AssertionError(f"the straight line does not lose less accuracy at the largest width: accuracy "
                                 f"barriers {lin} (%) at widths {m['widths']}")
    return (f"NGD bound lower at the largest width than at the smallest: {m['ngd_falls']} | falling steps: "
            f"{m['ngd_falling_steps']} | Spearman: {round(m['ngd_spearman_vs_width'], 3)}"
            + (" (asserted at this profile)" if profile == "cpu" else " (printed, not asserted, at this profile)"))
