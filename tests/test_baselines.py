import pytest
import torch
from torch import nn
from torch.func import functional_call

from starconn import baselines, paths
from starconn.paths import Curve
from starconn.train import TrainConfig, params_of, train_minima


def mlp(seed, sizes=(10, 32, 24, 16, 3)):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def random_perms(p, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(p[w].shape[0], generator=g) for w, _ in baselines.linear_chain(p)[:-1]]


def test_a_permuted_copy_is_aligned_back_exactly():
    model = mlp(0)
    p = params_of(model)
    q = baselines.permute(p, random_perms(p))
    x = torch.randn(50, 10)
    # the permutation changes the weights but not the function
    assert not torch.equal(q["0.weight"], p["0.weight"])
    torch.testing.assert_close(functional_call(model, q, (x,)), functional_call(model, p, (x,)))
    aligned, info = baselines.align(p, q)
    for k in p:
        assert torch.equal(aligned[k], p[k]), k
    assert info["grad_evals"] == 0 and info["sweeps"] >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alignment_never_increases_the_distance(seed):
    a, b = params_of(mlp(seed)), params_of(mlp(seed + 100))
    perms, _ = baselines.weight_matching(a, b, seed=seed)
    aligned = baselines.permute(b, perms)
    assert paths.distance(a, aligned) <= paths.distance(a, b) + 1e-9
    # ... and every sweep of coordinate ascent is monotone: stopping after one sweep is in between
    one, _ = baselines.weight_matching(a, b, max_sweeps=1, seed=seed)
    assert paths.distance(a, aligned) <= paths.distance(a, baselines.permute(b, one)) + 1e-9
    assert paths.distance(a, baselines.permute(b, one)) <= paths.distance(a, b) + 1e-9


def test_weight_matching_rejects_non_chains():
    p = params_of(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="fully connected"):
        baselines.linear_chain(p)
    q = params_of(mlp(0))
    with pytest.raises(ValueError, match="perms"):
        baselines.permute(q, random_perms(q)[:1])


def test_bezier_endpoints_are_the_minima_and_length():
    a, c, b = (params_of(mlp(s)) for s in (0, 1, 2))
    pts = baselines.bezier(a, c, b, torch.tensor([0.0, 1.0]))
    for k in a:
        assert torch.equal(pts[k][0], a[k]) and torch.equal(pts[k][1], b[k])
    # control point at the midpoint: the curve is the straight segment (length ‖a − b‖)
    mid = {k: (a[k] + b[k]) / 2 for k in a}
    assert baselines.bezier_length(a, mid, b) == pytest.approx(paths.distance(a, b), rel=1e-6)
    # any other control point: longer, and shorter than the control polygon
    length = baselines.bezier_length(a, c, b)
    assert paths.distance(a, b) < length < paths.path_length([a, c, b])


def test_endpoint_corrected_barrier():
    # loss linear in t between the endpoints: no barrier; a bump of 1 in the middle: barrier 1
    flat = Curve([0, 0.5, 1], [1.0, 2.0, 3.0], [90.0, 80.0, 70.0])
    assert baselines.endpoint_corrected(flat) == pytest.approx((0.0, 0.0))
    bump = Curve([0, 1, 2], [1.0, 3.0, 3.0], [90.0, 50.0, 70.0])  # fold-line positions in [0, 2]
    assert baselines.endpoint_corrected(bump) == pytest.approx((1.0, 30.0))
    assert bump.loss_barrier == 3.0 and bump.acc_barrier == 50.0


@pytest.fixture(scope="module")
def pair():
    from synthetic import blobs

    d = blobs(n=400, d=10, classes=3, seed=1)

    def make(s):
        return mlp(s, (10, 32, 3))

    res = train_minima(make, [0, 1], d, TrainConfig(epochs=20, lr=1e-2, batch_size=50), progress=False)
    return d, make, [p for p, _ in res]


def test_trained_bezier_and_star_lower_their_objective(pair):
    d, make, (a, b) = pair
    ctrl, info = baselines.fit_bezier(make(0), a, b, d, epochs=3, lr=1e-2, n_t=2, batch_size=50, progress=False)
    assert info["grad_evals"] == 3 * 8 * 2 and info["wall_s"] > 0
    ev = paths.Evaluator(make(0), d.train_x, d.train_y)
    t = paths.ts(11)
    bz = ev(baselines.bezier(a, ctrl, b, t))[0]
    lin = ev(paths.segment(a, b, t))[0]
    assert bz.max() <= lin.max()
    _, sinfo = baselines.fit_star(make(0), [a, b], params_of(make(7)), d, epochs=3, lr=1e-2, B_r=1, B_t=3,
                                     batch_size=50, progress=False)
    assert sinfo["grad_evals"] == 3 * 8 * 3
    assert sinfo["objective"][-1] < sinfo["objective"][0]
    with pytest.raises(ValueError, match="star_beta"):
        baselines.fit_star(make(0), [a, b], a, d, epochs=1, lr=1e-2, beta=(2.0, 0.0), progress=False)
