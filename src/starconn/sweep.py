"""``python -m starconn sweep``: a grid of chapter runs fanned out on Dask.

    python -m starconn sweep CHAPTER [--profile P] [-p NAME VALUE]... [--out DIR]
                             [--scheduler ADDRESS | --workers N]

Repeating ``-p NAME VALUE`` with the same NAME gives that parameter several values; the grid is the
product over the names (``-p seed 0 -p seed 1 -p width 1 -p width 2`` is four runs). Every grid
point is validated (``runner.validate``, i.e. ``Chapter.resolve``) before anything is submitted: a
bad name or value is the usual one-line error with exit code 2, and no cluster is started.

Each grid point is one Dask task, which runs ``python -m starconn run CHAPTER --profile P -p NAME
VALUE… --out OUT/<run>`` (the README's command, by this interpreter) in a fresh process (so runs
never share a process, an environment or a CUDA context) and writes
``OUT/<run>/<chapter>.{ipynb,json}`` and ``OUT/<run>/run.log``. By default the tasks go to a
``distributed.LocalCluster`` (one single-threaded worker per visible GPU, each run pinned to its
worker's GPU; one worker on a CPU-only machine unless ``--workers`` says otherwise, the CPU threads
shared out between the workers); ``--scheduler tcp://HOST:8786`` sends them to a running Dask
cluster instead (its workers need starconn installed, the data, and ``--out`` on a shared file
system). The results JSON of every run comes back to the client, which prints a table of the
chapter's figures of merit (the keys of its ``paper`` numbers) and writes ``OUT/sweep.json``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from . import config, runner
from .errors import ParamError, SweepError
from .params import PROFILE
from .profiles import chapter as get_chapter

try:  # Dask is needed by `sweep` only; without it, sweep() says what to install
    import distributed
except ImportError:
    distributed = None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("chapter")
    p.add_argument("--profile", help=PROFILE.allowed())
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="a grid value; repeat a NAME for several values (the grid is the product over names)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: STARCONN_OUT/sweep-CHAPTER)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="LocalCluster workers (default: one per visible GPU, else 1)")


def axes(pairs: list[tuple[str, str]] | None) -> dict[str, list[str]]:
    """``-p`` pairs grouped by name in the order given, each name's values without repeats."""
    out: dict[str, list[str]] = {}
    for name, raw in pairs or []:
        values = out.setdefault(name, [])
        if raw not in values:
            values.append(raw)
    return out


def plan(chapter_id: str, profile: str | None, pairs: list[tuple[str, str]] | None) -> list[dict]:
    """Every grid point validated (ParamError on the first bad one); nothing is run.

    Returns ``[{"run", "raw", "params", "profile"}, ...]``: the run's directory name, its ``-p``
    strings, their parsed values, and the profile.
    """
    grid = axes(pairs)
    points = []
    for i, combo in enumerate(itertools.product(*grid.values())):
        raw = dict(zip(grid, combo))
        resolved_profile, params = runner.validate(chapter_id, profile, list(raw.items()))
        slug = "_".join(f"{k}-{v}" for k, v in raw.items()) or "default"
        slug = re.sub(r"[^A-Za-z0-9.=+-]+", "_", slug)[:80].strip("_")
        points.append({"run": f"{i:03d}-{slug}", "raw": raw, "params": params, "profile": resolved_profile})
    return points


def run_point(chapter_id: str, profile: str, raw: dict[str, str], out: str, pin: dict | None = None) -> dict:
    """The Dask task: ``python -m starconn run`` in a fresh process with the ``-p`` strings ``raw``;
    returns the run's results JSON or its error."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    if pin:
        try:
            index = int(distributed.get_worker().name)
        except (AttributeError, ValueError, TypeError):
            index = 0
        if pin.get("gpus"):
            env["CUDA_VISIBLE_DEVICES"] = str(pin["gpus"][index % len(pin["gpus"])])
        if pin.get("threads"):
            env.setdefault("OMP_NUM_THREADS", str(pin["threads"]))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "starconn", "run", chapter_id, "--profile", profile, "--out", str(out_dir)]
    for name, value in raw.items():
        cmd += ["-p", name, value]
    t0 = time.perf_counter()
    with open(out_dir / "run.log", "w") as log:
        code = subprocess.call(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(config.REPO_ROOT))
    wall = time.perf_counter() - t0
    result_file = out_dir / f"{chapter_id}.json"
    if code == 0 and result_file.exists():
        return {"status": "ok", "wall_s": wall, "result": json.loads(result_file.read_text())}
    lines = [ln for ln in (out_dir / "run.log").read_text(errors="replace").splitlines() if ln.strip()]
    return {"status": "failed", "wall_s": wall, "error": lines[-1] if lines else f"exit code {code}"}


def _local_cluster(workers: int | None):
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",") if v.strip()] if visible is not None else None
    gpus = (ids or [str(i) for i in range(torch.cuda.device_count())])[: torch.cuda.device_count()]
    n = workers or max(1, len(gpus))
    threads = None if gpus else max(1, (os.cpu_count() or 1) // n)
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    return cluster, {"gpus": gpus, "threads": threads}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        s = "[" + ", ".join(_fmt(x) for x in v[:4]) + (", …" if len(v) > 4 else "") + "]"
        return s
    if isinstance(v, dict):
        return "{…}"
    return str(v)


def table(chapter_id: str, records: list[dict]) -> str:
    """Markdown table: one row per run with its grid values, status, wall time and figures of merit."""
    names = list(dict.fromkeys(k for r in records for k in r["raw"]))
    metrics = list(dict.fromkeys(k for numbers in get_chapter(chapter_id).paper.values() for k in numbers))
    for r in records:
        for k in (r.get("result") or {}).get("paper", {}):
            if k not in metrics:
                metrics.append(k)
    head = ["run", *names, "status", "wall_s", *metrics]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        got = (r.get("result") or {}).get("metrics", {})
        cells = [r["run"][:3], *(r["raw"].get(n, "") for n in names), r["status"], _fmt(r.get("wall_s", math.nan)),
                 *(_fmt(got[m]) if m in got else "" for m in metrics)]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(rows)


def sweep(chapter_id: str, profile: str | None, pairs: list[tuple[str, str]] | None, out: Path,
          scheduler: str | None = None, workers: int | None = None) -> list[dict]:
    """Validate the grid, run every point as one Dask task, gather, write ``out/sweep.json``."""
    points = plan(chapter_id, profile, pairs)  # raises ParamError before any cluster exists
    if workers is not None and workers < 1:
        raise ParamError(f"--workers must be an integer >= 1; got {workers}")
    if distributed is None:
        raise SweepError("sweep needs Dask: pip install 'dask[distributed]'")
    out = out.expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    cluster, pin = (None, None) if scheduler else _local_cluster(workers)
    t0 = time.perf_counter()
    try:
        client = distributed.Client(scheduler or cluster, timeout="20s")
    except OSError as err:
        raise SweepError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None
    with client:
        where = scheduler or f"LocalCluster, {len(cluster.workers)} workers"
        print(f"sweep {chapter_id} ({points[0]['profile']}): {len(points)} runs on {where} -> {out}",
              file=sys.stderr)
        futures = {}
        for pt in points:
            fut = client.submit(run_point, chapter_id, pt["profile"], pt["raw"], str(out / pt["run"]), pin,
                                key=f"starconn-{chapter_id}-{pt['run']}-{time.time_ns()}", pure=False)
            futures[fut] = pt
        records = {}
        for fut in distributed.as_completed(futures):
            pt = futures[fut]
            try:
                res = fut.result()
            except Exception as err:  # noqa: BLE001 - a worker died; report it with the run
                res = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
            records[pt["run"]] = {"run": pt["run"], "raw": pt["raw"], "params": pt["params"],
                                  "out": str(out / pt["run"]), **res}
            print(f"  {pt['run']}: {res['status']}" + (f" ({res['error']})" if res["status"] != "ok" else ""),
                  file=sys.stderr)
    if cluster is not None:
        cluster.close()
    ordered = [records[pt["run"]] for pt in points]
    summary = {"chapter": chapter_id, "profile": points[0]["profile"], "grid": axes(pairs),
               "scheduler": scheduler or "LocalCluster", "wall_s": time.perf_counter() - t0, "runs": ordered}
    (out / "sweep.json").write_text(json.dumps(summary, indent=1, default=str))
    return ordered


def main(args: argparse.Namespace) -> int:
    out = args.out or config.out_dir() / f"sweep-{args.chapter}"
    try:
        records = sweep(args.chapter, args.profile, args.param, Path(out), args.scheduler, args.workers)
    except SweepError as err:
        print(f"starconn: error: {err}", file=sys.stderr)
        return 1
    print(table(args.chapter, records))
    print(f"wrote {Path(out).expanduser().resolve() / 'sweep.json'}")
    return 0 if all(r["status"] == "ok" for r in records) else 1
