"""Path evaluation: loss and accuracy of n points of a segment on a whole split, vmapped over the
points (``starconn.paths.Evaluator``) against one point after the other (written here)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from starconn.models import FNN
from starconn.paths import Evaluator, segment, ts
from starconn.train import params_of

from _common import Ctx, Row, compare


@torch.no_grad()
def point_by_point(model, points, x, y, batch_size: int = 10000) -> torch.Tensor:
    n = next(iter(points.values())).shape[0]
    out = torch.zeros(n, 2, dtype=torch.float64)
    for i in range(n):
        p = {k: v[i] for k, v in points.items()}
        loss = correct = 0.0
        for s in range(0, len(y), batch_size):
            logits = functional_call(model, p, (x[s : s + batch_size],))
            loss += float(F.cross_entropy(logits, y[s : s + batch_size], reduction="sum"))
            correct += float((logits.argmax(-1) == y[s : s + batch_size]).sum())
        out[i] = torch.tensor([loss / len(y), 100 * correct / len(y)])
    return out


def run(ctx: Ctx) -> list[Row]:
    data = ctx.data
    n = 11 if ctx.quick else 21
    model = FNN().to(ctx.device).eval()
    torch.manual_seed(1)
    a, b = params_of(FNN()), params_of(FNN())
    points = {k: v.to(ctx.device) for k, v in segment(a, b, ts(n)).items()}
    x, y = data.test_x, data.test_y
    ev = Evaluator(model, x, y)

    def batched():
        loss, acc = ev(points)
        return torch.stack([loss, acc], 1)

    few = {k: v[:2] for k, v in points.items()}
    warm_ev = Evaluator(model, x[:400], y[:400])
    (t_a, t_b), (c_a, c_b), (ra, rb) = compare(
        [lambda: point_by_point(model, points, x, y), batched], ctx.device, ctx.repeats,
        warm=[lambda: point_by_point(model, few, x[:400], y[:400]), lambda: warm_ev(few)])
    diff = float((ra[:, 0] - rb[:, 0]).abs().max())
    return [Row("path evaluation", f"FNN, {n} points of a segment, loss + accuracy on {len(y)} test examples",
                "one point at a time", f"vmapped, {ev.points_per_call} points per call (Evaluator)", t_a, t_b,
                f"max |Δloss| = {diff:.1e}", c_a, c_b)]
