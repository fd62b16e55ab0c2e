"""Weight matching (Ainsworth, Hayase, Srinivasa 2023, *Git Re-Basin*): permute the hidden units of
θ2 — which does not change the function it computes — so that π(θ2) is as close as possible to θ1.

A permutation specification says which axes of which tensors each permutation of hidden units
acts on (as in Git Re-Basin's ``PermutationSpec``). It is derived from the parameters of a
*chain* of layers — Linear or Conv layers, each with its bias and an optional per-channel
normalisation (BatchNorm) after it, each layer reading the previous layer's output — so the
fully connected network and VGG16 share one algorithm: permutation l reorders the output units
(channels) of layer l, i.e. axis 0 of its weight, its bias and the normalisation's tensors, and
axis 1 (input units / channels) of layer l + 1's weight. The last layer's outputs are the
network's and stay in place.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import fx, nn

from .paths import Params


@dataclass(frozen=True)
class PermSpec:
    """For every tensor, per axis, the index of the permutation acting on it (None: none);
    ``sizes[i]``: the number of units permutation i reorders."""

    axes: dict[str, tuple[int | None, ...]]
    sizes: tuple[int, ...]

    def acting(self, i: int) -> list[tuple[str, int]]:
        """The (tensor, axis) pairs permutation ``i`` acts on."""
        return [(k, d) for k, ax in self.axes.items() for d, j in enumerate(ax) if j == i]


def _describe(p: Params) -> str:
    return ", ".join(f"{k} {tuple(v.shape)}" for k, v in p.items())


def chain_spec(p: Params) -> PermSpec:
    """The permutation specification of a chain of Linear / Conv layers, read from the names and
    shapes of its parameters (in the dict's order, the layers' order).

    Tensors are grouped by module (the name up to its last dot). A module with one tensor of ≥ 2
    dimensions (its ``weight``: Linear (out, in), Conv (out, in, k…)) is a layer, whose other
    tensors are 1-D of its output size (bias) or scalars; a module with only 1-D tensors (and
    scalars: BatchNorm's weight, bias and, if present, running statistics) is a per-channel layer
    acting on the previous layer's outputs. Raises ``ValueError`` unless every layer's input size
    is the previous layer's output size."""
    def bad(why: str) -> ValueError:
        return ValueError(f"weight matching needs a chain of Linear/Conv layers (each with its bias and an optional "
                          f"per-channel BatchNorm, each reading the previous layer's output): {why}; got parameters "
                          f"{_describe(p)}")

    groups: dict[str, list[str]] = {}
    for k in p:
        groups.setdefault(k.rpartition(".")[0], []).append(k)
    layers: list[list[str]] = []  # per layer: its weight, then every tensor on its output axis
    outs: list[int] = []
    for module, names in groups.items():
        big = [k for k in names if p[k].dim() >= 2]
        if big:
            w = big[0]
            if len(big) > 1 or not w.endswith("weight"):
                raise bad(f"module {module!r} has several multi-dimensional tensors")
            if layers and p[w].shape[1] != outs[-1]:
                raise bad(f"{w} reads {p[w].shape[1]} inputs but the previous layer has {outs[-1]} outputs")
            layers.append([w])
            outs.append(p[w].shape[0])
        elif not layers:
            raise bad(f"module {module!r} ({', '.join(names)}) comes before the first layer")
        for k in names:
            if k == layers[-1][0]:
                continue
            if p[k].dim() > 1 or (p[k].dim() == 1 and p[k].shape[0] != outs[-1]):
                raise bad(f"{k} {tuple(p[k].shape)} is not per-channel for {outs[-1]} channels")
            layers[-1].append(k)
    if len(layers) < 2:
        raise bad("fewer than two layers, no hidden units to permute")
    axes: dict[str, tuple[int | None, ...]] = {}
    last = len(layers) - 1
    for l, names in enumerate(layers):
        w, rest = names[0], names[1:]
        out_perm = l if l < last else None
        axes[w] = (out_perm, l - 1 if l > 0 else None) + (None,) * (p[w].dim() - 2)
        for k in rest:
            axes[k] = (out_perm,) * p[k].dim()
    return PermSpec({k: axes[k] for k in p}, tuple(outs[:-1]))


def permutation_spec(model: nn.Module, p: Params | None = None, name: str | None = None) -> PermSpec:
    """The permutation specification of ``model``'s tensors ``p`` (default: its parameters), after
    checking, from the model's traced computation (``torch.fx``), that the network *is* a chain:
    every intermediate result feeds exactly one operation, and the layers with parameters are
    Linear, ungrouped Conv, BatchNorm or LayerNorm. Residual networks (ResNets) fail this — a skip
    connection ties the permutations of every layer it joins — and raise ``ValueError`` naming
    ``name`` (default: the model's class)."""
    name = name or type(model).__name__
    p = p if p is not None else {k: v.detach() for k, v in model.named_parameters()}

    class Leaves(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return next(m.children(), None) is None

    def bad(why: str) -> ValueError:
        return ValueError(f"weight matching: {name} is not supported ({why}); it handles chains of Linear/Conv "
                          "layers with BatchNorm (the FNN, VGG16), not residual networks such as the ResNets")

    try:
        graph = Leaves().trace(model)
    except Exception as err:  # any tracing failure means: not a plain chain
        raise bad(f"its forward pass cannot be traced: {err}") from err
    order = []
    modules = dict(model.named_modules())
    allowed = (nn.Linear, nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm, nn.LayerNorm)
    for node in graph.nodes:
        if node.op not in ("placeholder", "output") and len(node.users) != 1:
            users = ", ".join(u.name for u in node.users) or "nothing"
            raise bad(f"the result of `{node.name}` feeds {len(node.users)} operations ({users}): "
                      "a residual connection or a branch, whose permutations are tied")
        if len([a for a in node.all_input_nodes if a.op != "get_attr"]) > 1:
            raise bad(f"`{node.name}` combines several intermediate results (a residual connection)")
        if node.op == "get_attr":
            raise bad(f"`{node.target}` is used outside a layer")
        if node.op == "call_module":
            m = modules[node.target]
            if any(True for _ in m.parameters(recurse=False)):
                if not isinstance(m, allowed) or getattr(m, "groups", 1) != 1:
                    raise bad(f"layer `{node.target}` ({type(m).__name__}) mixes channels in a way a permutation "
                              "of whole channels does not follow")
                order.append(node.target)
    prefixes = {k.rpartition(".")[0] for k in p}
    unused = prefixes - set(order)
    if unused:
        raise bad(f"tensors of {sorted(unused)} belong to no layer of the traced computation")
    ordered = {k: p[k] for m in order for k in p if k.rpartition(".")[0] == m}
    spec = chain_spec(ordered)
    return PermSpec({k: spec.axes[k] for k in p}, spec.sizes)


def _apply(t: torch.Tensor, ax: tuple[int | None, ...], perms: list[torch.Tensor], skip: int | None = None):
    for d, j in enumerate(ax):
        if j is not None and j != skip:
            t = t.index_select(d, perms[j].to(t.device))
    return t


def permute(p: Params, perms: list[torch.Tensor], spec: PermSpec | None = None) -> Params:
    """θ with the hidden units (channels) of layer l reordered by ``perms[l]`` (unit i of the result
    is unit ``perms[l][i]`` of θ); the network computes the same function. ``spec``: which axes
    each permutation acts on (default: :func:`chain_spec` of θ)."""
    spec = spec or chain_spec(p)
    if len(perms) != len(spec.sizes):
        raise ValueError(f"perms: need one permutation per hidden layer ({len(spec.sizes)}); got {len(perms)}")
    for i, (q, n) in enumerate(zip(perms, spec.sizes)):
        if q.shape != (n,) or not torch.equal(torch.sort(q.cpu()).values, torch.arange(n)):
            raise ValueError(f"perms: entry {i} must be a permutation of {n} units; got shape {tuple(q.shape)}")
    return {k: _apply(v, spec.axes[k], perms) for k, v in p.items()}


def weight_matching(a: Params, b: Params, max_sweeps: int = 100, seed: int = 0,
                    spec: PermSpec | None = None) -> tuple[list[torch.Tensor], dict]:
    """Permutations π of θb's hidden units that (locally) maximise ⟨θa, π(θb)⟩, hence minimise
    ‖θa − π(θb)‖ (Git Re-Basin's weight matching). For one permutation, with the others fixed,
    ⟨θa, π(θb)⟩ is Σ_ij C[i, j]·[π maps unit j to i] + const with C = Σ over every tensor axis it
    acts on (weights — conv kernels flattened —, biases, BatchNorm tensors, the next layer's
    incoming weights) of A_axis B_axisᵀ; ``linear_sum_assignment`` maximises it. Each step is kept
    only if it raises the inner product, so ‖θa − π(θb)‖ never increases, and the sweeps (over the
    permutations in random order) end when none changes."""
    spec = spec or chain_spec(a)
    A = {k: v.detach().double().cpu() for k, v in a.items()}
    B = {k: v.detach().double().cpu() for k, v in b.items()}
    perms = [torch.arange(n) for n in spec.sizes]
    acting = [spec.acting(i) for i in range(len(perms))]
    rng = np.random.default_rng(seed)
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in rng.permutation(len(perms)):
            n = spec.sizes[i]
            C = torch.zeros(n, n, dtype=torch.float64)  # C[u, v]: unit u of θa against unit v of θb
            for k, d in acting[i]:
                Wa = A[k].movedim(d, 0).reshape(n, -1)
                Wb = _apply(B[k], spec.axes[k], perms, skip=i).movedim(d, 0).reshape(n, -1)
                C += Wa @ Wb.T
            _, cols = linear_sum_assignment(C.numpy(), maximize=True)
            rows = torch.arange(n)
            gain = float(C[rows, torch.as_tensor(cols)].sum() - C[rows, perms[i]].sum())
            if gain > 1e-12 * float(C.abs().sum()):
                perms[i], changed = torch.as_tensor(cols), True
        if not changed:
            break
    device = next(iter(b.values())).device
    return [q.to(device) for q in perms], {"sweeps": sweep}


def align(a: Params, b: Params, seed: int = 0, spec: PermSpec | None = None) -> tuple[Params, dict]:
    """π(θb), θb with its hidden units permuted to match θa; ``info`` has the sweeps and wall time."""
    t0 = time.time()
    spec = spec or chain_spec(a)
    perms, info = weight_matching(a, b, seed=seed, spec=spec)
    return permute(b, perms, spec), {**info, "wall_s": time.time() - t0, "grad_evals": 0}
