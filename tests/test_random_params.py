"""Every valid parameter set runs: random draws from each chapter's declared parameters.

For every chapter in ``starconn.CHAPTERS`` (driven by the registry, so chapters added later are
covered), ``DRAWS`` parameter sets are drawn, seeded by the chapter id and the draw's index, and
run through ``python -m starconn run CHAPTER --profile smoke -p NAME VALUE ...`` (papermill); each
run must finish and write its results JSON. A claim cell may fail only when its claim is false, so
a run whose claim cell fails is a failure of this test too.

How the draws are bounded (values near the ``smoke`` profile, so that a run takes seconds):

* choices (``setting``, ``schedule``, …) and booleans: uniform; strings without choices keep
  their default. The other parameters are drawn around the smoke values *for those choices*.
* sizes — names in :data:`SIZES` or starting with ``n_`` (samples, epochs, steps, draws, trials,
  restarts, runs, widths of the sweeps): uniform integers in [low, smoke value], so never larger
  than smoke; a list of sizes gets elements in [low, its largest smoke element].
* other integers (M, d, m, depths, k, …): uniform in [low, min(high, 2·smoke value + 2)]; lists
  of them have 1 … (smoke length + 1) distinct elements, in random order; ``batch_size`` in
  [smoke/2, 2·smoke] (a batch of 1 would multiply the number of steps).
* floats: log-uniform in [smoke/2, 2·smoke] within [low, high], [smoke/2, smoke] for sizes (the
  width multipliers of Part III); a smoke value of 0 stays 0;
  ``seed``: uniform in [0, 10⁴].
* draws that break a joint constraint (``starconn.constraints``, e.g. m ≥ M) are redrawn.

Budget (CI, 2 cores): the runs go through a pool of 2 workers. One CI run executes one draw per
chapter for the chapters of one *rotation group*; which draw and which group rotate with the UTC
day (or ``STARCONN_PARAM_ROTATION=N``), so successive CI runs cover every draw of every chapter.
``STARCONN_RANDOM_PARAMS=all`` runs every draw of every chapter (minutes to an hour: not for CI).
Every run prints its command, so a failure is reproduced by pasting it. Failures of chapters listed
in :data:`KNOWN_FAILING` make the test xfail (with the commands) instead of fail.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from starconn import config
from starconn.params import ParamError
from starconn.profiles import CHAPTERS

DRAWS = 4  # parameter sets drawn per chapter
GROUPS = 3  # rotation groups: a CI run runs the chapters of one group (about a third of the cost)
WORKERS = 2
SIZES = {"epochs", "steps", "trials", "restarts", "runs", "pairs", "search_trials", "center_epochs", "bezier_epochs",
         "star_epochs", "study_epochs", "width", "widths", "ensemble", "B_r", "B_t", "m_max"}
SCALES = {"batch_size"}  # drawn in [smoke/2, 2·smoke]: a tiny batch multiplies the steps
USER_STORE = config.cache_dir()  # read at import, before the autouse fixture isolates each test
# Chapters whose claim cell is known to fail on some valid draws (asserting claims about minima on
# networks the smoke scale does not train): their failures are reported and make the test xfail,
# not pass. Remove an entry once its chapter gates those claims on reaching minima.
KNOWN_FAILING = {
    "ngd-practical": "claim cell asserts fold_acc > linear_acc_barrier on untrained networks "
                     "(e.g. resnet18-cifar10, 3 epochs, 114 images)",
    "star-vgg16-cifar10": "claim cell asserts fold_loss_barrier < linear_loss_barrier on untrained networks "
                          "(e.g. vgg16-mnist, 1 center epoch)",
}


def _is_size(name: str) -> bool:
    return name in SIZES or name.startswith("n_")


def _int(p, s: int, rng: np.random.Generator, size: bool) -> int:
    lo = int(p.low if p.low is not None else 0)
    if p.name == "seed":
        return int(rng.integers(0, 10_001))
    hi = s if size else 2 * s + 2
    if p.name in SCALES:
        lo, hi = max(lo, (s + 1) // 2), 2 * s
    hi = max(lo, min(hi, int(p.high) if p.high is not None else hi))
    return int(rng.integers(lo, hi + 1))


def _float(p, s: float, rng: np.random.Generator, size: bool) -> float:
    if s == 0:
        return 0.0
    lo, hi = s / 2, (s if size else 2 * s)
    lo = max(lo, p.low) if p.low is not None else lo
    hi = min(hi, p.high) if p.high is not None else hi
    if lo <= 0:
        return float(rng.uniform(lo, hi))
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _value(p, s, rng: np.random.Generator):
    size = _is_size(p.name)
    if p.kind is list:
        if not s:  # an empty default (e.g. no study epochs): keep it
            return s
        ints = all(isinstance(v, int) for v in s)
        top = max(s)
        vals = []
        for _ in range(int(rng.integers(1, len(s) + 2))):
            v = _int(p, int(top), rng, size) if ints else _float(p, float(rng.choice(s)), rng, size)
            if v not in vals:
                vals.append(v)
        return vals
    if p.kind is int:
        return _int(p, s, rng, size)
    if p.kind is float:
        return _float(p, s, rng, size)
    return s


def draw(chapter_id: str, index: int, tries: int = 500) -> dict:
    """Parameter set ``index`` of ``chapter_id``: a value for every parameter (so that the printed
    command reproduces the run whatever the profile's defaults become)."""
    ch = CHAPTERS[chapter_id]
    rng = np.random.default_rng([zlib.crc32(chapter_id.encode()), index])
    for _ in range(tries):
        chosen = {p.name: (p.choices[int(rng.integers(len(p.choices)))] if p.choices else bool(rng.integers(2)))
                  for p in ch.params if p.choices or p.kind is bool}
        try:
            smoke = ch.resolve("smoke", **chosen)
            given = {**chosen, **{p.name: _value(p, smoke[p.name], rng) for p in ch.params
                                  if p.name not in chosen and p.kind is not str}}
            ch.resolve("smoke", **given)  # checks the joint constraints (starconn.constraints) too
        except ParamError:
            continue
        return given
    raise AssertionError(f"{chapter_id}: no valid parameter set in {tries} draws")


def _rotation() -> int:
    env = os.environ.get("STARCONN_PARAM_ROTATION")
    return int(env) if env else dt.datetime.now(dt.timezone.utc).date().toordinal()


def _data_dir() -> Path | None:
    for root in (os.environ.get("STARCONN_DATA"), config.REPO_ROOT.parent / "shared" / "data"):
        if root and (Path(root) / "MNIST").is_dir():
            return Path(root)
    return None


def selected() -> list[tuple[str, int]]:
    """(chapter, draw) pairs this run executes."""
    ids = list(CHAPTERS)
    if os.environ.get("STARCONN_RANDOM_PARAMS") == "all":
        return [(c, i) for c in ids for i in range(DRAWS)]
    r = _rotation()
    return [(c, (r // GROUPS + zlib.crc32(c.encode())) % DRAWS) for k, c in enumerate(ids) if (k + r) % GROUPS == 0]


def command(chapter_id: str, params: dict, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "starconn", "run", chapter_id, "--profile", "smoke", "--out", str(out)]
    for k, v in params.items():
        cmd += ["-p", k, v if isinstance(v, str) else json.dumps(v)]
    return cmd


def test_draws_are_valid_seeded_and_near_smoke_scale():
    for cid, ch in CHAPTERS.items():
        for i in range(DRAWS):
            given = draw(cid, i)
            assert given == draw(cid, i)  # seeded
            cfg = ch.resolve("smoke", **given)  # valid: every Param accepts it
            smoke = ch.resolve("smoke", **{k: v for k, v in given.items() if k in {p.name for p in ch.params
                                                                                  if p.choices or p.kind is bool}})
            for p in ch.params:
                if _is_size(p.name) and p.kind is int:
                    assert cfg[p.name] <= smoke[p.name], (cid, p.name)


def test_every_chapter_runs_with_random_valid_parameters(tmp_path):
    data = _data_dir()
    store = tmp_path / "store"
    store.mkdir()
    shared = USER_STORE / "datasets"
    shared.mkdir(parents=True, exist_ok=True)
    (store / "datasets").symlink_to(shared, target_is_directory=True)  # decoded data reused, minima not
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(STARCONN_CACHE=str(store), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(config.REPO_ROOT / "src"), env.get("PYTHONPATH", "")]))
    if data is not None:
        env["STARCONN_DATA"] = str(data)
    jobs, skipped = [], []
    for cid, i in selected():
        params = draw(cid, i)
        if "setting" in CHAPTERS[cid].resolve("smoke") and data is None:
            skipped.append(cid)
            continue
        jobs.append((cid, i, command(cid, params, tmp_path / f"{cid}-{i}")))

    def run(job):
        cid, i, cmd = job
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=config.REPO_ROOT)
        return cid, i, cmd, p

    failures, known = [], []
    with ThreadPoolExecutor(WORKERS) as pool:
        for cid, i, cmd, p in pool.map(run, jobs):
            shown = " ".join(cmd[1:])
            print(f"{'ok  ' if p.returncode == 0 else 'FAIL'} {shown}")
            if p.returncode != 0 or not (Path(cmd[cmd.index("--out") + 1]) / f"{cid}.json").is_file():
                (known if cid in KNOWN_FAILING else failures).append(f"{shown}\n{p.stderr[-2000:]}")
    if skipped:
        print(f"skipped (no data; set STARCONN_DATA): {', '.join(skipped)}")
    assert not failures, "\n\n".join(failures)
    if known:
        pytest.xfail("known failures (KNOWN_FAILING):\n" + "\n\n".join(known))
