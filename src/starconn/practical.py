"""Part III experiments: minima of practical networks, their centers, and the paths between them.

Every minimum and every center is cached in the store (``starconn.store``) under its full
configuration and the identity of the data it was computed from (``Dataset.identity``), so
chapters share minima and an interrupted run resumes where it stopped: finished minima and centers
are loaded, and a training or center search that was killed midway resumes from its checkpoint in
the store (``starconn.store.Checkpoint``: saved at an epoch's end, at most every
``STARCONN_CHECKPOINT_S`` = 30 s, or 20 times a slow save's duration; a kill loses that much work
plus the epoch in progress). Test metrics, which depend on the test examples (not in the key),
are measured again when a stored entry was measured on other test examples.

The chapters' metrics (Table 1: :meth:`Star.metrics`; Table 2: :func:`ngd_metrics`) and their
claim checks (:func:`check_star`, :func:`check_ngd`) are computed here.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from . import config, data, levers, models, paths, plots, results
from .center import CenterConfig, find_center
from .params import Config
from .paths import Params
from .profiles.practical import TABLE1, within_tolerance
from .store import Store, key
from .train import TrainConfig, params_of, train_minima

SETTINGS = {  # setting -> (model, dataset)
    "fnn-mnist": ("fnn", "mnist"),
    "vgg16-mnist": ("vgg16", "mnist32"),  # MNIST zero-padded (background value) to 32×32, 1 channel
    "vgg16-cifar10": ("vgg16", "cifar10"),
    "resnet18-cifar10": ("resnet18", "cifar10"),
    "resnet34-cifar10": ("resnet34", "cifar10"),
}
LOADERS = {"mnist": data.mnist, "mnist32": lambda *a, **kw: data.mnist(*a, pad_to=32, **kw), "cifar10": data.cifar10}


@dataclass
class Setup:
    """A setting's data and network, on the device."""

    cfg: Config
    data: data.Dataset
    model_name: str
    device: torch.device
    store: Store = field(default_factory=Store)

    def make_model(self, seed: int | None = None) -> nn.Module:
        kw = {} if self.model_name == "fnn" else {"in_channels": self.data.train_x.shape[1]}
        return models.build(self.model_name, width=self.cfg.width, seed=seed, **kw).to(self.device)

    def evaluator(self, split: str = "train", path_points: bool = False) -> paths.Evaluator:
        """Loss and accuracy on ``split``; BatchNorm statistics recomputed on the training set (for
        ``path_points``, on the fixed subset ``STARCONN_BN_EXAMPLES`` names, if it names one).
        ``STARCONN_EVAL_BATCH`` sets the examples per forward pass (:mod:`starconn.levers`)."""
        x, y = (self.data.train_x, self.data.train_y) if split == "train" else (self.data.test_x, self.data.test_y)
        if self.model_name == "fnn":
            batch = 10000 if self.device.type == "cpu" else 60000
        else:  # conv nets: activations of a batch must fit in memory
            batch = 1000 if self.device.type == "cpu" else 5000
        bn_x = paths.bn_subset(self.data.train_x, levers.bn_examples()) if path_points else self.data.train_x
        return paths.Evaluator(self.make_model(0), x, y, bn_x=bn_x, batch_size=levers.eval_batch(batch))


def setup(cfg: Config) -> Setup:
    model_name, dataset = SETTINGS[cfg.setting]
    dev = config.device()
    ds = LOADERS[dataset](dev, n_train=cfg.n_train, n_test=cfg.n_test)
    if levers.channels_last() and ds.train_x.dim() == 4:  # STARCONN_CHANNELS_LAST: the layout only
        ds.train_x = ds.train_x.contiguous(memory_format=torch.channels_last)
        ds.test_x = ds.test_x.contiguous(memory_format=torch.channels_last)
    return Setup(cfg, ds, model_name, dev)


def train_config(cfg: Config) -> TrainConfig:
    return TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, schedule=cfg.schedule,
                       target_loss=cfg.target_loss, amp=cfg.amp)


def minimum_key(s: Setup, seed: int, tc: TrainConfig | None = None) -> dict:
    """The configuration that identifies one minimum in the store: setting, width, seed, training
    configuration and the identity of the training data (source and digest of the examples used)."""
    c = s.cfg
    return {"setting": c.setting, "width": c.width, "n_train": c.n_train, "seed": seed,
            **(tc or train_config(c)).as_dict(), "data": s.data.identity}


def with_test_metrics(s: Setup, p: Params, info: dict) -> dict:
    """``info`` with ``test_loss`` / ``test_acc`` of θ on this run's test examples: the recorded
    ones when they were measured on the same examples (``test_data``), else measured now."""
    if info.get("test_data") == s.data.test_identity:
        return info
    info = {**info, "test_data": s.data.test_identity}
    info.update(zip(("test_loss", "test_acc"), s.evaluator("test").single(p)))
    return info


def get_minima(s: Setup, seeds: list[int], tc: TrainConfig | None = None) -> list[tuple[Params, dict]]:
    """Minima for ``seeds``: loaded from the store, the missing ones trained (``ensemble`` at a time)."""
    tc = tc or train_config(s.cfg)
    found = {}
    for sd in seeds:
        hit = s.store.load("minimum", minimum_key(s, sd, tc), s.device)
        found[sd] = None if hit is None else (hit[0], with_test_metrics(s, *hit))
    todo = [sd for sd in seeds if found[sd] is None]
    for i in range(0, len(todo), s.cfg.ensemble):
        group = todo[i : i + s.cfg.ensemble]
        # the group's checkpoint: keyed by its members' store keys
        ck = s.store.checkpoint("minimum", {"ensemble": [key(minimum_key(s, sd, tc)) for sd in group]})
        t0 = time.time()
        trained = train_minima(s.make_model, group, s.data, tc, desc=f"{s.cfg.setting} minima {group}", checkpoint=ck)
        # training time per minimum (ensemble members share it), including runs before a resume
        wall = (time.time() - t0 + ck.elapsed_s) / len(group)
        for sd, (p, info) in zip(group, trained):
            info["wall_s"] = wall
            info.update(zip(("train_loss", "train_acc"), s.evaluator("train").single(p)))
            info = with_test_metrics(s, p, info)
            if ck.resumed_epoch:
                info["resumed_after_epoch"] = ck.resumed_epoch
            s.store.save("minimum", minimum_key(s, sd, tc), p, info)
            found[sd] = (p, info)
        ck.clear()  # every member is stored
    return [found[sd] for sd in seeds]


def get_center(s: Setup, feet: list[Params], feet_keys: list[dict], lam: float) -> tuple[Params, dict]:
    """A center of ``feet`` found by the paper's algorithm (penalty weight ``lam``), cached."""
    c = s.cfg
    cc = CenterConfig(epochs=c.center_epochs, lr=c.center_lr, lam=lam, B_r=c.B_r, B_t=c.B_t,
                      batch_size=c.batch_size, init=c.center_init, schedule=c.center_schedule, seed=c.seed,
                      amp=c.amp)
    ckey = {"feet": [key(k) for k in feet_keys], **cc.as_dict(), "data": s.data.identity}

    def compute(ck):
        fresh = (lambda: params_of(s.make_model(c.seed + 10_000))) if c.center_init == "fresh" else None
        t0 = time.time()
        center, info = find_center(s.make_model(0), feet, s.data, cc, fresh=fresh, checkpoint=ck)
        info["wall_s"] = time.time() - t0 + ck.elapsed_s  # including runs before a resume
        if ck.resumed_epoch:
            info["resumed_after_epoch"] = ck.resumed_epoch
        info.update(zip(("train_loss", "train_acc"), s.evaluator("train").single(center)))
        return center, with_test_metrics(s, center, info)

    center, info = s.store.get_or_compute("center", ckey, compute, s.device, checkpointed=True)
    return center, with_test_metrics(s, center, info)


@dataclass
class Star:
    """r minima, one center, and the curves along the linear paths and fold-lines between them."""

    minima: list[tuple[Params, dict]]
    center: Params
    center_info: dict
    linear: dict[tuple[int, int], paths.Curve]
    fold: dict[tuple[int, int], paths.Curve]

    def metrics(self) -> dict:
        lin, fold = list(self.linear.values()), list(self.fold.values())
        return {
            "linear_loss_barrier": paths.mean([c.loss_barrier for c in lin]),
            "fold_loss_barrier": paths.mean([c.loss_barrier for c in fold]),
            "linear_acc_barrier": paths.mean([c.acc_barrier for c in lin]),
            "fold_acc_barrier": paths.mean([c.acc_barrier for c in fold]),
            "train_loss": [m[1]["train_loss"] for m in self.minima],
            "train_acc": [m[1]["train_acc"] for m in self.minima],
            "test_acc": [m[1]["test_acc"] for m in self.minima],
            "epochs": [m[1]["epochs"] for m in self.minima],
            # False: the minimum used all its epochs without its training loss going below target_loss
            # (train_minima warns); None: stored before the flag existed
            "reached_target": [m[1].get("reached_target") for m in self.minima],
            "center_train_loss": self.center_info["train_loss"],
            "center_train_acc": self.center_info["train_acc"],
            "center_test_acc": self.center_info["test_acc"],
        }


def star(s: Setup, n_minima: int, lam: float = 0.0, seeds: list[int] | None = None) -> Star:
    """Train (or load) ``n_minima`` minima, find their center, and evaluate every linear path and
    every fold-line θi → θ* → θj on the training set at ``n_points`` points per segment."""
    seeds = seeds or [s.cfg.seed + i for i in range(n_minima)]
    minima = get_minima(s, seeds)
    feet = [p for p, _ in minima]
    center, cinfo = get_center(s, feet, [minimum_key(s, sd) for sd in seeds], lam)
    ev, n = s.evaluator("train", path_points=True), s.cfg.n_points
    pairs = list(itertools.combinations(range(len(feet)), 2))
    linear = {(i, j): paths.linear_curve(ev, feet[i], feet[j], n) for i, j in pairs}
    spokes = [paths.linear_curve(ev, f, center, n) for f in feet]
    fold = {(i, j): paths.fold_curve(spokes[i], spokes[j]) for i, j in pairs}
    return Star(minima, center, cinfo, linear, fold)


def ngd(st: Star, i: int = 0, j: int = 1) -> float:
    """The NGD upper bound (Eq. 8) of the pair (θi, θj) through the star's center."""
    return paths.ngd_bound(st.minima[i][0], st.center, st.minima[j][0])


def ngd_sweep(s: Setup, lams: list[float]) -> dict[float, Star]:
    """For each penalty weight λ, the 2-minimum star (seeds ``seed``, ``seed + 1``) and its paths."""
    return {lam: star(s, 2, lam) for lam in lams}


def ngd_metrics(sweep: dict[float, Star], lam: float) -> dict:
    """Table 2's metrics for the center of penalty weight ``lam`` (one of the sweep's): ``ngd``, the
    Eq. 8 bound through it; ``fold_acc`` / ``fold_loss``, the barriers of its fold-line; the
    straight line's accuracy barrier and the minima's training loss and accuracy; and ``sweep``,
    the bound and fold-line accuracy for every λ of the sweep."""
    st = sweep[lam]
    m = st.metrics()
    return {"ngd": ngd(st), "fold_acc": m["fold_acc_barrier"], "fold_loss": m["fold_loss_barrier"],
            "linear_acc_barrier": m["linear_acc_barrier"], "train_loss": m["train_loss"], "train_acc": m["train_acc"],
            "sweep": {str(l): {"ngd": ngd(x), "fold_acc": x.metrics()["fold_acc_barrier"]} for l, x in sweep.items()}}


@dataclass
class StarRun:
    """A Table 1 / Fig 5 chapter's computation: the star, its metrics, the paper's numbers for the
    setting, the results JSON written and the recorded paper-scale run of the chapter (if any)."""

    s: Setup
    star: Star
    metrics: dict
    paper: dict
    result: dict
    recorded: dict | None

    def minima_table(self) -> str:
        return minima_table(self.star)

    def figure(self):
        c = self.s.cfg
        return plots.path_figure(self.star.linear, self.star.fold,
                                 f"{c.setting}: {c.n_minima} minima, one center ({c.profile} profile)")

    def report(self) -> str:
        """The metrics beside the paper's (and the recorded paper-scale run's), and a sentence on
        the straight-line barrier against the paper's."""
        return (results.comparison(self.result, self.recorded) + "\n\n"
                + barrier_note(self.metrics, self.paper, self.s.cfg.profile))


def star_run(s: Setup) -> StarRun:
    """``n_minima`` minima, their center (penalty ``lam``) and every path (:func:`star`); Table 1's
    metrics written to the chapter's results JSON beside the paper's numbers for the setting."""
    c = s.cfg
    st = star(s, c.n_minima, c.lam)
    m, paper = st.metrics(), TABLE1[c.setting]
    result = results.record(c, m, paper, data_source=s.data.source)
    return StarRun(s, st, m, paper, result, results.recorded_paper_run(c.chapter, c.setting))


# ---------------------------------------------------------------- the claims, checked
def _claim(holds: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless the claim ``holds`` (not an ``assert``: never skipped)."""
    if not holds:
        raise AssertionError(message)


def _minima_and_paper(m: dict, paper: dict, profile: str) -> str:
    """From the ``cpu`` profile up every minimum reaches ≥ 99.9 % training accuracy; at ``paper``
    every figure of merit with a tolerance (``profiles.practical.TOLERANCE``) is within it of the
    paper's. Returns what was checked."""
    if profile == "smoke":  # smoke runs are too short to reach minima
        return "smoke run: minima and the paper's numbers not checked"
    _claim(min(m["train_acc"]) >= 99.9, f"not every network is a minimum: training accuracies {m['train_acc']} "
                                         "(%), the lowest below 99.9 %")
    ok = within_tolerance(m, paper)
    if profile == "paper":  # the paper's figures of merit are claimed at the paper's scale only
        _claim(all(ok.values()), f"not within the paper's tolerance at the paper's scale: {ok} (ours: "
                                 + ", ".join(f"{k} = {m[k]:.4g}, the paper's {paper[k]}" for k in ok) + ")")
    return f"every minimum ≥ 99.9 % training accuracy; within tolerance of the paper: {ok}"


def check_star(m: dict, paper: dict, profile: str) -> str:
    """Table 1's claim on the metrics ``m`` of :meth:`Star.metrics`: every fold-line through the
    one center is flatter than the straight lines (lower mean loss barrier, higher mean accuracy
    barrier); from ``cpu`` up the networks are minima (≥ 99.9 % training accuracy); at ``paper``
    the fold-line accuracy barrier is within the paper's tolerance. Raises ``AssertionError``
    naming what failed; returns what was checked."""
    _claim(m["fold_loss_barrier"] < m["linear_loss_barrier"],
           f"the fold-lines are not flatter: loss barrier {m['fold_loss_barrier']:.4g} against the straight lines' "
           f"{m['linear_loss_barrier']:.4g}")
    _claim(m["fold_acc_barrier"] > m["linear_acc_barrier"],
           f"the fold-lines are not flatter: accuracy barrier {m['fold_acc_barrier']:.4g} % against the straight "
           f"lines' {m['linear_acc_barrier']:.4g} %")
    return "fold-lines flatter than straight lines; " + _minima_and_paper(m, paper, profile)


def check_ngd(m: dict, paper: dict, profile: str) -> str:
    """Table 2's claim on :func:`ngd_metrics`: the fold-line through the reported center loses
    less accuracy than the straight line; from ``cpu`` up the networks are minima; at ``paper``
    the bound of Eq. 8 and the fold-line accuracy are within the paper's tolerance. (That the bound
    is ≥ 1 is the triangle inequality, not evidence: not checked.) Raises ``AssertionError``;
    returns what was checked."""
    _claim(m["fold_acc"] > m["linear_acc_barrier"],
           f"the fold-line is not flatter: accuracy barrier {m['fold_acc']:.4g} % against the straight line's "
           f"{m['linear_acc_barrier']:.4g} %")
    return "fold-line flatter than the straight line; " + _minima_and_paper(m, paper, profile)


def describe(s: Setup) -> str:
    """What this run is: profile, device, data source, and whether it is reduced."""
    c = s.cfg
    reduced = "" if c.profile == "paper" else (
        f" **Reduced run** (`{c.profile}` profile): not the paper's protocol; see the recorded "
        "paper-scale run where there is one.")
    padded = ", MNIST zero-padded to 32×32" if c.setting == "vgg16-mnist" else ""
    return f"{run_line(s)}; network `{s.model_name}` (width ×{c.width}{padded}); {protocol_line(c)}.{reduced}"


def run_line(s: Setup) -> str:
    """Profile, device and data of a run (the start of its description)."""
    return (f"Profile `{s.cfg.profile}` on `{config.device_name(s.device)}`; data: {s.data.source} "
            f"({s.data.n_train} training / {len(s.data.test_y)} test examples)")


def protocol_line(c: Config, lam_note: str = "") -> str:
    """The minima's and the center search's training protocol, with the penalty weight λ (``lam``;
    and the sweep ``lams`` where the chapter has one); ``lam_note`` follows λ."""
    lam = f"λ = {c.lam:g}{lam_note}"
    if "lams" in c:
        swept = sorted(set(c.lams) | {c.lam})
        lam += f" (the reported center; the sweep: λ ∈ {{{', '.join(f'{v:g}' for v in swept)}}})"
    return (f"minima: Adam lr {c.lr}, batch {c.batch_size}, {c.epochs} epochs, {c.schedule} schedule; "
            f"center: Adam lr {c.center_lr}, {lam}, B_r = {c.B_r}, B_t = {c.B_t}, {c.center_epochs} epochs, "
            f"init `{c.center_init}`")


def minima_table(st: Star) -> str:
    rows = ["| network | epochs | train loss | train acc (%) | test acc (%) |", "|---|---|---|---|---|"]
    for i, (_, info) in enumerate(st.minima):
        rows.append(f"| θ{i + 1} | {info['epochs']} | {info['train_loss']:.2e} | {info['train_acc']:.3f} | "
                    f"{info['test_acc']:.2f} |")
    ci = st.center_info
    rows.append(f"| center θ* | — | {ci['train_loss']:.2e} | {ci['train_acc']:.3f} | {ci['test_acc']:.2f} |")
    if ci.get("risk"):  # centers cached before the risk was recorded have only the objective
        j, r = ci["objective"][-1], ci["risk"][-1]
        rows.append(f"\nCenter search, last epoch: objective J = {j:.3e}, of which the path risk is {r:.3e} "
                    f"and the penalty λ‖θ−θi‖² {j - r:.3e}.")
    return "\n".join(rows)


def sweep_table(sweep: dict[float, Star]) -> str:
    rows = ["| λ | NGD bound (Eq. 8) | fold-line min acc (%) | fold-line max loss | linear min acc (%) |",
            "|---|---|---|---|---|"]
    for lam, st in sweep.items():
        m = st.metrics()
        rows.append(f"| {lam:g} | {ngd(st):.4f} | {m['fold_acc_barrier']:.3f} | {m['fold_loss_barrier']:.2e} | "
                    f"{m['linear_acc_barrier']:.2f} |")
    return "\n".join(rows)


def barrier_note(m: dict, paper: dict, profile: str) -> str:
    """A sentence comparing our linear barrier with the paper's, in the direction it actually went."""
    if profile == "smoke":
        return "Smoke run: tiny data and networks that check the code path; the numbers say nothing about the paper."
    if "linear_loss_barrier" not in paper:
        return "The paper reports no Table 1 numbers for this setting; there is nothing to compare."
    ratio = m["linear_loss_barrier"] / paper["linear_loss_barrier"]
    if 0.8 <= ratio <= 1.25:
        return "The linear barrier matches the paper's within 25 %."
    side = "lower" if ratio < 1 else "higher"
    return (f"**Disagreement with the paper:** our linear loss barrier is {side} than the paper's "
            f"({m['linear_loss_barrier']:.3g} vs {paper['linear_loss_barrier']}; accuracy barrier "
            f"{m['linear_acc_barrier']:.2f} % vs {paper['linear_acc_barrier']} %). The height of the straight-line "
            "barrier depends on how the minima were trained (schedule, epochs), which the paper does not state; "
            "the fold-line barriers, the paper's claim, do not depend on it in the same way.")


def barrier_study(s: Setup, study_epochs: list[int]) -> list[dict]:
    """How the linear barrier depends on how the minima were trained: for each number of epochs E,
    two minima (seeds ``seed``, ``seed + 1``) trained at constant lr for E epochs, and the barrier
    of the straight line between them."""
    rows = []
    for e in study_epochs:
        tc = TrainConfig(epochs=int(e), lr=s.cfg.lr, batch_size=s.cfg.batch_size, schedule="constant",
                         amp=s.cfg.amp)
        (a, ia), (b, ib) = get_minima(s, [s.cfg.seed, s.cfg.seed + 1], tc)
        cur = paths.linear_curve(s.evaluator("train", path_points=True), a, b, s.cfg.n_points)
        rows.append({"schedule": "constant", "epochs": int(e), "train_acc": min(ia["train_acc"], ib["train_acc"]),
                     "distance": paths.distance(a, b), "linear_loss_barrier": cur.loss_barrier,
                     "linear_acc_barrier": cur.acc_barrier})
    return rows


def study_table(rows: list[dict], main: dict) -> str:
    out = ["| minima trained with | min train acc (%) | ‖θ1−θ2‖ | linear loss barrier | linear acc barrier (%) |",
           "|---|---|---|---|---|"]
    out.append(f"| this chapter's protocol (cosine) | {min(main['train_acc']):.3f} | — | "
               f"{main['linear_loss_barrier']:.3g} (mean of pairs) | {main['linear_acc_barrier']:.2f} |")
    for r in rows:
        out.append(f"| constant lr, {r['epochs']} epochs | {r['train_acc']:.3f} | {r['distance']:.1f} | "
                   f"{r['linear_loss_barrier']:.3g} | {r['linear_acc_barrier']:.2f} |")
    return "\n".join(out)
