import math

import pytest
import torch
from torch import nn

from starconn.train import TrainConfig, TrainingDiverged, train_minima


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))


def test_ensemble_equals_one_by_one(data):
    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=50)
    together = train_minima(mlp, [0, 1, 2], data, cfg, progress=False)
    for seed, (p, info) in zip([0, 1, 2], together):
        (q, qinfo), = train_minima(mlp, [seed], data, cfg, progress=False)
        assert info["epochs"] == qinfo["epochs"] == 3
        for k in p:
            torch.testing.assert_close(p[k], q[k], rtol=1e-4, atol=1e-5)
    # different seeds give different minima
    assert not torch.allclose(together[0][0]["0.weight"], together[1][0]["0.weight"])


def test_stop_rule_freezes_each_member_at_its_own_epoch(data):
    cfg = TrainConfig(epochs=30, lr=1e-2, batch_size=50, target_loss=0.05)
    res = train_minima(mlp, [0, 1], data, cfg, progress=False)
    for seed, (p, info) in zip([0, 1], res):
        assert info["epoch_loss"] < 0.05 and info["epochs"] < 30
        (q, qinfo), = train_minima(mlp, [seed], data, cfg, progress=False)
        assert qinfo["epochs"] == info["epochs"]
        for k in p:
            torch.testing.assert_close(p[k], q[k], rtol=1e-4, atol=1e-5)


def test_training_reaches_low_loss(data):
    (p, info), = train_minima(mlp, [0], data, TrainConfig(epochs=20, lr=1e-2, batch_size=50), progress=False)
    assert info["epoch_loss"] < 0.05


def test_divergence_is_reported(data):
    cfg = TrainConfig(epochs=2, lr=1e-2, batch_size=50)
    bad = type(data)(data.name, data.train_x * math.nan, data.train_y, data.test_x, data.test_y, "nan")
    with pytest.raises(TrainingDiverged, match="seed 0 diverged"):
        train_minima(mlp, [0], bad, cfg, progress=False)


def test_bad_schedule_is_rejected(data):
    with pytest.raises(ValueError, match="schedule must be 'cosine' or 'constant'"):
        train_minima(mlp, [0], data, TrainConfig(epochs=1, lr=1e-2, schedule="step"), progress=False)
