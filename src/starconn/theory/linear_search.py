"""Numerical search for centers of deep linear networks: minimise the exact integrated risk.

J(θ*) = Σ_i ∫_0^1 R((1 − t)θ_i + tθ*) dt is computed exactly from the coefficients of P(t) − Q
(:func:`starconn.theory.linear.integrated_risk`), in torch float64, and minimised with L-BFGS from
random starts. J(θ*) = 0 iff θ* is a common (star) center of the θ_i.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .linear import Mats, integrated_risk, product




def project_first_layer(mats: list, Q):
    """Move A_1 onto {A_L ⋯ A_1 = Q} given A_2..A_L: A_1 + Cᵀ(CCᵀ)⁻¹(Q − CA_1), C = A_L ⋯ A_2.

    Differentiable (torch); needs C of full row rank (k <= m)."""
    C = product(mats[1:]) if len(mats) > 2 else mats[1]
    A1 = mats[0] + C.T @ torch.linalg.solve(C @ C.T, Q - C @ mats[0])
    return [A1] + list(mats[1:])


def search_center(minima: Sequence[Mats], Q: np.ndarray, Sigma: np.ndarray, restarts: int,
                  seed: int = 0, on_manifold: bool = False, max_iter: int = 500,
                  progress: bool = False) -> tuple[float, Mats, list[float]]:
    """min over θ* of J(θ*) = Σ_i ∫_0^1 R((1 − t)θ_i + tθ*) dt, by L-BFGS from ``restarts`` random
    starts. J(θ*) = 0 iff θ* is a common center. ``on_manifold`` restricts θ* to minima (first
    layer projected). Returns (best J, best θ*, J of every restart)."""
    from tqdm import tqdm

    Qt, St = torch.as_tensor(Q, dtype=torch.float64), torch.as_tensor(Sigma, dtype=torch.float64)
    feet = [[torch.as_tensor(A, dtype=torch.float64) for A in th] for th in minima]
    scales = [float(np.mean([np.sqrt((np.asarray(th[l]) ** 2).mean()) for th in minima])) for l in range(len(minima[0]))]
    gen = torch.Generator().manual_seed(seed)

    def center_of(vars_):
        return project_first_layer(vars_, Qt) if on_manifold else vars_

    def J(vars_):
        c = center_of(vars_)
        return sum(integrated_risk(th, c, Qt, St) for th in feet)

    values, best, best_c = [], math.inf, None
    for _ in tqdm(range(restarts), desc="center search", disable=not progress, mininterval=1):
        vars_ = [(torch.randn(A.shape, generator=gen, dtype=torch.float64) * s).requires_grad_(True)
                 for A, s in zip(feet[0], scales)]
        opt = torch.optim.LBFGS(vars_, lr=1, max_iter=max_iter, tolerance_grad=1e-14,
                                tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            val = J(vars_)
            val.backward()
            return val

        try:
            opt.step(closure)
            with torch.no_grad():
                val = float(J(vars_))
        except RuntimeError:  # singular projection: a bad start
            val = math.inf
        if not math.isfinite(val):
            val = math.inf
        values.append(val)
        if val < best:
            best = val
            with torch.no_grad():
                best_c = [A.detach().numpy().copy() for A in center_of(vars_)]
    return best, best_c, values
