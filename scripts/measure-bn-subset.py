"""How much BatchNorm statistics from a fixed subset of the training set (``STARCONN_BN_EXAMPLES``,
a GPU lever of ``starconn.levers``) change the measured path numbers, against the whole set.

At the ``cpu`` profile of ``star-vgg16-cifar10`` (VGG16 ×1/8, the first 1000 CIFAR-10 training
examples, 3 minima and their center from the store): every straight line θi → θj and every
fold-line θi → θ* → θj at ``--points`` points per segment, evaluated with the statistics
recomputed on all the training examples and on subsets of them; printed as a Markdown table of the
largest change of loss and accuracy over all points and of the change of the mean barriers.

    STARCONN_CACHE=... STARCONN_DATA=... OMP_NUM_THREADS=1 python scripts/measure-bn-subset.py \
        [--center FILE.safetensors] [--points 11] [--subsets 100 200 500]

``--center`` takes the center's tensors from a file (e.g. a snapshot of an unfinished search)
instead of the store (where a missing center is searched for: an hour on 2 cores).
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

from safetensors.torch import load_file

from starconn import paths, practical
from starconn.profiles import chapter


def curves(s: practical.Setup, feet: list, center: dict, n: int) -> dict[str, paths.Curve]:
    ev = s.evaluator("train", path_points=True)
    out = {f"linear {i + 1}-{j + 1}": paths.linear_curve(ev, feet[i], feet[j], n)
           for i, j in itertools.combinations(range(len(feet)), 2)}
    spokes = [paths.linear_curve(ev, f, center, n) for f in feet]
    out.update({f"fold {i + 1}-{j + 1}": paths.fold_curve(spokes[i], spokes[j])
                for i, j in itertools.combinations(range(len(feet)), 2)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--center", default=None, help="the center's tensors (default: the store's center)")
    ap.add_argument("--points", type=int, default=11)
    ap.add_argument("--subsets", type=int, nargs="+", default=[100, 200, 500])
    args = ap.parse_args(argv)
    t0 = time.time()
    cfg = chapter("star-vgg16-cifar10").resolve("cpu")
    s = practical.setup(cfg)
    seeds = [cfg.seed + i for i in range(cfg.n_minima)]
    minima = practical.get_minima(s, seeds)
    feet = [p for p, _ in minima]
    if args.center:
        center, what = load_file(args.center), f"center from {args.center}"
    else:
        center, info = practical.get_center(s, feet, [practical.minimum_key(s, sd) for sd in seeds], cfg.lam)
        what = f"the store's center (train loss {info['train_loss']:.3g}, accuracy {info['train_acc']:.2f} %)"
    os.environ.pop("STARCONN_BN_EXAMPLES", None)
    full = curves(s, feet, center, args.points)
    accs = ", ".join(f"{info['train_acc']:.2f}" for _, info in minima)
    print(f"VGG16 ×{cfg.width:g}, {s.data.n_train} CIFAR-10 training examples ({s.data.source}); minima: train "
          f"accuracy {accs} %; {what}; {args.points} points per segment\n")
    at_minima = [(k, i) for k in full if k.startswith("linear") for i in (0, -1)]  # the minima: both ends
    print("| BatchNorm statistics from | max \\|Δ loss\\| over all points | max \\|Δ accuracy\\| (pp) | max "
          "\\|Δ loss\\| at the minima (loss there) | Δ mean linear barrier, loss / acc (pp) | Δ mean fold-line "
          "barrier, loss / acc (pp) |")
    print("|---|---|---|---|---|---|")
    mean = lambda cs, attr: sum(getattr(c, attr) for c in cs) / len(cs)
    for n in args.subsets:
        os.environ["STARCONN_BN_EXAMPLES"] = str(n)
        sub = curves(s, feet, center, args.points)
        dl = max(abs(a - b) for k in full for a, b in zip(full[k].loss, sub[k].loss))
        da = max(abs(a - b) for k in full for a, b in zip(full[k].acc, sub[k].acc))
        dm = max(abs(full[k].loss[i] - sub[k].loss[i]) for k, i in at_minima)
        lm = max(full[k].loss[i] for k, i in at_minima)
        cells = [f"{dm:.2g} (≤ {lm:.2g})"]
        for kind in ("linear", "fold"):
            f = [c for k, c in full.items() if k.startswith(kind)]
            g = [c for k, c in sub.items() if k.startswith(kind)]
            cells.append(f"{mean(g, 'loss_barrier') - mean(f, 'loss_barrier'):+.3g} / "
                         f"{mean(g, 'acc_barrier') - mean(f, 'acc_barrier'):+.2f} "
                         f"(of {mean(f, 'loss_barrier'):.3g} / {mean(f, 'acc_barrier'):.2f})")
        print(f"| {n} of {s.data.n_train} | {dl:.3g} | {da:.2f} | {' | '.join(cells)} |")
    print(f"\n{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
