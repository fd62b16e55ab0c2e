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
import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from . import config, data, levers, models, paths, plots, results
from .center import CenterConfig, find_center
from .params import Config
from .paths import Params
from .profiles.practical import FAR_FLATTER, TABLE1, TABLE2, TOLERANCE, tolerance_detail, within_tolerance
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


CENTER_RECORDS = 2  # in the center's key: 2 = the search records the Eq. 8 bound per epoch (2026-12)


def center_key(s: Setup, feet_keys: list[dict], lam: float, init: str | None = None) -> tuple[CenterConfig, dict]:
    """The center search's configuration (penalty weight ``lam``, start ``init``, else the
    chapter's ``center_init``) and its key in the store (feet, configuration, data)."""
    c = s.cfg
    cc = CenterConfig(epochs=c.center_epochs, lr=c.center_lr, lam=lam, B_r=c.B_r, B_t=c.B_t,
                      batch_size=c.batch_size, init=init or c.center_init, schedule=c.center_schedule, seed=c.seed,
                      amp=c.amp)
    return cc, {"feet": [key(k) for k in feet_keys], **cc.as_dict(), "data": s.data.identity,
                "records": CENTER_RECORDS}


def keep_epochs(center_epochs: int, fractions: list[float]) -> list[int]:
    """The epochs of a ``center_epochs`` search at the given fractions of it (at least 1, before the last)."""
    return sorted({max(1, round(f * center_epochs)) for f in fractions} - {center_epochs})


def center_snapshots(s: Setup, ckey: dict, epochs: list[int]) -> dict[int, Params]:
    """The stored centers of the search ``ckey`` after each of ``epochs`` (those that are stored)."""
    found = {e: s.store.load("center-snapshot", {**ckey, "after_epoch": e}, s.device) for e in epochs}
    return {e: hit[0] for e, hit in found.items() if hit is not None}


def get_center(s: Setup, feet: list[Params], feet_keys: list[dict], lam: float, init: str | None = None,
               keep: list[int] = ()) -> tuple[Params, dict]:
    """A center of ``feet`` found by the paper's algorithm (penalty weight ``lam``, start ``init``
    or the chapter's ``center_init``), cached; the centers after the epochs ``keep`` of the same
    search are stored too (:func:`center_snapshots`; a stored center without them is searched again)."""
    c = s.cfg
    cc, ckey = center_key(s, feet_keys, lam, init)

    def compute(ck):
        fresh = (lambda: params_of(s.make_model(c.seed + 10_000))) if cc.init == "fresh" else None
        t0 = time.time()
        center, info = find_center(s.make_model(0), feet, s.data, cc, fresh=fresh, checkpoint=ck, keep=tuple(keep),
                                   on_keep=lambda e, p: s.store.save("center-snapshot", {**ckey, "after_epoch": e}, p,
                                                                     {"after_epoch": e}))
        info["wall_s"] = time.time() - t0 + ck.elapsed_s  # including runs before a resume
        if ck.resumed_epoch:
            info["resumed_after_epoch"] = ck.resumed_epoch
        info.update(zip(("train_loss", "train_acc"), s.evaluator("train").single(center)))
        return center, with_test_metrics(s, center, info)

    if keep and len(center_snapshots(s, ckey, list(keep))) < len(set(keep)):
        ck = s.store.checkpoint("center", ckey)
        center, info = compute(ck)
        s.store.save("center", ckey, center, info)
        ck.clear()
    else:
        center, info = s.store.get_or_compute("center", ckey, compute, s.device, checkpointed=True)
    return center, with_test_metrics(s, center, info)


@dataclass
class Star:
    """r minima, one center, and the curves along the linear paths and fold-lines between them
    (each refined around its barriers, :func:`starconn.paths.refine`); ``snapshots``: the same
    search's centers after earlier epochs, where kept."""

    minima: list[tuple[Params, dict]]
    center: Params
    center_info: dict
    linear: dict[tuple[int, int], paths.Curve]
    fold: dict[tuple[int, int], paths.Curve]
    snapshots: dict[int, Params] = field(default_factory=dict)

    def metrics(self) -> dict:
        lin, fold = list(self.linear.values()), list(self.fold.values())
        return {
            **fold_metrics(self.fold),
            "linear_loss_barrier": paths.mean([c.loss_barrier for c in lin]),
            "linear_acc_barrier": paths.mean([c.acc_barrier for c in lin]),
            # Eq. 8 through the center, the mean over the pairs (for two minima, their NGD bound)
            "ngd_bound": paths.mean([paths.ngd_bound(self.minima[i][0], self.center, self.minima[j][0])
                                     for i, j in self.fold]),
            # points evaluated on each path (the grid and the refinement around its barriers)
            "linear_points": [len(c.s) for c in lin],
            "fold_points": [len(c.s) for c in fold],
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


def fold_metrics(fold: dict[tuple[int, int], paths.Curve]) -> dict:
    """Table 1's fold-line barriers: the mean over the pairs of the highest loss and the lowest accuracy."""
    return {"fold_loss_barrier": paths.mean([c.loss_barrier for c in fold.values()]),
            "fold_acc_barrier": paths.mean([c.acc_barrier for c in fold.values()])}


def fold_lines(ev: paths.Evaluator, feet: list[Params], center: Params, n: int) -> dict[tuple[int, int], paths.Curve]:
    """Every fold-line θi → θ* → θj, from the refined spokes θi → θ* (a fold-line's barrier is its
    worse spoke's, so refining each spoke refines every fold-line through it)."""
    spokes = [paths.refined_curve(ev, f, center, n) for f in feet]
    return {(i, j): paths.fold_curve(spokes[i], spokes[j]) for i, j in itertools.combinations(range(len(feet)), 2)}


def star(s: Setup, n_minima: int, lam: float = 0.0, seeds: list[int] | None = None, init: str | None = None,
         keep: list[int] = (), linear: dict[tuple[int, int], paths.Curve] | None = None) -> Star:
    """Train (or load) ``n_minima`` minima, find their center (start ``init``, else the chapter's
    ``center_init``; the centers after the epochs ``keep`` kept too), and evaluate every linear
    path and every fold-line θi → θ* → θj on the training set at ``n_points`` points per segment,
    refined around the barriers. ``linear``: the straight lines of the same minima, measured
    already (another star's: they do not depend on the center)."""
    seeds = seeds or [s.cfg.seed + i for i in range(n_minima)]
    minima = get_minima(s, seeds)
    feet, keys = [p for p, _ in minima], [minimum_key(s, sd) for sd in seeds]
    center, cinfo = get_center(s, feet, keys, lam, init, keep)
    ev, n = s.evaluator("train", path_points=True), s.cfg.n_points
    linear = linear or {(i, j): paths.refined_curve(ev, feet[i], feet[j], n)
                        for i, j in itertools.combinations(range(len(feet)), 2)}
    snaps = center_snapshots(s, center_key(s, keys, lam, init)[1], list(keep)) if keep else {}
    return Star(minima, center, cinfo, linear, fold_lines(ev, feet, center, n), snaps)


def convergence(s: Setup, st: Star) -> list[dict]:
    """How the center converged, from the one search: for the center after each kept epoch and
    the final one, its training loss and accuracy, the fold-line barriers through it (refined) and
    the Eq. 8 bound; with the search's epoch-mean path risk and objective J of that epoch.
    (A center after epoch e of an E-epoch cosine search is not the end of an e-epoch search: its
    learning rate has not decayed yet.)"""
    ev, path_ev, feet = s.evaluator("train"), s.evaluator("train", path_points=True), [p for p, _ in st.minima]
    info, rows = st.center_info, []
    for e, center in [*sorted(st.snapshots.items()), (len(info["objective"]), st.center)]:
        loss, acc = (info["train_loss"], info["train_acc"]) if center is st.center else ev.single(center)
        fold = st.fold if center is st.center else fold_lines(path_ev, feet, center, s.cfg.n_points)
        rows.append({"epoch": e, "risk": info["risk"][e - 1], "objective": info["objective"][e - 1],
                     "bound": info["bound"][e] if "bound" in info else None,
                     "center_train_loss": loss, "center_train_acc": acc, **fold_metrics(fold)})
    return rows


def ngd(st: Star, i: int = 0, j: int = 1) -> float:
    """The NGD upper bound (Eq. 8) of the pair (θi, θj) through the star's center."""
    return paths.ngd_bound(st.minima[i][0], st.center, st.minima[j][0])


def ngd_sweep(s: Setup, lams: list[float]) -> dict[float, Star]:
    """For each penalty weight λ, the 2-minimum star (seeds ``seed``, ``seed + 1``) and its paths
    (the straight line measured once)."""
    out: dict[float, Star] = {}
    for lam in lams:
        out[lam] = star(s, 2, lam, linear=next(iter(out.values())).linear if out else None)
    return out


def ngd_starts(s: Setup, inits: list[str], lam: float, sweep: dict[float, Star] | None = None) -> dict[str, Star]:
    """For each start of the center search (``mean`` of the two feet, one ``foot``, a ``fresh``
    initialisation), the 2-minimum star of penalty weight ``lam`` and its paths; the start the
    chapter's searches use (``center_init``) is the sweep's star at ``lam`` where ``sweep`` has it."""
    have = sweep or {}
    linear = next(iter(have.values())).linear if have else None
    return {init: have[lam] if init == s.cfg.center_init and lam in have else star(s, 2, lam, init=init, linear=linear)
            for init in inits}


def ngd_row(st: Star) -> dict:
    """A 2-minimum star's Table 2 figures: the Eq. 8 bound, the fold-line's barriers, and the
    bound during the search (``bound``: at the start and after each epoch; ``None`` for a center
    stored before it was recorded)."""
    m = st.metrics()
    return {"ngd": ngd(st), "fold_acc": m["fold_acc_barrier"], "fold_loss": m["fold_loss_barrier"],
            "bound": st.center_info.get("bound")}


def ngd_metrics(sweep: dict[float, Star], lam: float, starts: dict[str, Star] | None = None) -> dict:
    """Table 2's metrics for the center of penalty weight ``lam`` (one of the sweep's): ``ngd``, the
    Eq. 8 bound through it; ``fold_acc`` / ``fold_loss``, the barriers of its fold-line; the
    straight line's barriers, the points per path and the minima's training loss and accuracy;
    ``sweep``, the bound and fold-line accuracy for every λ of the sweep; ``starts``, for each
    start of the search at ``lam`` (:func:`ngd_starts`), its :func:`ngd_row`, and ``start_spread``,
    the largest minus the smallest NGD bound over the starts (``None`` with fewer than two)."""
    m = sweep[lam].metrics()
    keep = ("linear_acc_barrier", "linear_loss_barrier", "linear_points", "fold_points", "train_loss", "train_acc")
    rows = {init: ngd_row(x) for init, x in (starts or {}).items()}
    bounds = [r["ngd"] for r in rows.values()]
    return {**{k: v for k, v in ngd_row(sweep[lam]).items() if k != "bound"}, **{k: m[k] for k in keep},
            "sweep": {str(l): {"ngd": ngd(x), "fold_acc": x.metrics()["fold_acc_barrier"]} for l, x in sweep.items()},
            "starts": rows, "start_spread": max(bounds) - min(bounds) if len(bounds) > 1 else None}


def starts_table(starts: dict[str, dict]) -> str:
    """The NGD from each start of the search (:func:`ngd_metrics`' ``starts``)."""
    rows = ["| start of the search | Eq. 8 bound at the start | after epoch 1 | at the end (the NGD bound) | "
            "fold-line min acc (%) | fold-line max loss |", "|---|---|---|---|---|---|"]
    for init, r in starts.items():
        b = (r["bound"] or []) + [None, None]
        early = [f"{v:.4f}" if v is not None else "not recorded" for v in b[:2]]
        rows.append(f"| {init} | {early[0]} | {early[1]} | {r['ngd']:.4f} | {r['fold_acc']:.3f} | {r['fold_loss']:.2e} |")
    return "\n".join(rows)


def starts_note(m: dict) -> str:
    """How the NGD bound depends on the start of the search (:func:`ngd_metrics`), in words: the
    spread of the final bounds over the starts against the paper's NGD tolerance, and where a start
    off the segment θ1 → θ2 (``fresh``) ends beside the default start."""
    rows, spread, tol = m["starts"], m["start_spread"], TOLERANCE["ngd"]
    if spread is None:
        return "One start only (`inits`): how the NGD depends on the start is not measured in this run."
    ends = "; ".join(f"from `{init}` {r['ngd']:.4f}" for init, r in rows.items())
    verdict = ("less than the paper's NGD tolerance: at this scale the reported NGD does not owe its value to the "
               "start" if spread <= tol else "more than the paper's NGD tolerance: at this scale the reported NGD "
               "depends on where the search starts")
    text = f"The NGD bound at the end of the search: {ends}. Spread over the starts {spread:.4f}, {verdict} ({tol:g})."
    if "fresh" in rows and rows["fresh"]["bound"]:
        b = rows["fresh"]["bound"]
        text += (f" From a fresh initialisation, off the segment, the bound went from {b[0]:.4g} at the start to "
                 f"{b[-1]:.4f} ({'down' if b[-1] < b[0] else 'up'}).")
    return text


@dataclass
class NgdRun:
    """Table 2's computation: the λ sweep's stars, the stars from each start of the search at the
    reported λ, the metrics (:func:`ngd_metrics`) and the results JSON written."""

    s: Setup
    sweep: dict[float, Star]
    starts: dict[str, Star]
    metrics: dict
    paper: dict
    result: dict

    def starts_report(self) -> str:
        return starts_table(self.metrics["starts"]) + "\n\n" + starts_note(self.metrics)

    def report(self) -> str:
        """The paper's numbers, ours at paper scale and ours at reduced scale (verdicts at paper scale)."""
        return results.scale_table(self.result, tolerance_detail)


def ngd_run(s: Setup) -> NgdRun:
    """A center per λ of ``lams`` (and ``lam``), and at ``lam`` one per start in ``inits``;
    Table 2's metrics written to the chapter's results JSON beside the paper's numbers."""
    c = s.cfg
    sweep = ngd_sweep(s, sorted(set(c.lams) | {c.lam}))
    starts = ngd_starts(s, c.inits, c.lam, sweep)
    m, paper = ngd_metrics(sweep, c.lam, starts), TABLE2[c.setting]
    return NgdRun(s, sweep, starts, m, paper, results.record(c, m, paper, data_source=s.data.source))


@dataclass
class StarRun:
    """A Table 1 / Fig 5 chapter's computation: the star, its metrics, the paper's numbers for the
    setting, the results JSON written, and the center's convergence (``convergence``, where the
    chapter keeps earlier centers of the search)."""

    s: Setup
    star: Star
    metrics: dict
    paper: dict
    result: dict
    convergence: list[dict] = field(default_factory=list)

    def minima_table(self) -> str:
        return minima_table(self.star)

    def figure(self):
        c = self.s.cfg
        return plots.path_figure(self.star.linear, self.star.fold,
                                 f"{c.setting}: {c.n_minima} minima, one center ({c.profile} profile)")

    def convergence_figure(self):
        return plots.convergence_figure(self.star.center_info, self.convergence,
                                        f"{self.s.cfg.setting}: the center search ({self.s.cfg.profile} profile)")

    def report(self) -> str:
        """The paper's numbers, ours at paper scale and ours at reduced scale (with the verdicts at
        paper scale), and a sentence on the straight-line barrier against the paper's."""
        return (results.scale_table(self.result, tolerance_detail) + "\n\n"
                + barrier_note(self.metrics, self.paper, self.s.cfg.profile))

    def lam_report(self) -> str:
        """The λ of the table beside the variants' (:func:`lam_report`)."""
        return lam_report(self.s.cfg.lam, self.metrics)

    def convergence_report(self) -> str:
        """The center after each kept epoch of its search, as a table and in words."""
        if not self.convergence:
            return "No earlier centers kept in this run (`convergence_at` is empty)."
        return convergence_table(self.convergence) + "\n\n" + convergence_note(self.convergence)


def star_run(s: Setup) -> StarRun:
    """``n_minima`` minima, their center (penalty ``lam``) and every path (:func:`star`), and the
    center's convergence at the fractions ``convergence_at`` of its search where the chapter has
    them (:func:`convergence`); Table 1's metrics, with the convergence, written to the chapter's
    results JSON beside the paper's numbers for the setting."""
    c = s.cfg
    keep = keep_epochs(c.center_epochs, c.get("convergence_at") or [])
    st = star(s, c.n_minima, c.lam, keep=keep)
    conv = convergence(s, st) if keep else []
    variants = {lam: star(s, c.n_minima, lam, linear=st.linear) for lam in c.get("variant_lams") or [] if lam != c.lam}
    m, paper = st.metrics(), TABLE1[c.setting]
    if conv:
        m["convergence"] = conv
    if variants:
        m["variants"] = {f"{lam:g}": variant_row(x) for lam, x in variants.items()}
    result = results.record(c, m, paper, data_source=s.data.source)
    return StarRun(s, st, m, paper, result, conv)


def variant_row(st: Star) -> dict:
    """A star's Table 1 figures, the center's training loss and accuracy and the Eq. 8 bound
    through it (the mean over the pairs): one λ of :func:`lam_report`."""
    m = st.metrics()
    keys = ("fold_loss_barrier", "fold_acc_barrier", "linear_loss_barrier", "linear_acc_barrier", "center_train_loss",
            "center_train_acc", "ngd_bound", "fold_points")
    return {k: m[k] for k in keys}


def lam_report(lam: float, m: dict) -> str:
    """Which λ the table uses and why, with every variant's barriers beside it (``m["variants"]``,
    :func:`star_run`), and which λ gave the flattest fold-lines."""
    why = (f"The table uses λ = {lam:g}: " + ("the paper's algorithm for Table 1 has no penalty." if lam == 0 else
                                             "not the paper's Table 1 algorithm (no penalty); a choice of this run."))
    if not m.get("variants"):
        return why + " No center with another λ was searched in this run (`variant_lams` is empty)."
    rows = ["| λ | fold-line loss barrier | fold-line acc barrier (%) | Eq. 8 bound (mean over pairs) | "
            "center train loss | center train acc (%) |", "|---|---|---|---|---|---|"]
    table = {f"{lam:g} (the table's)": m, **m["variants"]}
    for k, r in table.items():
        nb = f"{r['ngd_bound']:.4f}" if r.get("ngd_bound") is not None else "—"
        rows.append(f"| {k} | {r['fold_loss_barrier']:.3e} | {r['fold_acc_barrier']:.3f} | {nb} | "
                    f"{r['center_train_loss']:.3e} | {r['center_train_acc']:.3f} |")
    best = max(table, key=lambda k: (table[k]["fold_acc_barrier"], -table[k]["fold_loss_barrier"]))
    return (why + " Beside it, the same minima's center with λ > 0 (`variant_lams`):\n\n" + "\n".join(rows)
            + f"\n\nFlattest fold-lines (highest accuracy barrier, then lowest loss barrier): λ = {best.split()[0]}.")


def convergence_note(rows: list[dict]) -> str:
    """What the later epochs of the center search bought (:func:`convergence`), in words: the
    fold-line barriers through each kept center against the final one's."""
    last = rows[-1]
    if len(rows) == 1:
        return "Only the final center: nothing to compare."
    earlier = "; ".join(f"after epoch {r['epoch']}: {r['fold_loss_barrier']:.3g} / {r['fold_acc_barrier']:.2f} %"
                        for r in rows[:-1])
    first = rows[0]
    ratio = first["fold_loss_barrier"] / last["fold_loss_barrier"] if last["fold_loss_barrier"] > 0 else math.inf
    return (f"Fold-line loss / accuracy barriers through the center {earlier}; at the end of the search (epoch "
            f"{last['epoch']}): {last['fold_loss_barrier']:.3g} / {last['fold_acc_barrier']:.2f} %. The epochs after "
            f"epoch {first['epoch']} lowered the loss barrier {ratio:.3g}-fold and moved the accuracy barrier by "
            f"{last['fold_acc_barrier'] - first['fold_acc_barrier']:+.2f} points.")


def convergence_table(rows: list[dict]) -> str:
    """The center after each kept epoch of its search (:func:`convergence`)."""
    out = ["| after epoch | path risk (epoch mean) | Eq. 8 bound (mean over pairs) | center train loss | "
           "center train acc (%) | fold-line loss barrier | fold-line acc barrier (%) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        bound = f"{r['bound']:.4f}" if r["bound"] is not None else "not recorded"
        out.append(f"| {r['epoch']} | {r['risk']:.3e} | {bound} | {r['center_train_loss']:.3e} | "
                   f"{r['center_train_acc']:.3f} | {r['fold_loss_barrier']:.3e} | {r['fold_acc_barrier']:.3f} |")
    return "\n".join(out)


# ---------------------------------------------------------------- the claims, checked
def _claim(holds: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless the claim ``holds`` (not an ``assert``: never skipped)."""
    if not holds:
        raise AssertionError(message)


SMOKE_SKIP = ("smoke run: its networks are not minima (a few epochs on a few hundred examples), so neither the "
              "fold-lines' flatness, the minima nor the paper's numbers are claimed")


def _finite(m: dict, keys: tuple[str, ...]) -> None:
    """Every barrier is a finite number (at every profile: a NaN or an infinity is a broken run)."""
    bad = {k: m[k] for k in keys if not math.isfinite(m[k])}
    _claim(not bad, f"barriers that are not finite numbers: {bad}")


def _minima_and_paper(m: dict, paper: dict, profile: str) -> str:
    """From the ``cpu`` profile up every minimum reaches ≥ 99.9 % training accuracy; at ``paper``
    every figure of merit with a tolerance (``profiles.practical.within_tolerance``: accuracies,
    the NGD and the fold-line loss barrier) is within it of the paper's. Returns what was checked."""
    _claim(min(m["train_acc"]) >= 99.9, f"not every network is a minimum: training accuracies {m['train_acc']} "
                                         "(%), the lowest below 99.9 %")
    ok = within_tolerance(m, paper)
    if profile == "paper":  # the paper's figures of merit are claimed at the paper's scale only
        _claim(all(ok.values()), f"not within the paper's tolerance at the paper's scale: {ok} (ours: "
                                 + ", ".join(f"{k} = {m[k]:.4g}, the paper's {paper[k]}" for k in ok) + ")")
    return f"every minimum ≥ 99.9 % training accuracy; within tolerance of the paper: {ok}"


def _far_flatter(fold_loss: float, linear_loss: float, fold_acc: float, linear_acc: float,
                 lines: str = "fold-lines are", straight: str = "the straight lines'") -> str:
    """The fold-lines are far flatter than the straight lines: their loss barrier and their accuracy
    drop (100 − accuracy barrier) at most 1/``FAR_FLATTER`` of the straight lines' (so in particular
    flatter: lower loss barrier, higher accuracy barrier)."""
    _claim(fold_loss < linear_loss,
           f"the {lines} not flatter: loss barrier {fold_loss:.4g} against {straight} {linear_loss:.4g}")
    _claim(fold_acc > linear_acc,
           f"the {lines} not flatter: accuracy barrier {fold_acc:.4g} % against {straight} {linear_acc:.4g} %")
    _claim(FAR_FLATTER * fold_loss <= linear_loss,
           f"the {lines} not far flatter: loss barrier {fold_loss:.4g}, more than 1/{FAR_FLATTER} of {straight} "
           f"{linear_loss:.4g}")
    _claim(FAR_FLATTER * (100 - fold_acc) <= 100 - linear_acc,
           f"the {lines} not far flatter: accuracy drop {100 - fold_acc:.4g} points, more than 1/{FAR_FLATTER} of "
           f"{straight} {100 - linear_acc:.4g}")
    return (f"{lines.split()[0]} far flatter than the straight line(s) (loss barrier and accuracy drop ≤ "
            f"1/{FAR_FLATTER} of theirs)")


def check_star(m: dict, paper: dict, profile: str) -> str:
    """Table 1's claim on the metrics ``m`` of :meth:`Star.metrics`. At every profile the barriers
    are finite. From ``cpu`` up: every fold-line through the one center is far flatter than the
    straight lines (mean loss barrier and accuracy drop at most
    1/:data:`~starconn.profiles.practical.FAR_FLATTER` of theirs) and the networks are minima
    (≥ 99.9 % training accuracy); at ``paper`` the fold-line barriers are within the paper's
    tolerance. At ``smoke`` the networks are not minima and nothing that needs them is claimed
    (:data:`SMOKE_SKIP`). Raises ``AssertionError`` naming what failed; returns what was checked."""
    _finite(m, ("fold_loss_barrier", "linear_loss_barrier", "fold_acc_barrier", "linear_acc_barrier"))
    if profile == "smoke":
        return f"barriers finite; {SMOKE_SKIP}"
    flat = _far_flatter(m["fold_loss_barrier"], m["linear_loss_barrier"], m["fold_acc_barrier"],
                        m["linear_acc_barrier"])
    return f"{flat}; {_minima_and_paper(m, paper, profile)}"


def check_ngd(m: dict, paper: dict, profile: str) -> str:
    """Table 2's claim on :func:`ngd_metrics`. At every profile the barriers and the bound are
    finite. From ``cpu`` up the fold-line through the reported center is far flatter than the
    straight line and the networks are minima; at ``paper`` the bound of Eq. 8 and the fold-line
    accuracy are within the paper's tolerance. At ``smoke`` nothing that needs minima is claimed
    (:data:`SMOKE_SKIP`). (That the bound is ≥ 1 is the triangle inequality, not evidence: not
    checked.) Raises ``AssertionError``; returns what was checked."""
    _finite(m, ("ngd", "fold_loss", "linear_loss_barrier", "fold_acc", "linear_acc_barrier"))
    if profile == "smoke":
        return f"bound and barriers finite; {SMOKE_SKIP}"
    flat = _far_flatter(m["fold_loss"], m["linear_loss_barrier"], m["fold_acc"], m["linear_acc_barrier"],
                        "fold-line is", "the straight line's")
    return f"{flat}; {_minima_and_paper(m, paper, profile)}"


def describe(s: Setup) -> str:
    """What this run is: profile, device, data source, and whether it is reduced."""
    c = s.cfg
    reduced = "" if c.profile == "paper" else (
        f" **Reduced run** (`{c.profile}` profile): not the paper's protocol; see the recorded "
        "paper-scale run where there is one.")
    padded = ", MNIST zero-padded to 32×32" if c.setting == "vgg16-mnist" else ""
    dev = results.protocol_deviations(c.chapter, c.setting)
    dev = (" Where the `paper` profile departs from the paper: "
           + "; ".join(f"`{k}` = {v.value} ({v.reason})" for k, v in dev.items()) + ".") if dev else ""
    return f"{run_line(s)}; network `{s.model_name}` (width ×{c.width}{padded}); {protocol_line(c)}.{reduced}{dev}"


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
