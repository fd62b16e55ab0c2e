"""The K-piece geodesic estimate (``starconn.geodesic``): it finds the straight segment where the
minima set is convex, and it never returns a path above the requested level."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from starconn import geodesic as G
from starconn.data import Dataset
from starconn.theory.linear import DeepLinear


def _dataset(x, y, name):
    return Dataset(name, x, y, x, y, "synthetic", num_classes=0)


def _least_squares():
    """y = Xw* with a rank-3 design in 6 dimensions: the minima {w : Xw = y} are the affine
    subspace w* + null(X), so every segment between two minima lies in it: the geodesic within
    the minima set is the straight segment, NGD = 1."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 6, generator=g, dtype=torch.float64)
    w_star = torch.randn(1, 6, generator=g, dtype=torch.float64)
    y = (X @ w_star.T).squeeze(1)
    null = torch.linalg.svd(X).Vh[3:]  # (3, 6): an orthonormal basis of null(X)
    model = nn.Linear(6, 1, bias=False).double()
    net = nn.Sequential(model, nn.Flatten(0))

    def point(v):
        return {"0.weight": v.reshape(1, 6)}

    a = point(w_star + 2.0 * null[0])
    b = point(w_star - 2.0 * null[0] + 1.0 * null[1])
    center = point(w_star + 0.25 * null[0] + 0.5 * null[1] + 3.0 * null[2])  # a minimum far off the segment
    data = _dataset(X, y, "rank-deficient-ls")
    return net, a, b, center, data, G.regression_loss(net, X, y)


def test_subdivide_keeps_the_path():
    a, c, b = ({"w": torch.tensor([float(v), 0.0])} for v in (0, 1, 3))
    c["w"][1] = 1.0
    verts = G.subdivide([a, c, b], 4)
    assert len(verts) == 5
    assert G.length(verts) == pytest.approx(G.length([a, c, b]))
    assert torch.equal(verts[2]["w"], c["w"])
    with pytest.raises(ValueError, match="multiple"):
        G.subdivide([a, c, b], 3)


def test_dense_points_spacing_does_not_depend_on_K():
    a, b = {"w": torch.zeros(1)}, {"w": torch.ones(1)}
    s2, p2 = G.dense_points(G.subdivide([a, b], 2), 40)
    s8, p8 = G.dense_points(G.subdivide([a, b], 8), 40)
    assert len(s2) == len(s8) == 41
    assert torch.allclose(p2["w"], p8["w"])


def test_convex_minima_set_gives_ngd_one():
    """Started from a fold-line through a minimum far from the segment (NGD ≈ 1.77), K = 2 and 4 return
    NGD = 1 within 2e-3 at the level ε = 1e-3·L₀ (L₀ = mean y²): the chain straightens onto the
    geodesic of the minima set."""
    net, a, b, center, data, loss_of = _least_squares()
    start_ngd = G.length([a, center, b]) / G.distance(a, b)
    assert start_ngd > 1.7
    cfg = G.ChainConfig(epochs=150, lr=0.05, batch_size=16)
    eps = 1e-3 * float((data.train_y ** 2).mean())
    for K in (2, 4):
        est = G.estimate(net, a, b, [a, center, b], K, data, eps, cfg, loss_of, 40, F.mse_loss, progress=False)
        assert est.candidates[0].feasible  # the start lies in the minima set: feasible
        assert est.feasible and est.barrier <= est.level
        assert est.ngd == pytest.approx(1.0, abs=2e-3), (K, est.ngd)


def _hyperbola():
    """f(x) = w2·w1·x with y = x: the minima are the hyperbola w1·w2 = 1. θ1 = (2, ½), θ2 = (½, 2);
    the fold-line through (1, 1) rises to loss ≈ 0.0156, the straight line to ≈ 0.32."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 1, generator=g, dtype=torch.float64)
    net = DeepLinear(1, 1, 2, 1).double()

    def point(w1, w2):
        return {"layers.0.weight": torch.tensor([[w1]], dtype=torch.float64),
                "layers.1.weight": torch.tensor([[w2]], dtype=torch.float64)}

    data = _dataset(x, x, "hyperbola")
    return net, point(2.0, 0.5), point(0.5, 2.0), point(1.0, 1.0), data, G.regression_loss(net, x, x)


def test_never_returns_a_path_above_the_level():
    """A level no K-piece chord can meet (1e-12 above the minima): no path, no NGD, although the
    optimiser ran; every candidate it saw was above the level."""
    net, a, b, c, data, loss_of = _hyperbola()
    cfg = G.ChainConfig(epochs=20, lr=0.02, batch_size=64, rounds=2)
    est = G.estimate(net, a, b, [a, c, b], 2, data, 1e-12, cfg, loss_of, 40, F.mse_loss, progress=False)
    assert len(est.candidates) == 3  # the start and two rounds
    assert all(not c.feasible and c.barrier > est.level for c in est.candidates)
    assert not est.feasible and est.vertices is None and math.isnan(est.ngd)


def test_binding_level_is_met_and_costs_length():
    """A level below the fold-line's barrier (1e-3 above the minima): the returned path meets it
    at its dense points and, checked again 25 times more densely, stays within 10 % of ε above it;
    the straight segment crosses a barrier 300 times the level; and the path's length is within
    1 % of the geodesic's on the minima set, the arc of the hyperbola (1.0673 × ‖θ1 − θ2‖)."""
    net, a, b, c, data, loss_of = _hyperbola()
    eps = 1e-3
    cfg = G.ChainConfig(epochs=60, lr=0.02, batch_size=64)
    est = G.estimate(net, a, b, [a, c, b], 8, data, eps, cfg, loss_of, 40, F.mse_loss, progress=False)
    assert not est.candidates[0].feasible  # the fold-line's barrier is above the level
    assert est.feasible and est.barrier <= est.level
    assert max(G.profile(loss_of, est.vertices, 1000).loss) <= est.level + 0.1 * eps
    assert G.profile(loss_of, [a, b], 40).barrier > 300 * est.level
    u = torch.linspace(-math.log(2), math.log(2), 100001, dtype=torch.float64)
    arc = float(torch.trapezoid(torch.sqrt(2 * torch.cosh(2 * u)), u)) / math.hypot(1.5, 1.5)  # w1 = e^u, w2 = e^-u
    assert est.ngd == pytest.approx(arc, rel=0.01)


def test_control_variate_keeps_the_mean_and_lowers_the_variance():
    """L̂_B of the chain's hinge, with the round's start path as control variate: on the start path it
    is the whole-set loss exactly, whatever the batch; on a path moved off it, averaged over a
    partition of the training set into batches it is the whole-set loss (the control variate has
    mean zero), and its spread over the batches is below 30 % of the plain minibatch loss's. Data:
    y = x + noise, so every network keeps a loss on each example."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(256, 1, generator=g, dtype=torch.float64)
    y = x + 0.5 * torch.randn(256, 1, generator=g, dtype=torch.float64)
    net, data = DeepLinear(1, 1, 2, 1).double(), _dataset(x, y, "noisy-line")
    loss_of = G.regression_loss(net, x, y)

    def point(w1, w2):
        return {"layers.0.weight": torch.tensor([[w1]], dtype=torch.float64),
                "layers.1.weight": torch.tensor([[w2]], dtype=torch.float64)}

    a, b, K, n_points = point(2.0, 0.5), point(0.5, 2.0), 2, 8
    start = [a, point(1.0, 1.0), b]
    ref = torch.tensor(G.profile(loss_of, start, n_points).loss[1:]).reshape(K, G.grid(n_points, K))
    fit = G.ChainFit(net, a, b, G.stack(start[1:-1]), ref, data, K, 0.0, 1e-3, 1.0,
                     G.FitConfig(1, 0.01, 32, "cosine", 0), 2, F.mse_loss)
    j = torch.tensor([[1, 3], [2, 4]])
    batches = [slice(i, i + 32) for i in range(0, 256, 32)]
    on_start = torch.stack([fit.batch_losses(fit.ref, j, x[i], y[i]) for i in batches])
    assert torch.allclose(on_start, loss_of(fit.at(fit.ref, j)).expand_as(on_start), rtol=1e-6)
    V = G.stack([point(1.1, 0.95)])  # the path moved by 0.11
    whole = loss_of(fit.at(V, j))
    hat = torch.stack([fit.batch_losses(V, j, x[i], y[i]) for i in batches])
    plain = torch.stack([fit.loss_of(fit.at(V, j), x[i], y[i]).double() for i in batches])
    assert torch.allclose(hat.mean(0), whole, rtol=1e-6)
    assert torch.allclose(plain.mean(0), whole, rtol=1e-6)
    assert (hat.std(0) < 0.3 * plain.std(0)).all(), (hat.std(0), plain.std(0))


def test_bad_input_is_refused():
    net, a, b, c, data, loss_of = _hyperbola()
    with pytest.raises(ValueError, match="eps"):
        G.estimate(net, a, b, [a, c, b], 2, data, 0.0, G.ChainConfig(epochs=1, lr=0.01), loss_of, 10, F.mse_loss)
    with pytest.raises(ValueError, match="margin"):
        G.ChainConfig(epochs=1, lr=0.01, margin=1.0)


# ---------------------------------------------------------------------------------------------
# The chapter (geodesic_widths): the same minima and centers as the source chapters; the claim check

from starconn import geodesic_widths as GW  # noqa: E402
from starconn.constraints import pieces  # noqa: E402
from starconn.params import Config, ParamError  # noqa: E402
from starconn.profiles import chapter  # noqa: E402
from starconn.theory import linear_chapters as lc  # noqa: E402
from starconn.theory import relu_chapters as rc  # noqa: E402


def test_relu_and_linear_cases_are_the_source_chapters_pairs():
    """The chapter's first ReLU and linear pairs have the fold-line bound their own chapters report
    (same minima, same center): smoke profile, one pair, the first width."""
    cfg = chapter("geodesic-estimate").resolve("smoke", relu_widths=[8], linear_widths=[4], fnn_widths=[])
    relu = next(GW.cases("relu", cfg))
    ref = rc.ngd_vs_width(chapter("relu-ngd-sgd").resolve("smoke", widths=[8], n_pairs=1))["rows"][0]["ngd"]
    assert G.length([relu.a, relu.center, relu.b]) / G.distance(relu.a, relu.b) == pytest.approx(ref, rel=1e-12)
    lin = next(GW.cases("linear", cfg))
    ref = lc.ngd_vs_width(chapter("linear-ngd").resolve("smoke", widths=[4], runs=1), progress=False)["rows"][0]["ngd"][0]
    assert G.length([lin.a, lin.center, lin.b]) / G.distance(lin.a, lin.b) == pytest.approx(ref, rel=1e-12)
    assert list(GW.cases("fnn-mnist", cfg)) == []


def _estimate(K, ngd, start, feasible=True, barrier=5e-4, level=1e-3):
    return {"K": K, "level": level, "feasible": feasible, "ngd": ngd if feasible else math.nan,
            "barrier": barrier if feasible else math.nan, "handoff_ngd": ngd,
            "candidates": [{"name": "start", "ngd": start, "barrier": 1e-2, "feasible": False, "mu": None}]}


def _pair(width, k2, k8, fold=1.2, k2_start=None, k8_start=None, **kw):
    """A pair with a 2-piece estimate (None: no path at the level, handing on a path of NGD 1.3)
    and an 8-piece one started from the path the 2-piece estimate handed on."""
    p = GW.PairResult("relu", width, 0, 32, 1.0, 1.0, 1e-9, 1e-3, fold, 1e-2, 5e-2)
    e2 = _estimate(2, 1.3 if k2 is None else k2, fold if k2_start is None else k2_start, feasible=k2 is not None)
    e8 = _estimate(8, k8, e2["handoff_ngd"] if k8_start is None else k8_start, feasible=k8 is not None, **kw)
    p.estimates = {2: e2, 8: e8}
    return p


def _cfg(profile="cpu", widths=(8, 32)):
    return Config(chapter="geodesic-estimate", profile=profile, relu_widths=list(widths), relu_pairs=1,
                  linear_widths=[], linear_pairs=1, fnn_widths=[], fnn_pairs=1, Ks=[2, 8])


def test_claim_check_passes_a_true_case():
    sw = GW.GeodesicSweep([_pair(8, None, 1.5), _pair(32, 1.3, 1.1)], [2, 8])
    assert "falls with width" in GW.check_claims(sw, _cfg())
    assert sw.verdict("relu")["K8_falls_with_width"]
    assert sw.verdict("relu")["refined"] == "1/1"


@pytest.mark.parametrize("pairs, cfg, match", [
    ([_pair(8, None, 1.1), _pair(32, 1.3, 1.2)], _cfg(), "does not fall with width"),
    ([_pair(8, None, 1.5), _pair(32, 1.1, 1.1)], _cfg(), "did not shorten"),
    ([_pair(8, None, 1.5), _pair(32, 1.1, 1.1 - 0.5 * GW.SHORTER)], _cfg(), "did not shorten"),
    ([_pair(8, None, None), _pair(32, 1.3, 1.1)], _cfg(), "no 8-piece path"),
    ([_pair(8, None, 1.5, barrier=2e-3), _pair(32, 1.3, 1.1)], _cfg("smoke"), "above its level"),
    ([_pair(8, None, 1.5, k2_start=1.0), _pair(32, 1.3, 1.1)], _cfg("smoke"), "did not start from the fold-line"),
    ([_pair(8, None, 1.5, k8_start=1.2), _pair(32, 1.3, 1.1)], _cfg("smoke"), "did not start from the 2-piece"),
    ([_pair(8, None, 1.5)], _cfg("smoke"), "1 pairs measured, 2 requested"),
])
def test_claim_check_fails_a_false_case(pairs, cfg, match):
    with pytest.raises(AssertionError, match=match):
        GW.check_claims(GW.GeodesicSweep(pairs, [2, 8]), cfg)


def test_refinement_is_reported_not_asserted_for_the_fnn():
    """Claim (2) is asserted for the regression settings only: the same unrefined pair passes as an
    FNN pair (and is counted in the verdict) and fails as a ReLU pair."""
    pairs = [_pair(8, None, 1.5), _pair(32, 1.1, 1.1)]
    for p in pairs:
        p.setting = "fnn-mnist"
    cfg = Config(chapter="geodesic-estimate", profile="cpu", relu_widths=[], relu_pairs=1, linear_widths=[],
                 linear_pairs=1, fnn_widths=[8, 32], fnn_pairs=1, Ks=[2, 8])
    sw = GW.GeodesicSweep(pairs, [2, 8])
    assert "falls with width" in GW.check_claims(sw, cfg)
    assert sw.verdict("fnn-mnist")["refined"] == "0/1"


def test_smoke_does_not_check_the_claim():
    sw = GW.GeodesicSweep([_pair(8, None, 1.1), _pair(32, 1.3, 1.2)], [2, 8])
    assert "not checked" in GW.check_claims(sw, _cfg("smoke"))


def test_bad_parameters_are_refused_before_any_work():
    assert pieces([8, 2, 4]) == [2, 4, 8]
    ch = chapter("geodesic-estimate")
    for Ks in ([2, 3], [8], [2.5, 4], [4, 6], [1, 2]):
        with pytest.raises(ParamError, match="Ks"):
            ch.resolve("smoke", Ks=Ks)
    with pytest.raises(ParamError, match="relu_widths.*M = 4"):
        ch.resolve("smoke", relu_widths=[2, 8])
    with pytest.raises(ParamError, match="linear_widths.*integers"):
        ch.resolve("smoke", linear_widths=[2.5])
    with pytest.raises(ParamError, match="at least one setting"):
        ch.resolve("smoke", relu_widths=[], linear_widths=[], fnn_widths=[])
