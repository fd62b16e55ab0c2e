"""Benchmarks of starconn's optimised paths against the straightforward ones, side by side.

    python benchmarks/run.py [--device cpu|cuda] [--quick] [--repeats N] [--threads N] [--only NAME]
                             [--json FILE]

For each lever of issue 5 it times the straightforward way and starconn's way on the same work and
prints a Markdown table of the speed-up (straightforward time ÷ optimised time; > 1 means starconn's
way is faster) together with how far the two results are apart (they compute the same thing):

* ``train``   training k minima: vmapped ensemble vs a loop of k single trainings
* ``center``  one center-finding epoch: vmapped B_t interpolations vs a loop over them
* ``paths``   path evaluation: n stacked points vmapped vs point by point
* ``feeding`` data feeding: device tensors + ``starconn.data.batches`` vs a ``DataLoader``
* ``layout``  conv-net inputs channels_last vs NCHW (VGG16 ensemble training; a GPU lever)
* ``steps``   a training step, a center step and a path point of VGG16 and the FNN at the paper's
  scale (on CUDA): eager levers (fused / foreach Adam, inference_mode, a larger evaluation batch,
  BatchNorm statistics from a subset, the vmapped ensemble), with achieved model FLOP/s and MFU
* ``compile`` the same steps under ``torch.compile`` and, on CUDA, CUDA graphs

``steps`` and ``compile`` run first: ``scripts/device-run.sh`` (``BENCH=1``) gives the benchmarks a
time budget, and the JSON is rewritten after each benchmark, so what finished is kept.

"results agree" compares what the two ways return. The trainings and center searches use the same
seeds, minibatches and random draws, so they differ only by float32 rounding; Adam divides each
gradient coordinate by √v, so in coordinates whose gradient is below Adam's ε those last-bit
differences become visible and grow over a few hundred steps (after 5 steps they agree to 1e-6;
in float64 the gradients agree to 1e-19).

Times are medians of ``--repeats`` runs after a warm-up, the ways interleaved so that a shared
machine's load falls on all alike. On a CPU the table also gives the ratio of process CPU times,
which other users of a shared machine disturb less than wall time (use ``--threads 1`` there). MNIST is read from ``STARCONN_DATA`` when it is there (random
MNIST-shaped tensors otherwise). ``--quick`` (smaller work, 2 repeats): a few minutes on two CPU
cores, but ``compile`` adds inductor's compilations (1-8 minutes each on a loaded 2-core machine,
cached under /tmp/torchinductor_*; ``--only`` leaves it out). The ``steps`` and ``compile`` rows
time a step as (t(2 epochs) − t(1 epoch)) / steps (``bench_steps.py``), not interleaved. These are
scripts, not tests: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import bench_center  # noqa: E402
import bench_compile  # noqa: E402
import bench_feeding  # noqa: E402
import bench_layout  # noqa: E402
import bench_paths  # noqa: E402
import bench_steps  # noqa: E402
import bench_train  # noqa: E402
from _common import Ctx, load_data, machine, peak_bf16  # noqa: E402

BENCHES = {"steps": bench_steps, "compile": bench_compile, "train": bench_train, "center": bench_center,
           "paths": bench_paths, "feeding": bench_feeding, "layout": bench_layout}


def _rate(x: float, cuda: bool) -> str:
    if x != x:
        return "—"
    return f"{x / 1e12:.1f} T" if cuda else f"{x / 1e9:.2f} G"


def table(rows, device) -> str:
    cpu, peak = device.type == "cpu", peak_bf16(device)
    head = ("| benchmark | straightforward | optimised | straightforward (s) | optimised (s) | speed-up (wall) |"
            " model FLOP/s |")
    rule = "|---|---|---|---:|---:|---:|---:|"
    if peak == peak:
        head, rule = head + " MFU (bf16 peak) |", rule + "---:|"
    if cpu:
        head, rule = head + " speed-up (CPU time) |", rule + "---:|"
    out = [head + " results agree |", rule + "---|"]
    for r in rows:
        rates = f"{_rate(r.rate(r.t_straight), not cpu)} → {_rate(r.rate(r.t_opt), not cpu)}"
        line = (f"| {r.name} | {r.straight} | {r.optimised} | {r.t_straight:.4g} | {r.t_opt:.4g} | "
                f"**{r.speedup:.2f}×** | {rates if r.flops == r.flops else '—'} |")
        if peak == peak:
            line += (f" {100 * r.rate(r.t_straight) / peak:.1f} % → {100 * r.rate(r.t_opt) / peak:.1f} % |"
                     if r.flops == r.flops else " — |")
        if cpu:
            line += f" {r.cpu_speedup:.2f}× |"
        out.append(line + f" {r.agree} |")
    return "\n".join(out)


def write_json(path: Path, head: list[str], rows, device) -> None:
    """The machine and every row so far (rewritten after each benchmark: a run stopped by a time
    limit keeps what finished). ``meta`` of the steps' rows is what ``starconn.gpuplan`` reads."""
    peak = peak_bf16(device)
    data = [dict(r.__dict__, speedup=r.speedup, cpu_speedup=r.cpu_speedup, rate_straight=r.rate(r.t_straight),
                 rate_opt=r.rate(r.t_opt), mfu_straight=r.rate(r.t_straight) / peak, mfu_opt=r.rate(r.t_opt) / peak)
            for r in rows]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"machine": head, "device": device.type, "peak_bf16": peak, "rows": data}, indent=1,
                              default=str))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="smaller work and 2 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs of each way (default 3, quick 2)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--only", action="append", choices=tuple(BENCHES), help="run only these (repeatable)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows and the machine as JSON")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("run.py: error: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n_train, n_test = (1000, 1000) if args.quick else (10000, 10000)
    data, note, root = load_data(device, n_train, n_test)
    ctx = Ctx(device=device, quick=args.quick, repeats=args.repeats or (2 if args.quick else 3), data=data,
              data_note=note, mnist_root=root)
    head = machine(device) + [f"data: {note}", f"mode: {'quick' if args.quick else 'full'}, "
                              f"median of {ctx.repeats} interleaved repeats after a warm-up"]
    for line in head:
        print(line)
    print(flush=True)
    rows, workloads, t0 = [], [], time.perf_counter()
    signal.signal(signal.SIGTERM, _stop)  # `timeout` (device-run.sh): print the table of what finished
    try:
        _run(args, ctx, head, device, rows, workloads)
    except KeyboardInterrupt:
        print(f"stopped by a signal after {time.perf_counter() - t0:.0f} s: the rows below are what finished\n")
    print(table(rows, device))
    print()
    print("Workloads:")
    for w in workloads:
        print(f"- {w}")
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")
    return 0


def _stop(signum, frame):
    raise KeyboardInterrupt


def _run(args, ctx: Ctx, head: list[str], device, rows: list, workloads: list) -> None:
    for name in args.only or BENCHES:
        t, got = time.perf_counter(), []
        for r in BENCHES[name].run(ctx):  # a list, or a generator of rows (each kept as it comes)
            got.append(r)
            rows.append(r)
            if r.workload not in workloads:
                workloads.append(r.workload)
            if args.json:
                write_json(args.json, head, rows, device)
        print(f"[{name}: {time.perf_counter() - t:.1f} s]  "
              + "; ".join(f"{r.straight} → {r.optimised}: {r.speedup:.2f}×" for r in got),
              file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
