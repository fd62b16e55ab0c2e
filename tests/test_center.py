import pytest
import torch
from torch import nn

from starconn import paths
from starconn.center import CenterConfig, find_center, initial_center
from starconn.train import TrainConfig, params_of, train_minima


def wide(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))


@pytest.fixture(scope="module")
def minima():
    from synthetic import blobs

    d = blobs(n=600, d=10, classes=3, seed=1)
    res = train_minima(wide, [0, 1, 2], d, TrainConfig(epochs=40, lr=1e-2, batch_size=50), progress=False)
    return d, [p for p, _ in res]


def test_center_beats_linear_interpolation(minima):
    d, feet = minima
    center, info = find_center(wide(0), feet, d, CenterConfig(epochs=20, lr=1e-2, batch_size=50), progress=False)
    ev = paths.Evaluator(wide(0), d.train_x, d.train_y)
    linear = [paths.linear_curve(ev, feet[i], feet[j], 11).loss_barrier for i, j in [(0, 1), (0, 2), (1, 2)]]
    spokes = [paths.linear_curve(ev, f, center, 11) for f in feet]
    fold = [paths.fold_curve(spokes[i], spokes[j]).loss_barrier for i, j in [(0, 1), (0, 2), (1, 2)]]
    assert max(fold) < min(linear), (fold, linear)
    assert info["objective"][-1] < info["objective"][0]


def test_penalty_pulls_the_center_towards_the_feet(minima):
    d, feet = minima
    cfg = dict(epochs=5, lr=1e-2, batch_size=50)
    free, free_info = find_center(wide(0), feet[:2], d, CenterConfig(**cfg), progress=False)
    tied, tied_info = find_center(wide(0), feet[:2], d, CenterConfig(lam=1e-1, **cfg), progress=False)
    assert paths.ngd_bound(feet[0], tied, feet[1]) < paths.ngd_bound(feet[0], free, feet[1])
    # J = risk + penalty: without a penalty they coincide, with one J exceeds the risk every epoch
    assert free_info["objective"] == free_info["risk"]
    assert all(j > r for j, r in zip(tied_info["objective"], tied_info["risk"]))


def test_initialisations(minima):
    _, feet = minima
    mean = initial_center(feet, "mean")
    torch.testing.assert_close(mean["0.weight"], sum(f["0.weight"] for f in feet) / 3)
    assert torch.equal(initial_center(feet, "foot")["0.weight"], feet[0]["0.weight"])
    fresh = initial_center(feet, "fresh", lambda: params_of(wide(7)))
    assert torch.equal(fresh["0.weight"], params_of(wide(7))["0.weight"])
    with pytest.raises(ValueError, match="init must be one of mean, foot, fresh"):
        initial_center(feet, "zero")
