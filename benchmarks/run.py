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

"results agree" compares what the two ways return. The trainings and center searches use the same
seeds, minibatches and random draws, so they differ only by float32 rounding; Adam divides each
gradient coordinate by √v, so in coordinates whose gradient is below Adam's ε those last-bit
differences become visible and grow over a few hundred steps (after 5 steps they agree to 1e-6;
in float64 the gradients agree to 1e-19).

Times are medians of ``--repeats`` runs after a warm-up, the ways interleaved so that a shared
machine's load falls on all alike. On a CPU the table also gives the ratio of process CPU times,
which other users of a shared machine disturb less than wall time (use ``--threads 1`` there). MNIST is read from ``STARCONN_DATA`` when it is there (random
MNIST-shaped tensors otherwise). ``--quick`` (smaller work, 2 repeats) finishes in under a minute
on two CPU cores. These are scripts, not tests: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import bench_center  # noqa: E402
import bench_feeding  # noqa: E402
import bench_layout  # noqa: E402
import bench_paths  # noqa: E402
import bench_train  # noqa: E402
from _common import Ctx, load_data, machine  # noqa: E402

BENCHES = {"train": bench_train, "center": bench_center, "paths": bench_paths, "feeding": bench_feeding, "layout": bench_layout}


def table(rows, cpu: bool) -> str:
    head = "| benchmark | straightforward | optimised | straightforward (s) | optimised (s) | speed-up (wall) |"
    rule = "|---|---|---|---:|---:|---:|"
    if cpu:
        head, rule = head + " speed-up (CPU time) |", rule + "---:|"
    out = [head + " results agree |", rule + "---|"]
    for r in rows:
        line = (f"| {r.name} | {r.straight} | {r.optimised} | {r.t_straight:.3f} | {r.t_opt:.3f} | "
                f"**{r.speedup:.2f}×** |")
        if cpu:
            line += f" {r.cpu_speedup:.2f}× |"
        out.append(line + f" {r.agree} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="smaller work and 2 repeats (< 1 minute on 2 CPU cores)")
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
    for name in args.only or BENCHES:
        t = time.perf_counter()
        got = BENCHES[name].run(ctx)
        rows += got
        for r in got:
            if r.workload not in workloads:
                workloads.append(r.workload)
        print(f"[{name}: {time.perf_counter() - t:.1f} s]  "
              + "; ".join(f"{r.straight} → {r.optimised}: {r.speedup:.2f}×" for r in got), file=sys.stderr, flush=True)
    print(table(rows, device.type == "cpu"))
    print()
    print("Workloads:")
    for w in workloads:
        print(f"- {w}")
    print(f"\ntotal wall time {time.perf_counter() - t0:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"machine": head, "rows": [dict(r.__dict__, speedup=r.speedup, cpu_speedup=r.cpu_speedup) for r in rows]},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
