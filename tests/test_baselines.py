import pytest
import torch
from torch import nn
from torch.func import functional_call

from starconn import baselines, models, paths
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
    return [torch.randperm(n, generator=g) for n in baselines.chain_spec(p).sizes]


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
    p = params_of(nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(6, 2)))
    with pytest.raises(ValueError, match="reads 6 inputs but the previous layer has 5 outputs"):
        baselines.chain_spec(p)
    q = params_of(mlp(0))
    with pytest.raises(ValueError, match="perms"):
        baselines.permute(q, random_perms(q)[:1])


# ---------------------------------------------------------------------------------------------
# Weight matching for conv nets with BatchNorm (VGG16)


def vgg(seed):
    return models.build("vgg16", width=0.0625, seed=seed)


def vgg_perms(spec, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=g) for n in spec.sizes]


def test_vgg_spec_acts_on_conv_bn_and_head_axes():
    model = vgg(0)
    spec = baselines.permutation_spec(model)
    assert spec.sizes == (4, 4, 8, 8, 16, 16, 16, 32, 32, 32, 32, 32, 32)  # 13 conv layers' channels
    assert spec.axes["features.0.weight"] == (0, None, None, None)  # first conv: inputs are the image's
    assert spec.axes["features.3.weight"] == (1, 0, None, None)  # next conv: out by π1, in by π0
    assert spec.axes["features.1.weight"] == spec.axes["features.1.bias"] == (0,)  # BatchNorm follows its conv
    assert spec.axes["classifier.weight"] == (None, 12) and spec.axes["classifier.bias"] == (None,)
    # the spec read from the parameters alone (dict order) is the same
    assert baselines.chain_spec(params_of(model)) == spec
    # and the fully connected network's spec is the old chain: one permutation per hidden layer
    fnn = models.build("fnn", width=0.05, seed=0)
    assert baselines.permutation_spec(fnn).sizes == (25, 15)


def test_a_channel_permuted_vgg_computes_the_same_function_and_is_aligned_back_exactly():
    model = vgg(0)
    with torch.no_grad():  # non-trivial BatchNorm statistics, part of the state permuted with the channels
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    spec = baselines.permutation_spec(model, state)
    assert spec.axes["features.1.running_mean"] == (0,) and spec.axes["features.1.num_batches_tracked"] == ()
    perms = vgg_perms(spec)
    permuted = baselines.permute(state, perms, spec)
    assert not torch.equal(permuted["features.0.weight"], state["features.0.weight"])
    twin = vgg(1)
    twin.load_state_dict(permuted)
    x = torch.randn(6, 3, 32, 32)
    model.eval(), twin.eval()
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x), rtol=1e-4, atol=1e-5)
    # parameters only (as stored): BatchNorm statistics recomputed at the point give the same loss
    p = params_of(model)
    q = baselines.permute(p, perms, baselines.permutation_spec(model))
    y = torch.randint(0, 10, (6,))
    ev = paths.Evaluator(vgg(2), x, y, bn_x=torch.randn(20, 3, 32, 32), batch_size=6)
    (lp, ap), (lq, aq) = ev.single(p), ev.single(q)
    assert lq == pytest.approx(lp, rel=1e-4) and aq == ap
    # weight matching recovers the original exactly, with the statistics in the dict or without
    aligned, info = baselines.align(state, permuted, spec=spec)
    for k in state:
        assert torch.equal(aligned[k], state[k]), k
    aligned, _ = baselines.align(p, q)
    for k in p:
        assert torch.equal(aligned[k], p[k]), k
    assert info["sweeps"] >= 1


@pytest.mark.parametrize("seed", [0, 1])
def test_vgg_alignment_never_increases_the_distance(seed):
    a, b = params_of(vgg(seed)), params_of(vgg(seed + 100))
    spec = baselines.chain_spec(a)
    perms, _ = baselines.weight_matching(a, b, seed=seed, spec=spec)
    aligned = baselines.permute(b, perms, spec)
    assert paths.distance(a, aligned) < paths.distance(a, b)
    one, _ = baselines.weight_matching(a, b, max_sweeps=1, seed=seed, spec=spec)
    assert paths.distance(a, aligned) <= paths.distance(a, baselines.permute(b, one, spec)) + 1e-9
    assert paths.distance(a, baselines.permute(b, one, spec)) <= paths.distance(a, b) + 1e-9


def test_resnets_are_refused_with_a_clear_error():
    model = models.build("resnet18", width=0.0625, seed=0)
    with pytest.raises(ValueError, match="resnet18.*residual"):
        baselines.permutation_spec(model, name="resnet18")
    with pytest.raises(ValueError, match="chain of Linear/Conv"):  # the parameters alone do not chain either
        baselines.chain_spec(params_of(model))
    # the chapter's computation refuses it before training anything, naming the setting
    from types import SimpleNamespace

    s = SimpleNamespace(cfg=SimpleNamespace(setting="resnet18-cifar10"), model_name="resnet18",
                        make_model=lambda seed: models.build("resnet18", width=0.0625, seed=seed))
    with pytest.raises(ValueError, match="setting 'resnet18-cifar10' \\(network resnet18\\).*residual"):
        baselines.compare(s, progress=False)
    with pytest.raises(ValueError, match="perms"):
        spec = baselines.permutation_spec(vgg(0))
        baselines.permute(params_of(vgg(0)), [torch.arange(n + 1) for n in spec.sizes], spec)


def test_the_chapter_offers_only_settings_weight_matching_handles():
    from starconn.params import ParamError
    from starconn.practical import SETTINGS
    from starconn.profiles import baselines as prof

    ch = prof.CHAPTERS[0]
    for setting in prof.SETTINGS:
        name, _ = SETTINGS[setting]
        baselines.permutation_spec(models.build(name, width=0.0625, seed=0, **({} if name == "fnn" else
                                                                               {"in_channels": 1})))
        for profile in ("smoke", "cpu", "paper"):
            cfg = ch.resolve(profile, setting=setting)
            assert cfg.bezier_epochs == cfg.star_epochs == cfg.center_epochs  # the center's budget
    assert ch.resolve("smoke").setting == "fnn-mnist"
    with pytest.raises(ParamError, match="setting"):
        ch.resolve("smoke", setting="resnet18-cifar10")


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
