"""Weight matching (``starconn.matching``): permutation specifications, permutations, alignment."""
import pytest
import torch
from torch import nn
from torch.func import functional_call

from starconn import matching, models, paths
from starconn.train import params_of
from synthetic import mlp


def random_perms(p, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=g) for n in matching.chain_spec(p).sizes]


def test_a_permuted_copy_is_aligned_back_exactly():
    model = mlp(0)
    p = params_of(model)
    q = matching.permute(p, random_perms(p))
    x = torch.randn(50, 10)
    # the permutation changes the weights but not the function
    assert not torch.equal(q["0.weight"], p["0.weight"])
    torch.testing.assert_close(functional_call(model, q, (x,)), functional_call(model, p, (x,)))
    aligned, info = matching.align(p, q)
    for k in p:
        assert torch.equal(aligned[k], p[k]), k
    assert info["grad_evals"] == 0 and info["sweeps"] >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alignment_never_increases_the_distance(seed):
    a, b = params_of(mlp(seed)), params_of(mlp(seed + 100))
    perms, _ = matching.weight_matching(a, b, seed=seed)
    aligned = matching.permute(b, perms)
    assert paths.distance(a, aligned) <= paths.distance(a, b) + 1e-9
    # ... and every sweep of coordinate ascent is monotone: stopping after one sweep is in between
    one, _ = matching.weight_matching(a, b, max_sweeps=1, seed=seed)
    assert paths.distance(a, aligned) <= paths.distance(a, matching.permute(b, one)) + 1e-9
    assert paths.distance(a, matching.permute(b, one)) <= paths.distance(a, b) + 1e-9


def test_weight_matching_rejects_non_chains():
    p = params_of(nn.Sequential(nn.Linear(10, 5), nn.ReLU(), nn.Linear(6, 2)))
    with pytest.raises(ValueError, match="reads 6 inputs but the previous layer has 5 outputs"):
        matching.chain_spec(p)
    q = params_of(mlp(0))
    with pytest.raises(ValueError, match="perms"):
        matching.permute(q, random_perms(q)[:1])


# Weight matching for conv nets with BatchNorm (VGG16)


def vgg(seed):
    return models.build("vgg16", width=0.0625, seed=seed)


def vgg_perms(spec, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=g) for n in spec.sizes]


def test_vgg_spec_acts_on_conv_bn_and_head_axes():
    model = vgg(0)
    spec = matching.permutation_spec(model)
    assert spec.sizes == (4, 4, 8, 8, 16, 16, 16, 32, 32, 32, 32, 32, 32)  # 13 conv layers' channels
    assert spec.axes["features.0.weight"] == (0, None, None, None)  # first conv: inputs are the image's
    assert spec.axes["features.3.weight"] == (1, 0, None, None)  # next conv: out by π1, in by π0
    assert spec.axes["features.1.weight"] == spec.axes["features.1.bias"] == (0,)  # BatchNorm follows its conv
    assert spec.axes["classifier.weight"] == (None, 12) and spec.axes["classifier.bias"] == (None,)
    # the spec read from the parameters alone (dict order) is the same
    assert matching.chain_spec(params_of(model)) == spec
    # and the fully connected network's spec is the old chain: one permutation per hidden layer
    fnn = models.build("fnn", width=0.05, seed=0)
    assert matching.permutation_spec(fnn).sizes == (25, 15)


def test_a_channel_permuted_vgg_computes_the_same_function_and_is_aligned_back_exactly():
    model = vgg(0)
    with torch.no_grad():  # non-trivial BatchNorm statistics, part of the state permuted with the channels
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    spec = matching.permutation_spec(model, state)
    assert spec.axes["features.1.running_mean"] == (0,) and spec.axes["features.1.num_batches_tracked"] == ()
    perms = vgg_perms(spec)
    permuted = matching.permute(state, perms, spec)
    assert not torch.equal(permuted["features.0.weight"], state["features.0.weight"])
    twin = vgg(1)
    twin.load_state_dict(permuted)
    x = torch.randn(6, 3, 32, 32)
    model.eval(), twin.eval()
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x), rtol=1e-4, atol=1e-5)
    # parameters only (as stored): BatchNorm statistics recomputed at the point give the same loss
    p = params_of(model)
    q = matching.permute(p, perms, matching.permutation_spec(model))
    y = torch.randint(0, 10, (6,))
    ev = paths.Evaluator(vgg(2), x, y, bn_x=torch.randn(20, 3, 32, 32), batch_size=6)
    (lp, ap), (lq, aq) = ev.single(p), ev.single(q)
    assert lq == pytest.approx(lp, rel=1e-4) and aq == ap
    # weight matching recovers the original exactly, with the statistics in the dict or without
    aligned, info = matching.align(state, permuted, spec=spec)
    for k in state:
        assert torch.equal(aligned[k], state[k]), k
    aligned, _ = matching.align(p, q)
    for k in p:
        assert torch.equal(aligned[k], p[k]), k
    assert info["sweeps"] >= 1


@pytest.mark.parametrize("seed", [0, 1])
def test_vgg_alignment_never_increases_the_distance(seed):
    a, b = params_of(vgg(seed)), params_of(vgg(seed + 100))
    spec = matching.chain_spec(a)
    perms, _ = matching.weight_matching(a, b, seed=seed, spec=spec)
    aligned = matching.permute(b, perms, spec)
    assert paths.distance(a, aligned) < paths.distance(a, b)
    one, _ = matching.weight_matching(a, b, max_sweeps=1, seed=seed, spec=spec)
    assert paths.distance(a, aligned) <= paths.distance(a, matching.permute(b, one, spec)) + 1e-9
    assert paths.distance(a, matching.permute(b, one, spec)) <= paths.distance(a, b) + 1e-9


def test_resnets_are_refused_with_a_clear_error():
    model = models.build("resnet18", width=0.0625, seed=0)
    with pytest.raises(ValueError, match="resnet18.*residual"):
        matching.permutation_spec(model, name="resnet18")
    with pytest.raises(ValueError, match="chain of Linear/Conv"):  # the parameters alone do not chain either
        matching.chain_spec(params_of(model))
    with pytest.raises(ValueError, match="perms"):
        spec = matching.permutation_spec(vgg(0))
        matching.permute(params_of(vgg(0)), [torch.arange(n + 1) for n in spec.sizes], spec)
