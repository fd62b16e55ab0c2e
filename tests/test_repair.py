"""REPAIR (starconn.repair): what it must leave alone, what it must restore, and where it applies."""
import pytest
import torch

from starconn import models, paths, repair
from starconn.train import params_of
from synthetic import blobs, mlp


def _x(n=500, d=10, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_two_identical_networks_are_left_unchanged():
    model = mlp(0)
    a = params_of(model)
    pts = repair.repaired_segment(model, a, a, paths.ts(5), _x())
    for k, v in a.items():
        assert torch.allclose(pts[k], v.expand_as(pts[k]), atol=1e-5, rtol=1e-5), k


def test_the_endpoints_are_the_two_networks():
    model = mlp(0)
    a, b = params_of(model), params_of(mlp(1))
    pts = repair.repaired_segment(model, a, b, torch.tensor([0.0, 1.0]), _x())
    for k in a:
        assert torch.allclose(pts[k][0], a[k], atol=1e-5) and torch.allclose(pts[k][1], b[k], atol=1e-5), k


def test_the_repaired_units_have_the_interpolated_statistics():
    model, x, t = mlp(0), _x(), 0.3
    a, b = params_of(model), params_of(mlp(1))
    raw = {k: torch.lerp(a[k], b[k], t) for k in a}
    want = repair.target_stats(repair.statistics(model, a, x), repair.statistics(model, b, x), t)
    got = repair.statistics(model, repair.repair(model, raw, want, x), x)
    before = repair.statistics(model, raw, x)
    for layer, (mu, sd) in want.items():
        assert torch.allclose(got[layer][0], mu, atol=1e-4) and torch.allclose(got[layer][1], sd, atol=1e-4), layer
    # the straight line itself does not have them (interpolating unrelated units shrinks their spread)
    assert any((before[k][1] - want[k][1]).abs().max() > 1e-2 for k in want)


def test_repair_undoes_a_rescaling_that_the_straight_line_does_not():
    """θb is θa with every unit of the first hidden layer scaled by c (incoming weights and bias × c,
    outgoing weights / c): the same function. Along the straight line the second layer's
    pre-activations are k·(z − bias) + bias with k = ((1−t) + tc)((1−t) + t/c) > 1, an affine
    distortion of θa's that REPAIR removes exactly: the repaired network computes θa's function."""
    model, x, c, t = mlp(0), _x(), 4.0, 0.5
    a = params_of(model)
    b = dict(a)
    b["0.weight"], b["0.bias"], b["2.weight"] = a["0.weight"] * c, a["0.bias"] * c, a["2.weight"] / c
    f = lambda p: torch.func.functional_call(model, p, (x,))
    assert torch.allclose(f(a), f(b), atol=1e-4)  # the same function
    raw = {k: torch.lerp(a[k], b[k], t) for k in a}
    fixed = {k: v[0] for k, v in repair.repaired_segment(model, a, b, torch.tensor([t]), x).items()}
    assert (f(raw) - f(a)).abs().max() > 0.1  # the straight line computes another function
    assert torch.allclose(f(fixed), f(a), atol=1e-4)  # REPAIR restores θa's


def test_repair_lowers_the_midpoint_loss_of_two_unrelated_networks():
    """Two networks trained from different seeds, not aligned: the interpolated units mix unrelated
    features and their spread collapses; restoring it lowers the loss at the midpoint (here ~5×)."""
    from starconn.train import TrainConfig, train_minima

    d = blobs(n=500, d=8, classes=8, seed=1)
    make = lambda s: mlp(s, (8, 32, 32, 8))
    (a, _), (b, _) = train_minima(make, [0, 1], d, TrainConfig(epochs=30, lr=1e-2, batch_size=50), progress=False)
    ev = paths.Evaluator(make(0), d.train_x, d.train_y)
    t = torch.tensor([0.5])
    raw = float(ev(paths.segment(a, b, t))[0][0])
    fixed = float(ev(repair.repaired_segment(make(0), a, b, t, d.train_x))[0][0])
    assert fixed < raw / 2, (fixed, raw)


def test_networks_with_batchnorm_or_convolutions_are_refused():
    with pytest.raises(ValueError, match="BatchNorm networks recompute their statistics"):
        repair.hidden_layers(models.build("vgg16", width=0.0625, seed=0))
    with pytest.raises(ValueError, match="needs hidden layers"):
        repair.hidden_layers(torch.nn.Linear(3, 2))
    assert repair.hidden_layers(models.build("fnn", width=0.1, seed=0)) == ["net.1", "net.3"]
