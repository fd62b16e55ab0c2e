import pytest
import torch
from torch.func import functional_call

from starconn import models, paths
from starconn.data import Dataset
from starconn.params import ParamError
from starconn.train import TrainConfig, params_of, train_minima


def images(n=64, c=3, seed=0, classes=2) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(classes, (2 * n,), generator=g)
    x = torch.randn(2 * n, c, 32, 32, generator=g) + 1.5 * (2 * y - 1).float().reshape(-1, 1, 1, 1)
    return Dataset("img", x[:n], y[:n], x[n:], y[n:], source="synthetic", num_classes=classes)


@pytest.mark.parametrize("name,blocks", [("vgg16", 13), ("resnet18", 8), ("resnet34", 16)])
def test_architecture_and_width(name, blocks):
    m = models.build(name, width=1 / 16, seed=0)
    convs = [mod for mod in m.modules() if isinstance(mod, torch.nn.Conv2d) and mod.kernel_size == (3, 3)]
    # VGG16: 13 convs; ResNet: stem + 2 per block
    assert len(convs) == (13 if name == "vgg16" else 1 + 2 * blocks)
    assert max(c.out_channels for c in convs) == 32  # 512 / 16
    assert models.build(name, width=1 / 16, in_channels=1)(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert models.build(name, width=1 / 16, num_classes=3)(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_full_width_vgg16_parameter_count():
    # 13 conv layers 64..512 with BN and one 512 -> 10 head: 14.73 M parameters (CIFAR VGG16-BN)
    n = sum(p.numel() for p in models.build("vgg16").parameters())
    assert n == 14_728_266


def test_unknown_model():
    with pytest.raises(ParamError, match="unknown model 'vgg19'; allowed: fnn, vgg16"):
        models.build("vgg19")


@pytest.mark.parametrize("name", ["vgg16", "resnet18"])
def test_functional_call_equals_module_call(name):
    m = models.build(name, width=1 / 16, seed=0)
    x = torch.randn(8, 3, 32, 32)
    buffers = dict(m.named_buffers())
    before = {k: v.clone() for k, v in buffers.items()}
    for mode in (m.train, m.eval):
        mode()
        torch.testing.assert_close(functional_call(m, (params_of(m), buffers), (x,)), m(x))
    # training mode leaves the running statistics alone (vmap-safe)
    for k in buffers:
        torch.testing.assert_close(buffers[k], before[k])


def test_vmapped_ensemble_of_vggs_trains():
    data = images()
    make = lambda s: models.build("vgg16", width=1 / 16, seed=s)
    first = train_minima(make, [0, 1], data, TrainConfig(epochs=1, lr=5e-3, batch_size=16), progress=False)
    together = train_minima(make, [0, 1], data, TrainConfig(epochs=4, lr=5e-3, batch_size=16), progress=False)
    for (p, info), (_, info1) in zip(together, first):
        assert info["epoch_loss"] < info1["epoch_loss"]


def test_bn_ensemble_equals_one_by_one():
    # (BatchNorm amplifies float32 rounding over many Adam steps; a short run keeps it below tolerance)
    data = images(n=32)
    make = lambda s: models.build("resnet18", width=1 / 16, seed=s)
    cfg = TrainConfig(epochs=2, lr=1e-3, batch_size=16)
    together = train_minima(make, [0, 1], data, cfg, progress=False)
    for seed, (p, info) in zip([0, 1], together):
        (q, _), = train_minima(make, [seed], data, cfg, progress=False)
        for k in q:
            torch.testing.assert_close(p[k], q[k], rtol=1e-3, atol=1e-4)
    assert not torch.allclose(together[0][0]["fc.weight"], together[1][0]["fc.weight"])


def test_evaluator_uses_recomputed_statistics():
    data = images(n=40)
    m = models.build("resnet18", width=1 / 16, seed=0)
    p = params_of(m)
    buffers = paths.recompute_bn(m, p, data.train_x, batch_size=40)
    # one batch holding the whole set: the running statistics are that set's statistics
    feats = torch.nn.functional.conv2d(data.train_x, p["conv1.weight"], padding=1)
    torch.testing.assert_close(buffers["bn1.running_mean"], feats.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(buffers["bn1.running_var"], feats.var((0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-5)
    # several batches: the cumulative average of the batch statistics
    b2 = paths.recompute_bn(m, p, data.train_x, batch_size=20)
    torch.testing.assert_close(b2["bn1.running_mean"], buffers["bn1.running_mean"], rtol=1e-4, atol=1e-5)
    assert all(mod.momentum == 0.1 for mod in m.modules() if isinstance(mod, models.BatchNorm2d))
    # the evaluator's answer equals an eval-mode forward with those statistics
    ev = paths.Evaluator(m, data.test_x, data.test_y, bn_x=data.train_x, batch_size=1000)
    loss, acc = ev.single(p)
    m.eval()
    out = functional_call(m, (p, paths.recompute_bn(m, p, data.train_x)), (data.test_x,))
    assert abs(loss - float(torch.nn.functional.cross_entropy(out, data.test_y))) < 1e-5
    assert abs(acc - 100 * float((out.argmax(1) == data.test_y).float().mean())) < 1e-9
    # and differs from the (untouched, initial) statistics of the module
    stale = functional_call(m, (p, dict(m.named_buffers())), (data.test_x,))
    assert not torch.allclose(out, stale)


def test_center_search_runs_on_a_bn_network():
    from starconn.center import CenterConfig, find_center

    data = images(n=32)
    feet = [params_of(models.build("vgg16", width=1 / 16, seed=s)) for s in (0, 1)]
    center, info = find_center(models.build("vgg16", width=1 / 16), feet, data,
                               CenterConfig(epochs=2, lr=1e-3, batch_size=16), progress=False)
    assert set(center) == set(feet[0]) and all(torch.isfinite(v).all() for v in center.values())
    assert len(info["objective"]) == 2


def test_every_setting_has_tables_and_protocols():
    from starconn import practical
    from starconn.profiles.practical import CHAPTERS, TABLE1, TABLE2, within_tolerance

    assert set(TABLE1) == set(TABLE2) == set(practical.SETTINGS)
    assert TABLE1["resnet18-cifar10"] == {} and TABLE2["resnet34-cifar10"] == {}
    assert within_tolerance({"ngd": 1.0, "fold_acc": 99.0}, {}) == {}
    assert TABLE2["vgg16-cifar10"] == {"ngd": 1.051, "fold_acc": 99.91}
    for ch in CHAPTERS:
        for setting in practical.SETTINGS:
            for profile in ("smoke", "cpu", "paper"):
                cfg = ch.resolve(profile, setting=setting)
                assert cfg.setting == setting
                if profile == "paper" and setting != "fnn-mnist":
                    assert cfg.width == 1.0 and cfg.amp and cfg.lr == 5e-3 and cfg.batch_size == 200
                    assert cfg.ensemble == (5 if setting.startswith("vgg16") else 1)


def test_practical_models_take_the_data_channels():
    from types import SimpleNamespace

    from starconn import practical

    for setting, channels in (("vgg16-mnist", 1), ("resnet34-cifar10", 3)):
        model_name, _ = practical.SETTINGS[setting]
        d = images(n=4, c=channels)
        s = practical.Setup(SimpleNamespace(width=1 / 16), d, model_name, torch.device("cpu"))
        assert s.make_model(0)(d.train_x).shape == (4, 10)


@pytest.mark.parametrize("setting", ["vgg16-mnist", "vgg16-cifar10", "resnet18-cifar10", "resnet34-cifar10"])
def test_every_conv_setting_runs_end_to_end_and_resumes_from_the_store(setting, tmp_path, monkeypatch):
    """Minima, center and every path of a 2-minimum star, for each conv setting (synthetic images of
    the setting's channel count, tiny protocol); a second run loads everything from the store."""
    import math

    from starconn import practical
    from starconn.profiles import chapter
    from starconn.store import Store

    cfg = chapter("star-barriers").resolve("smoke", setting=setting, n_train=100, n_test=100, epochs=1,
                                           batch_size=16, center_epochs=1, n_points=3, n_minima=2)
    model_name, dataset = practical.SETTINGS[setting]
    d = images(n=32, c=1 if dataset == "mnist32" else 3)
    s = practical.Setup(cfg, d, model_name, torch.device("cpu"), store=Store(tmp_path))
    m = practical.star(s, 2, cfg.lam).metrics()
    assert all(math.isfinite(m[k]) for k in ("linear_loss_barrier", "fold_loss_barrier", "fold_acc_barrier"))
    monkeypatch.setattr(practical, "train_minima", lambda *a, **k: pytest.fail("minima retrained"))
    monkeypatch.setattr(practical, "find_center", lambda *a, **k: pytest.fail("center recomputed"))
    assert practical.star(s, 2, cfg.lam).metrics() == m
