"""The execution levers (starconn.levers): each computes what the default way computes, to a stated
tolerance, on the CPU. Tolerances are relative, ‖a − b‖ / ‖b‖ over all parameters (Adam divides by
√v, so last-bit differences of a few steps grow in coordinates with tiny gradients)."""
import warnings

import pytest
import torch
from torch import nn

from starconn import levers, paths, results
from starconn.center import CenterConfig, find_center
from starconn.errors import ParamError
from starconn.models import VGG16
from starconn.train import TrainConfig, params_of, train_minima
from synthetic import blobs, mlp

LEVER_VARS = (*levers.CHOICES, *levers.INTEGERS)


@pytest.fixture(autouse=True)
def _no_levers(monkeypatch):
    for var in LEVER_VARS:
        monkeypatch.delenv(var, raising=False)


def rel(a: dict, b: dict) -> float:
    num = sum(float(((a[k].double() - b[k].double()) ** 2).sum()) for k in b)
    return (num / sum(float((v.double() ** 2).sum()) for v in b.values())) ** 0.5


def minima(d, **kw):
    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=50, **kw)
    return [p for p, _ in train_minima(mlp, [0, 1], d, cfg, progress=False)]


def center(d, feet):
    return find_center(mlp(0), feet, d, CenterConfig(epochs=3, lr=1e-2, lam=1e-3, batch_size=50, seed=3),
                       progress=False)[0]


@pytest.fixture(scope="module")
def problem():
    d = blobs(n=600, d=10, classes=3, seed=2)  # 12 steps per epoch at batch 50
    feet = minima(d)
    return d, feet, center(d, feet)


@pytest.mark.parametrize("var,bad", [("STARCONN_COMPILE", "yes"), ("STARCONN_ADAM", "sgd"),
                                     ("STARCONN_EVAL_BATCH", "0"), ("STARCONN_BN_EXAMPLES", "-1"),
                                     ("STARCONN_INFERENCE", "2"), ("STARCONN_CHANNELS_LAST", "x"),
                                     ("STARCONN_CUDNN_BENCH", "yes")])
def test_a_bad_value_names_the_variable(monkeypatch, var, bad):
    monkeypatch.setenv(var, bad)
    with pytest.raises(ParamError, match=var):
        levers.active()


def test_active_lists_what_is_set_and_results_record_it(monkeypatch):
    assert levers.active() == {}
    monkeypatch.setenv("STARCONN_ADAM", "default")  # the default is not a lever set
    monkeypatch.setenv("STARCONN_BN_EXAMPLES", "0")
    assert levers.active() == {}
    monkeypatch.setenv("STARCONN_COMPILE", "1")
    monkeypatch.setenv("STARCONN_BN_EXAMPLES", "5000")
    assert levers.active() == {"STARCONN_COMPILE": "1", "STARCONN_BN_EXAMPLES": "5000"}
    assert results.env_info()["levers"] == levers.active()


@pytest.mark.parametrize("impl", ["foreach", "fused"])
def test_adam_implementations_train_the_same_minima_and_center(problem, monkeypatch, impl):
    """foreach and fused Adam against the default (for-loop on the CPU): ≤ 1e-6 after 36 steps."""
    d, feet, ref_center = problem
    monkeypatch.setenv("STARCONN_ADAM", impl)
    assert levers.adam_options(torch.device("cpu")) == {impl: True}
    for got, ref in zip(minima(d), feet):
        assert rel(got, ref) <= 1e-6
    assert rel(center(d, feet), ref_center) <= 1e-6


def test_fused_adam_is_guarded_by_device(monkeypatch):
    monkeypatch.setenv("STARCONN_ADAM", "fused")
    assert levers.adam_options(torch.device("cuda")) == {"fused": True}
    with pytest.warns(UserWarning, match="no fused Adam on meta"):
        assert levers.adam_options(torch.device("meta")) == {}


def test_compiled_steps_train_the_same_minima_and_center(problem, monkeypatch):
    """torch.compile's capture of the steps (vmap, functional_call, the center's draw-free objective),
    backend aot_eager (no code generation; inductor's kernels are compared by the benchmarks):
    the same minima and center as eager to ≤ 1e-6."""
    d, feet, ref_center = problem
    monkeypatch.setenv("STARCONN_COMPILE", "aot_eager")
    torch._dynamo.reset()
    for got, ref in zip(minima(d), feet):
        assert rel(got, ref) <= 1e-6
    assert rel(center(d, feet), ref_center) <= 1e-6


def test_cuda_graphs_only_on_cuda(monkeypatch):
    monkeypatch.setenv("STARCONN_COMPILE", "graphs")
    seen = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: seen.append(kw) or fn)
    assert levers.cuda_graphs(torch.device("cuda")) and not levers.cuda_graphs(torch.device("cpu"))
    levers.compiled(abs, torch.device("cuda"))
    with pytest.warns(UserWarning, match="CUDA graphs need a CUDA device"):
        levers.compiled(abs, torch.device("cpu"))
    assert [kw["mode"] for kw in seen] == ["reduce-overhead", None]
    levers.step_begin(torch.device("cpu"))  # a no-op off CUDA
    monkeypatch.setenv("STARCONN_COMPILE", "0")
    assert levers.compiled(abs, torch.device("cuda")) is abs and len(seen) == 2


def bn_net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


@pytest.fixture
def bn_points():
    a, b = params_of(bn_net(0)), params_of(bn_net(1))
    return bn_net(0), paths.segment(a, b, torch.linspace(0, 1, 4))


def test_inference_mode_evaluation_is_bit_identical(bn_points, data, monkeypatch):
    model, pts = bn_points
    got = paths.Evaluator(model, data.train_x, data.train_y, batch_size=128)(pts)
    monkeypatch.setenv("STARCONN_INFERENCE", "0")
    ref = paths.Evaluator(model, data.train_x, data.train_y, batch_size=128)(pts)
    assert all(torch.equal(g, r) for g, r in zip(got, ref))


def test_a_larger_evaluation_batch_gives_the_same_losses(bn_points, data):
    """Per-example losses are summed in float64 per batch: ≤ 1e-6 relative, accuracies equal."""
    model, pts = bn_points
    small = paths.Evaluator(model, data.train_x, data.train_y, batch_size=7)(pts)
    large = paths.Evaluator(model, data.train_x, data.train_y, batch_size=10_000)(pts)
    torch.testing.assert_close(large[0], small[0], rtol=1e-6, atol=0)
    assert torch.equal(large[1], small[1])


def test_bn_subset_is_a_fixed_subset(data):
    x = data.train_x
    a, b = paths.bn_subset(x, 100), paths.bn_subset(x, 100)
    assert len(a) == 100 and torch.equal(a, b)
    rows = {tuple(r.tolist()) for r in x}
    assert all(tuple(r.tolist()) in rows for r in a)
    assert paths.bn_subset(x, 0) is x and paths.bn_subset(x, len(x)) is x
    assert not torch.equal(a, x[:100])  # random, not the first examples


def test_bn_examples_applies_to_path_points_only(monkeypatch):
    from starconn import practical
    from starconn.profiles import chapter

    cfg = chapter("star-barriers").resolve("smoke", setting="vgg16-cifar10")
    d = blobs(n=300, d=3 * 32 * 32, classes=10, seed=0)
    d.train_x, d.test_x = d.train_x.reshape(-1, 3, 32, 32), d.test_x.reshape(-1, 3, 32, 32)
    s = practical.Setup(cfg, d, "vgg16", torch.device("cpu"))
    monkeypatch.setenv("STARCONN_BN_EXAMPLES", "50")
    monkeypatch.setenv("STARCONN_EVAL_BATCH", "64")
    ev = s.evaluator("train", path_points=True)
    assert len(ev.bn_x) == 50 and ev.batch_size == 64
    assert s.evaluator("train").bn_x is d.train_x and s.evaluator("test").bn_x is d.train_x


def test_channels_last_inputs_train_the_same_vgg16(monkeypatch):
    """A VGG16 ×1/16 ensemble of 2 on CIFAR-shaped inputs, 4 steps: channels_last inputs give the same
    members as NCHW to ≤ 1e-5 (other convolution kernels)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 3, 32, 32, generator=g), torch.randint(10, (200,), generator=g)
    from starconn.data import Dataset

    def train(xx):
        def make(seed):
            torch.manual_seed(seed)
            return VGG16(width=0.0625)
        d = Dataset("random", xx, y, xx[:50], y[:50], "random")
        return [p for p, _ in train_minima(make, [0, 1], d, TrainConfig(epochs=1, lr=1e-3, batch_size=50),
                                           progress=False)]

    for got, ref in zip(train(x.contiguous(memory_format=torch.channels_last)), train(x)):
        assert rel(got, ref) <= 1e-5


def test_cudnn_benchmark_is_set_before_steps_run(monkeypatch, data):
    monkeypatch.setenv("STARCONN_CUDNN_BENCH", "1")
    try:
        minima(data)
        assert torch.backends.cudnn.benchmark
    finally:
        monkeypatch.delenv("STARCONN_CUDNN_BENCH")
        levers.set_backends()
    assert not torch.backends.cudnn.benchmark


def test_no_lever_warns_by_default():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert levers.compiled(abs, torch.device("cpu")) is abs
        assert levers.adam_options(torch.device("cpu")) == {}
        assert levers.eval_batch(123) == 123 and levers.bn_examples() == 0 and levers.inference()
