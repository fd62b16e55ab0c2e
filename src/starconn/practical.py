"""Part III experiments: minima of practical networks, their centers, and the paths between them.

Every minimum and every center is cached in the store (``starconn.store``) under its full
configuration, so chapters share minima and an interrupted run resumes where it stopped: finished
minima and centers are loaded, and a training or center search that was killed midway resumes
from its checkpoint in the store (``starconn.store.Checkpoint``: saved at an epoch's end, at most
every ``STARCONN_CHECKPOINT_S`` = 30 s, or 20 times a slow save's duration; a kill loses that much
work plus the epoch in progress).
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from . import config, data, models, paths
from .center import CenterConfig, find_center
from .params import Config
from .store import Store, key
from .train import Params, TrainConfig, params_of, train_minima

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

    def evaluator(self, split: str = "train") -> paths.Evaluator:
        """Loss and accuracy on ``split``; BatchNorm statistics recomputed on the training set."""
        x, y = (self.data.train_x, self.data.train_y) if split == "train" else (self.data.test_x, self.data.test_y)
        if self.model_name == "fnn":
            batch = 10000 if self.device.type == "cpu" else 60000
        else:  # conv nets: activations of a batch must fit in memory
            batch = 1000 if self.device.type == "cpu" else 5000
        return paths.Evaluator(self.make_model(0), x, y, bn_x=self.data.train_x, batch_size=batch)


def setup(cfg: Config) -> Setup:
    model_name, dataset = SETTINGS[cfg.setting]
    dev = config.device()
    ds = LOADERS[dataset](dev, n_train=cfg.n_train, n_test=cfg.n_test)
    return Setup(cfg, ds, model_name, dev)


def train_config(cfg: Config) -> TrainConfig:
    return TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, schedule=cfg.schedule,
                       target_loss=cfg.target_loss, amp=cfg.amp)


def minimum_key(s: Setup, seed: int, tc: TrainConfig | None = None) -> dict:
    """The configuration that identifies one minimum in the store."""
    c = s.cfg
    return {"setting": c.setting, "width": c.width, "n_train": c.n_train, "seed": seed,
            **(tc or train_config(c)).as_dict()}


def get_minima(s: Setup, seeds: list[int], tc: TrainConfig | None = None) -> list[tuple[Params, dict]]:
    """Minima for ``seeds``: loaded from the store, the missing ones trained (``ensemble`` at a time)."""
    tc = tc or train_config(s.cfg)
    found = {sd: s.store.load("minimum", minimum_key(s, sd, tc), s.device) for sd in seeds}
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
            info.update(zip(("test_loss", "test_acc"), s.evaluator("test").single(p)))
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
    ckey = {"feet": [key(k) for k in feet_keys], **cc.as_dict()}

    def compute(ck):
        fresh = (lambda: params_of(s.make_model(c.seed + 10_000))) if c.center_init == "fresh" else None
        t0 = time.time()
        center, info = find_center(s.make_model(0), feet, s.data, cc, fresh=fresh, checkpoint=ck)
        info["wall_s"] = time.time() - t0 + ck.elapsed_s  # including runs before a resume
        if ck.resumed_epoch:
            info["resumed_after_epoch"] = ck.resumed_epoch
        info.update(zip(("train_loss", "train_acc"), s.evaluator("train").single(center)))
        info.update(zip(("test_loss", "test_acc"), s.evaluator("test").single(center)))
        return center, info

    return s.store.get_or_compute("center", ckey, compute, s.device, checkpointed=True)


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
    ev, n = s.evaluator("train"), s.cfg.n_points
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


def describe(s: Setup) -> str:
    """What this run is: profile, device, data source, and whether it is reduced."""
    c = s.cfg
    reduced = "" if c.profile == "paper" else (
        f" **Reduced run** (`{c.profile}` profile): not the paper's protocol; see the recorded "
        "paper-scale run where there is one.")
    padded = ", MNIST zero-padded to 32×32" if c.setting == "vgg16-mnist" else ""
    return (f"{run_line(s)}; network `{s.model_name}` (width ×{c.width}{padded}); {protocol_line(c)}.{reduced}")


def run_line(s: Setup) -> str:
    """Profile, device and data of a run (the start of its description)."""
    return (f"Profile `{s.cfg.profile}` on `{config.device_name(s.device)}`; data: {s.data.source} "
            f"({s.data.n_train} training / {len(s.data.test_y)} test examples)")


def protocol_line(c: Config, center_note: str = "") -> str:
    """The minima's and the center search's training protocol; ``center_note`` goes after the
    center's learning rate."""
    return (f"minima: Adam lr {c.lr}, batch {c.batch_size}, {c.epochs} epochs, {c.schedule} schedule; "
            f"center: Adam lr {c.center_lr}, {center_note}B_r = {c.B_r}, B_t = {c.B_t}, {c.center_epochs} epochs, "
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
        cur = paths.linear_curve(s.evaluator("train"), a, b, s.cfg.n_points)
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
