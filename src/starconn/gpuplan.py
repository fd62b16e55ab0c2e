"""The paper-scale Part III as GPU commands that each fit one device call: ``python -m starconn gpu-plan``.

    python -m starconn gpu-plan [-p NAME VALUE]...             the plan
    python -m starconn gpu-plan --next | --command N           one command's device call (or an error)
    python -m starconn gpu-plan --args JOB                     a job's chapter, file stem and -p values
    python -m starconn gpu-plan --run JOB... [--results DIR]   run jobs (what scripts/device-run.sh does)

A *job* is one chapter run at the ``paper`` profile, ``NAME@SETTING``: ``star-vgg16-cifar10`` (Fig 5),
``star-barriers`` (Table 1), ``star-barriers-lam0`` (Table 1 with λ = 0, for fnn-mnist),
``ngd-practical`` (Table 2 with its λ sweep) and ``ngd-practical-lam<λ>`` (one λ of the sweep, when
the whole sweep does not fit one command). Its results land in ``results/paper/<setting>/<stem>.*``
(the stem of the reported λ's part is ``ngd-practical``, so the chapter shows it). The jobs come
in order of value: vgg16-cifar10 (Fig 5, Table 1, Table 2: they share minima), then the other
settings in the order of the paper's tables.

A job's work is computed from its resolved configuration (``Chapter.resolve("paper", …)`` with the
``-p`` values): minima (epochs × steps per epoch × the cost of a step of the ensemble), centers
(center epochs × steps × the cost of a center step), path points (BatchNorm statistics and loss on
the training set) and the evaluations of every network trained, plus the start of each chapter
and of each command. A step's cost comes from the last measured throughput: the rows of a GPU
benchmark JSON (``results/paper/benchmarks-*.json``, written by ``BENCH=1 scripts/device-run.sh``)
where there is one, else ``results/paper/throughput.json`` (the H200 figures read off the recorded
runs). A network measured nowhere is costed from VGG16 scaled by its model FLOPs per example
(``starconn.flops``), marked ``~``. The levers of ``starconn.levers`` set in the environment count
only where a GPU benchmark measured them (``STARCONN_BN_EXAMPLES`` changes the work itself and
always counts); the commands carry them.

Every command runs from a bare machine (the minima of a conv net, 45-85 MiB each, cannot travel
back in the 16 MiB a file that a device call returns): jobs are packed into one command, in order,
while its expected wall stays within :data:`FIT_S`; later jobs of a command reuse its minima and
centers. A job that fits no command alone is split if it can be (the λ sweep, a few λ a command),
else refused: the plan shows it with its expected wall and hands out no device call for it.
Jobs recorded under ``results/paper/`` with the same parameters are skipped.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import config, flops, levers
from .errors import ParamError
from .profiles import chapter
from .profiles.practical import SETTINGS, TABLE1, TABLE2

LIMIT_S = 600  # one command's run on the device machine (the device tool's limit)
FIT_S = 540  # the most a command may be expected to take: 9 minutes, a minute below the limit
SESSION_S = 900  # device time of a session (machine starts included)
BENCH_S = (60, 180)  # the benchmarks' budget on the first command with that much to spare: least, most
CARRY = [".whl", "gpu_inputs"]  # made by scripts/gpu-inputs.sh
STEPS = {"STARCONN_COMPILE": ("train", "center"), "STARCONN_ADAM": ("train", "center"),  # the steps a lever acts on
         "STARCONN_INFERENCE": ("eval",), "STARCONN_EVAL_BATCH": ("eval",),
         "STARCONN_CHANNELS_LAST": ("train", "center", "eval"), "STARCONN_CUDNN_BENCH": ("train", "center", "eval")}
THROUGHPUT = config.PAPER_RESULTS / "throughput.json"
FIG5 = "star-vgg16-cifar10"


# ---------------------------------------------------------------- jobs
@dataclass(frozen=True)
class Job:
    """One chapter run at the ``paper`` profile: ``id`` is ``NAME@SETTING``; ``given`` the job's own
    parameters; ``stem`` the file stem of its results under ``results/paper/<setting>/``."""

    id: str
    chapter: str
    setting: str
    given: tuple[tuple[str, object], ...]
    stem: str
    what: str


def _lam_name(lam: float) -> str:
    return f"ngd-practical-lam{lam:g}"


def job(job_id: str, overrides: dict | None = None) -> Job:
    """The job ``NAME@SETTING`` (a bad one is a :class:`ParamError`)."""
    name, _, setting = job_id.partition("@")
    if setting not in SETTINGS:
        raise ParamError(f"job {job_id!r}: the setting after '@' must be one of {', '.join(SETTINGS)}")
    if name in (FIG5, "star-barriers", "ngd-practical"):
        what = {FIG5: "Fig 5", "star-barriers": "Table 1", "ngd-practical": "Table 2, the λ sweep"}[name]
        return Job(job_id, name, setting, (), name, what)
    if name == "star-barriers-lam0":
        return Job(job_id, "star-barriers", setting, (("lam", 0.0),), name, "Table 1, λ = 0")
    if name.startswith("ngd-practical-lam"):
        try:
            lam = float(name.removeprefix("ngd-practical-lam"))
        except ValueError:
            lam = -1.0
        if lam >= 0:
            reported = resolve(Job(job_id, "ngd-practical", setting, (), "", ""), overrides)["lam"]
            stem = "ngd-practical" if lam == reported else name
            return Job(job_id, "ngd-practical", setting, (("lam", lam), ("lams", [lam])), stem,
                       f"Table 2, λ = {lam:g}" + (" (the reported λ)" if lam == reported else ""))
    raise ParamError(f"job {job_id!r}: the name before '@' must be one of {FIG5}, star-barriers, "
                     "star-barriers-lam0, ngd-practical, ngd-practical-lam<λ>")


def resolve(j: Job, overrides: dict | None = None):
    """The job's configuration at the ``paper`` profile: its own values over the ``-p`` overrides
    (those its chapter declares)."""
    ch = chapter(j.chapter)
    names = {p.name for p in ch.params}
    given = {k: v for k, v in (overrides or {}).items() if k in names}
    return ch.resolve("paper", **given, setting=j.setting, **dict(j.given))


def part_iii() -> list[Job]:
    """The paper-scale Part III in order of value: vgg16-cifar10's Fig 5, Table 1 and Table 2, then
    each other setting's Table 1 (fnn-mnist's with λ = 0 too) and Table 2."""
    order = ["vgg16-cifar10"] + [s for s in SETTINGS if s != "vgg16-cifar10"]
    out = []
    for s in order:
        names = ([FIG5] if s == chapter(FIG5).defaults.default_setting.value else []) \
            + (["star-barriers"] if TABLE1[s] else []) + (["star-barriers-lam0"] if s == "fnn-mnist" else []) \
            + (["ngd-practical"] if TABLE2[s] else [])
        out += [job(f"{n}@{s}") for n in names]
    return out


def recorded(j: Job, overrides: dict | None = None, root: Path | None = None) -> dict | None:
    """The recorded paper-scale result of ``j`` (its JSON under ``results/paper/<setting>/``) when it
    was run with exactly the job's parameters; else ``None``."""
    path = (root or config.PAPER_RESULTS) / j.setting / f"{j.stem}.json"
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    want = {k: v for k, v in resolve(j, overrides).items() if k not in ("chapter", "profile", "out")}
    return rec if rec.get("profile") == "paper" and rec.get("params") == want else None


# ---------------------------------------------------------------- throughput
@dataclass(frozen=True)
class Rate:
    """Seconds per step (``per_step``: launch-bound, whatever the examples) or per example."""

    s: float
    per_step: bool
    source: str
    estimate: bool = False
    examples: int = 0  # of the measured step (per_step rates)

    def step(self, examples: int) -> float:
        return self.s if self.per_step else self.s * examples

    def flop_rate(self, per_example: float) -> float:
        """Achieved model FLOP/s, given the model FLOPs of one example."""
        return per_example * (self.examples if self.per_step else 1) / self.s


class Throughput:
    """The cost of a step: GPU benchmark rows (``benchmarks-*.json`` of a CUDA run under ``root``)
    first, then ``throughput.json``; lever gains only from GPU benchmark rows."""

    def __init__(self, path: Path = THROUGHPUT, root: Path | None = None):
        data = json.loads(path.read_text())
        self.card, self.date = data["card"], data["date"]
        self.overheads = data["overheads"]
        self.table = {(e["network"], e["step"]): e for e in data["steps"]}
        self.path = path
        self.rows: list[tuple[str, dict]] = []
        for f in sorted((root or config.PAPER_RESULTS).glob("benchmarks-*.json")):
            bench = json.loads(f.read_text())
            if bench.get("device") == "cuda":
                self.rows += [(f.name, r) for r in bench["rows"] if r.get("meta", {}).get("width") == 1.0]

    def _bench(self, network: str, step: str, lever: dict) -> list[dict]:
        return [r for _, r in self.rows if r["meta"].get("network") == network and r["meta"].get("step") == step
                and r["meta"].get("lever") == lever and r["meta"].get("base", {}) == {}]

    def rate(self, network: str, dataset: str, step: str) -> Rate:
        """The measured cost of a ``step`` ("train", "center", "eval") of ``network`` on ``dataset``."""
        rows = [r for _, r in self.rows if r["meta"].get("network") == network and r["meta"].get("step") == step
                and r["meta"].get("base", {}) == {}]
        if rows:
            r = rows[0]
            per_step = network == "fnn"  # launch-bound (throughput.json's scaling for it)
            s = r["t_straight"] if per_step else r["t_straight"] / r["meta"]["examples"]
            src = next(f for f, x in self.rows if x is r)
            return Rate(s * self._flop_ratio(network, dataset, r["meta"]["dataset"], step, per_step), per_step,
                        f"results/paper/{src}", examples=r["meta"]["examples"])
        entry = self.table.get((network, step))
        if entry is None:  # costed from VGG16, scaled by model FLOPs
            ref = self.rate("vgg16", "cifar10", step)
            ratio = self._flop_ratio(network, dataset, "cifar10", step, False, ref_network="vgg16")
            return Rate(ref.s * ratio, False, f"{ref.source}, × {ratio:.2f} (model FLOPs of {network} / vgg16)", True)
        per_step = entry["scaling"] == "per_step"
        s = entry["s_per_step"] if per_step else entry["s_per_example"]
        return Rate(s * self._flop_ratio(network, dataset, entry["dataset"], step, per_step), per_step,
                    self.path.name, examples=entry.get("examples", 0))

    def achieved(self) -> list[str]:
        """Each measured step's model FLOP/s and its fraction of the card's dense bf16 peak."""
        out = []
        for network, step in self.table:
            dataset = self.table[(network, step)]["dataset"]
            r = self.rate(network, dataset, step)
            rate = r.flop_rate(flops.per_example(network, dataset, train=step != "eval"))
            out.append(f"{network} {step} {rate / 1e12:.2f} TFLOP/s ({100 * rate / flops.peak_bf16(self.card):.1f} %)")
        return out

    @staticmethod
    def _flop_ratio(network: str, dataset: str, measured: str, step: str, per_step: bool,
                    ref_network: str | None = None) -> float:
        if per_step or (dataset == measured and ref_network is None):
            return 1.0
        train = step != "eval"
        return flops.per_example(network, dataset, train=train) / flops.per_example(ref_network or network, measured,
                                                                                    train=train)

    def gain(self, network: str, step: str, active: dict[str, str]) -> tuple[float, float, list[str]]:
        """The speed-up of the levers ``active`` on a step where a GPU benchmark measured each
        (multiplied: an assumption), the extra first-call time they cost (compilation, once per
        chapter), and the levers on this step no GPU benchmark measured (counted as no gain)."""
        g, first, unmeasured = 1.0, 0.0, []
        for var, value in active.items():
            if step not in STEPS.get(var, ()):  # STARCONN_BN_EXAMPLES changes the work: counted there
                continue
            rows = self._bench(network, step, {var: value})
            if rows:
                g *= rows[0]["speedup"]
                first += max(0.0, rows[0]["meta"].get("first_call_s", 0) - rows[0]["meta"].get("base_first_call_s", 0))
            else:
                unmeasured.append(f"{var}={value} on {network} {step}")
        return g, first, unmeasured


# ---------------------------------------------------------------- the cost of a job
@dataclass
class Cost:
    items: list[tuple[str, float]] = field(default_factory=list)
    estimate: bool = False
    unmeasured: set[str] = field(default_factory=set)
    compiled: set[str] = field(default_factory=set)

    @property
    def s(self) -> float:
        return sum(s for _, s in self.items)

    def add(self, label: str, s: float) -> None:
        if s > 0:
            self.items.append((label, s))


class Costing:
    """The work of jobs in one command: minima and centers computed by an earlier job of the
    command are in its store (``done``) and cost nothing again."""

    def __init__(self, tp: Throughput, overrides: dict | None = None, active: dict[str, str] | None = None):
        self.tp, self.overrides = tp, overrides or {}
        self.active = levers.active() if active is None else active
        self.done: set[str] = set()
        self.decoded = False  # CIFAR-10 decoded in this command

    def step(self, cost: Cost, network: str, dataset: str, kind: str, examples: int) -> float:
        """Seconds of one step (or point) of ``examples``; a lever's first-call cost is added to
        ``cost`` once per kind of step."""
        rate = self.tp.rate(network, dataset, kind)
        g, first, unmeasured = self.tp.gain(network, kind, self.active)
        cost.estimate |= rate.estimate
        cost.unmeasured.update(unmeasured)
        if first and kind not in cost.compiled:
            cost.compiled.add(kind)
            cost.add(f"compilation ({kind})", first)
        return rate.step(examples) / g

    def job(self, j: Job) -> Cost:
        from .practical import SETTINGS as NETWORKS  # setting -> (network, dataset); imported when costing

        c, cost = resolve(j, self.overrides), Cost()
        network, dataset = NETWORKS[c.setting]
        steps, n, bn = math.ceil(c.n_train / c.batch_size), c.n_train, network != "fnn"
        bn_n = min(int(self.active.get("STARCONN_BN_EXAMPLES", 0)) or n, n)

        def evaluate(examples: int) -> float:
            return self.step(cost, network, dataset, "eval", examples)

        one_net = evaluate((n if bn else 0) + n) + evaluate((n if bn else 0) + c.n_test)  # train, test metrics
        point = evaluate((bn_n if bn else 0) + n)
        ov = self.tp.overheads
        cost.add("chapter start", ov["chapter_s"])
        if dataset == "cifar10" and not self.decoded:
            cost.add("CIFAR-10 decoded", ov["cifar_decode_s"])
            self.decoded = True
        trained = [0]

        def minima(seeds: list[int], epochs: int, schedule: str) -> list[str]:
            keys = [f"{c.setting} minimum {sd} {epochs} {schedule} {c.lr} {c.batch_size} {c.amp}" for sd in seeds]
            todo = [k for k in keys if k not in self.done]
            groups = [len(todo[i:i + c.ensemble]) for i in range(0, len(todo), c.ensemble)]
            how = "one by one" if c.ensemble == 1 else "as " + " + ".join(f"an ensemble of {k}" for k in groups)
            cost.add(f"{len(todo)} minima × {epochs} epochs ({how})", sum(
                epochs * steps * self.step(cost, network, dataset, "train", k * c.batch_size) for k in groups))
            trained[0] += len(todo)
            self.done.update(todo)
            return keys

        def center(feet: list[str], lam: float) -> None:
            key = f"center {feet} {lam} {c.center_epochs} {c.center_lr} {c.B_r} {c.B_t} {c.center_init}"
            if key not in self.done:
                cost.add(f"center, {c.center_epochs} epochs, λ = {lam:g}", c.center_epochs * steps * self.step(
                    cost, network, dataset, "center", c.B_r * c.B_t * c.batch_size))
                trained[0] += 1
                self.done.add(key)

        if j.chapter == "ngd-practical":
            feet = minima([c.seed, c.seed + 1], c.epochs, c.schedule)
            lams = sorted(set(c.lams) | {c.lam})
            for lam in lams:
                center(feet, lam)
            cost.add(f"{3 * len(lams) * c.n_points} path points", 3 * len(lams) * c.n_points * point)
        else:
            feet = minima([c.seed + i for i in range(c.n_minima)], c.epochs, c.schedule)
            center(feet, c.lam)
            pts = (math.comb(c.n_minima, 2) + c.n_minima) * c.n_points
            for e in c.get("study_epochs", []):
                minima([c.seed, c.seed + 1], int(e), "constant")
                pts += c.n_points
            cost.add(f"{pts} path points", pts * point)
        cost.add(f"{trained[0]} networks evaluated (train, test)", trained[0] * one_net)
        return cost


# ---------------------------------------------------------------- commands
@dataclass
class Command:
    jobs: list[Job]
    costs: list[Cost]
    overhead_s: float
    bench_s: int = 0
    refused: bool = False
    session: int = 0

    @property
    def s(self) -> float:
        return self.overhead_s + self.bench_s + sum(c.s for c in self.costs)

    def line(self, overrides: dict) -> str:
        env = (f"BENCH=1 BENCH_S={self.bench_s} " if self.bench_s else "") + "".join(
            f"{k}={v} " for k, v in levers.active().items())
        if overrides:
            env += "OVERRIDES='" + " ".join(f"-p {k} {json.dumps(v, separators=(',', ':'))}"
                                            for k, v in overrides.items()) + "' "
        return f"{env}bash scripts/device-run.sh " + " ".join(j.id for j in self.jobs)

    def call(self, overrides: dict) -> str:
        return f"run(command={json.dumps(self.line(overrides))}, carry={json.dumps(CARRY)}, timeout_s={LIMIT_S})"


def split(j: Job, overrides: dict) -> list[Job]:
    """One job per λ of a Table 2 sweep, the reported λ first ([] for a job that cannot be split)."""
    if j.chapter != "ngd-practical" or j.given:
        return []
    c = resolve(j, overrides)
    lams = sorted(set(c.lams) | {c.lam}, key=lambda lam: (lam != c.lam, lam))
    return [job(f"{_lam_name(lam)}@{j.setting}", overrides) for lam in lams] if len(lams) > 1 else []


@dataclass
class Plan:
    commands: list[Command]
    skipped: list[tuple[Job, dict]]
    tp: Throughput
    overrides: dict

    @property
    def fitting(self) -> list[Command]:
        return [c for c in self.commands if not c.refused]


def plan(overrides: dict | None = None, tp: Throughput | None = None, jobs: list[Job] | None = None,
         root: Path | None = None) -> Plan:
    """The commands for ``jobs`` (default: :func:`part_iii`) not yet recorded under ``root``."""
    overrides, tp = overrides or {}, tp or Throughput(root=root)
    command_s = tp.overheads["command_s"]
    queue = list(jobs if jobs is not None else part_iii())
    commands: list[Command] = []
    skipped = []
    cur, costing = None, None
    while queue:
        j = queue.pop(0)
        rec = recorded(j, overrides, root)
        if rec is not None:
            skipped.append((j, rec))
            continue
        if cur is not None:
            trial = Costing(tp, overrides)
            trial.done, trial.decoded = set(costing.done), costing.decoded
            cost = trial.job(j)
            if cur.s + cost.s <= FIT_S:
                cur.jobs.append(j)
                cur.costs.append(cost)
                costing = trial
                continue
        costing = Costing(tp, overrides)
        cost = costing.job(j)
        if command_s + cost.s > FIT_S:
            parts = split(j, overrides)
            if parts:
                queue[:0] = parts
                cur = None
                continue
            commands.append(Command([j], [cost], command_s, refused=True))
            cur = None
            continue
        cur = Command([j], [cost], command_s)
        commands.append(cur)
    for c in commands:  # the benchmarks go with the first command that has a minute to spare
        if not c.refused and FIT_S - c.s >= BENCH_S[0]:
            c.bench_s = int(min(BENCH_S[1], FIT_S - c.s))
            break
    session, used = -1, SESSION_S
    for c in commands:
        if not c.refused:
            if used + c.s > SESSION_S:
                session, used = session + 1, tp.overheads["start_s"]
            used += c.s
            c.session = session
    return Plan(commands, skipped, tp, overrides)


# ---------------------------------------------------------------- printing
def _min(s: float) -> str:
    return f"{s / 60:.1f} min"


def report(p: Plan) -> str:
    tp = p.tp
    active = levers.active()
    src = sorted({f"results/paper/{f}" for f, _ in tp.rows}) or [f"results/paper/{tp.path.name} ({tp.card}, {tp.date})"]
    out = [f"GPU plan of the paper-scale Part III: {tp.card}; throughput from {', '.join(src)}",
           f"levers: {', '.join(f'{k}={v}' for k, v in active.items()) or 'none set'} (STARCONN_*; a lever counts only "
           "where a GPU benchmark measured it)" + (f"; overrides: {p.overrides}" if p.overrides else ""),
           f"a command fits when its expected wall is ≤ {FIT_S} s ({LIMIT_S} s is the device's limit per command); "
           "~ marks work costed from VGG16 by model FLOPs",
           f"measured steps, model FLOP/s (of the card's dense bf16 peak): {'; '.join(tp.achieved())}", ""]
    unmeasured: set[str] = set()
    for i, c in enumerate(p.commands, 1):
        est = "~" if any(x.estimate for x in c.costs) else ""
        status = (f"REFUSED: expected {est}{c.s:.0f} s > {FIT_S} s; it cannot be split, and a conv net's minima "
                  "cannot travel between machines" if c.refused else f"session {c.session + 1}")
        out.append(f"{i:2d}. {est}{_min(c.s)} ({est}{c.s:.0f} s)  {status}")
        for j, cost in zip(c.jobs, c.costs):
            out.append(f"    {j.id} [{j.what}]: {est if cost.estimate else ''}{cost.s:.0f} s = "
                       + "; ".join(f"{label} {s:.0f} s" for label, s in cost.items))
            unmeasured |= cost.unmeasured
        extra = f" + benchmarks {c.bench_s} s" if c.bench_s else ""
        out.append(f"    + command start and packing {c.overhead_s:.0f} s{extra}")
        if not c.refused:
            out.append("    " + c.call(p.overrides))
        out.append("")
    fit, refused = p.fitting, [c for c in p.commands if c.refused]
    sessions = len({c.session for c in fit})
    run_s = sum(c.s for c in fit)
    start = tp.overheads["start_s"]
    whole = run_s + sum(c.s for c in refused)
    out += [f"to run: {len(fit)} commands, {_min(run_s)} in commands; {sessions} sessions of "
            f"≤ {SESSION_S // 60} min: {_min(run_s + sessions * start)} of GPU time with a machine start each "
            f"(~{start} s)",
            f"refused: {len(refused)} (do not fit one command), {_min(sum(c.s for c in refused))} of work",
            f"whole paper-scale Part III not yet recorded (refused included, each as one command): {_min(whole)}; "
            f"with machine starts ≈ {_min(whole + (sessions + len(refused)) * start)} (goal: ≤ 30 min)"]
    if unmeasured:
        out.append("levers set but not measured on a GPU (counted as no gain): " + ", ".join(sorted(unmeasured)))
    if p.skipped:
        out.append("recorded under results/paper/ with these parameters (skipped): " + ", ".join(
            f"{j.id} ({rec['env']['card']}, {rec['env']['date']})" for j, rec in p.skipped))
    out.append("before the first call: STARCONN_DATA=/path/to/data scripts/gpu-inputs.sh (makes .whl/ and gpu_inputs/)")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the command line
def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="a value for every job whose chapter has the parameter (e.g. -p n_train 200)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--next", action="store_true", help="the device call of the first command that fits")
    g.add_argument("--command", type=int, metavar="N", help="the device call of command N (an error if refused)")
    g.add_argument("--args", metavar="JOB", help="the job's chapter, file stem and -p values (one line)")
    g.add_argument("--run", nargs="+", metavar="JOB", help="run these jobs (scripts/device-run.sh does)")
    ap.add_argument("--results", type=Path, default=None, help="where --run writes (default: results/paper)")


def overrides_of(pairs: list[tuple[str, str]] | None) -> dict:
    """``-p`` values parsed by the first Part III chapter that declares each name."""
    out = {}
    for name, raw in pairs or []:
        owner = next((ch for ch in ("ngd-practical", "star-barriers", FIG5)
                      if name in {p.name for p in chapter(ch).params}), None)
        if owner is None or name == "setting":
            raise ParamError(f"-p {name}: not a parameter of the Part III chapters' jobs")
        out[name] = chapter(owner).param(name).parse(raw)
    return out


def job_args(j: Job, overrides: dict) -> list[str]:
    """``CHAPTER STEM -p NAME VALUE …`` (values as compact JSON)."""
    c = resolve(j, overrides)  # validates
    given = {**{k: v for k, v in overrides.items() if k in c}, **dict(j.given)}
    return [j.chapter, j.stem] + [x for k, v in given.items() for x in ("-p", k, json.dumps(v, separators=(",", ":")))]


def run_jobs(ids: list[str], overrides: dict, results: Path) -> int:
    """Run each job through ``python -m starconn run`` into ``results/<setting>/.<stem>/``, then move its
    files to ``results/<setting>/<stem>.*`` (its log beside them); a job stopped midway leaves its
    folder (the partial notebook in it). Returns the number of jobs that failed."""
    jobs = [job(i, overrides) for i in ids]  # every id checked before anything runs
    failed = 0
    for j in jobs:
        args = job_args(j, overrides)
        where = results / j.setting
        tmp = where / f".{j.stem}"
        tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        with open(where / f"{j.stem}.log", "w") as log:
            rc = subprocess.call([sys.executable, "-m", "starconn", "run", j.chapter, "--profile", "paper",
                                  "-p", "setting", j.setting, *args[2:], "--out", str(tmp)], stdout=log, stderr=log)
            line = f"{j.id}: exit {rc}, {time.time() - t0:.0f} s wall"
            print(line, file=log)
        print(line, flush=True)
        for f in tmp.iterdir():
            if f.name.startswith(j.chapter + "."):
                f.replace(where / (j.stem + f.name.removeprefix(j.chapter)))
        if not any(tmp.iterdir()):
            tmp.rmdir()
        failed += rc != 0
    return failed


def main(args: argparse.Namespace) -> int:
    overrides = overrides_of(args.param)
    if args.args:
        print(" ".join(job_args(job(args.args, overrides), overrides)))
        return 0
    if args.run:
        return 1 if run_jobs(args.run, overrides, args.results or config.PAPER_RESULTS) else 0
    p = plan(overrides)
    if args.next or args.command is not None:
        if args.next:
            c = next(iter(p.fitting), None)
            if c is None:
                raise ParamError("gpu-plan --next: no command left that fits (see python -m starconn gpu-plan)")
        else:
            if not 1 <= args.command <= len(p.commands):
                raise ParamError(f"gpu-plan --command must be in 1..{len(p.commands)}; got {args.command}")
            c = p.commands[args.command - 1]
            if c.refused:
                raise ParamError(f"gpu-plan --command {args.command}: {', '.join(j.id for j in c.jobs)} is expected to "
                                 f"take {c.s:.0f} s, more than the {FIT_S} s a command may: not handed out")
        print(c.call(overrides))
        return 0
    print(report(p), end="")
    return 0


