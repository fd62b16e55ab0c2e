"""REPAIR (Jordan, Sedghi, Saukh, Entezari, Neyshabur 2022, *REPAIR: REnormalizing Permuted
Activations for Interpolation Repair*) for fully connected ReLU networks.

Interpolating two networks θa, θb (after weight matching) shrinks the spread of the hidden units'
pre-activations ("variance collapse"), which by itself raises the loss along the segment. REPAIR
restores every hidden unit's statistics at the interpolated point: for each hidden layer l (every
Linear layer but the last) and unit k, with z_lk(x) its pre-activation on input x,

* μ^a_lk, σ^a_lk and μ^b_lk, σ^b_lk: the mean and standard deviation of z_lk over the statistics
  data X (training examples) in the networks θa and θb;
* the targets at position t: μ_lk(t) = (1−t)·μ^a_lk + t·μ^b_lk, σ_lk(t) = (1−t)·σ^a_lk + t·σ^b_lk;
* in the interpolated network θ(t) = (1−t)θa + tθb, layer by layer from the input (each layer sees
  the already repaired layers before it), the actual mean μ'_lk and deviation σ'_lk of z_lk over X,
  and the affine correction z ↦ (z − μ')·σ(t)/σ' + μ(t), folded into the layer's weights and bias:
  W_l ← diag(s) W_l, b_l ← s ⊙ (b_l − μ') + μ(t) with s = σ(t)/σ' (s = 1 where σ' = 0: a dead unit
  keeps its scale and gets its mean).

The repaired network θ̃(t) is a plain network of the same architecture; θ̃(0) = θa and θ̃(1) = θb
(the targets are the endpoints' own statistics), but in between θ̃(t) is in general *not* on the
segment θa → θb. Statistics are population statistics over X (standard deviation with 1/|X|).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from .paths import Params

Stats = dict[str, tuple[torch.Tensor, torch.Tensor]]  # hidden Linear layer -> (mean, std) per unit


def hidden_layers(model: nn.Module) -> list[str]:
    """The names of the Linear layers whose outputs are hidden units (every Linear but the last).
    ``ValueError`` for networks REPAIR-by-folding does not handle here: layers with parameters other
    than Linear with bias (convolutions, BatchNorm: those nets recompute BatchNorm statistics instead)."""
    linears, others = [], []
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            linears.append(name)
        elif next(m.parameters(recurse=False), None) is not None:
            others.append(f"{name} ({type(m).__name__})")
    if others:
        raise ValueError(f"REPAIR here handles fully connected networks (Linear layers only); {type(model).__name__} "
                         f"has {', '.join(others)}: BatchNorm networks recompute their statistics at every point instead")
    if len(linears) < 2:
        raise ValueError(f"REPAIR needs hidden layers; {type(model).__name__} has {len(linears)} Linear layer(s)")
    return linears[:-1]


def _run(model: nn.Module, p: Params, x: torch.Tensor, on_layer) -> None:
    """One forward pass of θ on ``x`` with ``on_layer(name, z) -> z`` applied to each hidden layer's output."""
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_hook(lambda m, inp, out, n=n: on_layer(n, out)) for n in hidden_layers(model)]
    try:
        functional_call(model, p, (x,))
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def statistics(model: nn.Module, p: Params, x: torch.Tensor) -> Stats:
    """Mean and (population) standard deviation over ``x`` of every hidden unit's pre-activation in θ."""
    out: Stats = {}

    def record(name, z):
        out[name] = (z.mean(0), z.std(0, unbiased=False))
        return z

    _run(model, p, x, record)
    return out


@torch.no_grad()
def repair(model: nn.Module, p: Params, targets: Stats, x: torch.Tensor) -> Params:
    """θ with every hidden unit's pre-activation renormalised, layer by layer, to the ``targets``'
    mean and standard deviation over ``x`` (the affine correction folded into weights and biases)."""
    out = dict(p)

    def correct(name, z):
        mu, sd = z.mean(0), z.std(0, unbiased=False)
        mu_t, sd_t = targets[name]
        s = torch.where(sd > 0, sd_t / sd.clamp_min(torch.finfo(sd.dtype).tiny), torch.ones_like(sd))
        out[f"{name}.weight"] = p[f"{name}.weight"] * s[:, None]
        out[f"{name}.bias"] = s * (p[f"{name}.bias"] - mu) + mu_t
        return (z - mu) * s + mu_t  # what the folded layer computes: the next layer sees the repaired units

    _run(model, p, x, correct)
    return out


def target_stats(a: Stats, b: Stats, t: float) -> Stats:
    """The REPAIR targets at position t: each unit's mean and deviation interpolated (1−t)·a + t·b."""
    return {k: ((1 - t) * a[k][0] + t * b[k][0], (1 - t) * a[k][1] + t * b[k][1]) for k in a}


def repaired_segment(model: nn.Module, a: Params, b: Params, ts: torch.Tensor, x: torch.Tensor) -> Params:
    """Stacked repaired networks θ̃(t) for each t in ``ts``: θ(t) = (1−t)θa + tθb renormalised to the
    interpolated statistics of θa and θb over ``x`` (the points' leading dimension is len(ts))."""
    sa, sb = statistics(model, a, x), statistics(model, b, x)
    points = []
    for t in ts.tolist():
        theta = {k: torch.lerp(a[k], b[k], t) for k in a}
        points.append(repair(model, theta, target_stats(sa, sb, t), x))
    return {k: torch.stack([q[k] for q in points]) for k in a}
