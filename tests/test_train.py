import math

import pytest
import torch
from torch import nn

from starconn.engine import TrainingDiverged
from starconn.train import TrainConfig, train_minima
from synthetic import Interrupted, interrupt_after


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


def test_divergence_names_the_first_non_finite_step_and_the_configuration(data):
    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=50)
    x = data.train_x.clone()
    x[123] = math.inf
    bad = type(data)(data.name, x, data.train_y, data.test_x, data.test_y, "one bad example")
    perm = torch.randperm(data.n_train, generator=torch.Generator().manual_seed(4))
    step = int((perm == 123).nonzero()) // 50 + 1  # the minibatch of seed 4's first epoch holding it
    with pytest.raises(TrainingDiverged) as err:
        train_minima(mlp, [4, 5], bad, cfg, progress=False, desc="fnn-mnist minima [4, 5]")
    assert err.value.seed == 4 and err.value.step == step  # both members diverge; the first is reported
    msg = str(err.value)
    assert "fnn-mnist minima [4, 5]" in msg and f"at step {err.value.step} (epoch 1 of 3" in msg
    assert "lr=0.01" in msg and "batch_size=50" in msg and "nothing was stored" in msg


def test_divergence_step_of_a_single_member(data):
    x = data.train_x.clone()
    x[123] = math.nan
    bad = type(data)(data.name, x, data.train_y, data.test_x, data.test_y, "one bad example")
    perm = torch.randperm(data.n_train, generator=torch.Generator().manual_seed(5))
    with pytest.raises(TrainingDiverged, match="seed 5 diverged") as err:
        train_minima(mlp, [5], bad, TrainConfig(epochs=2, lr=1e-2, batch_size=50), progress=False)
    assert err.value.seed == 5 and err.value.epoch == 1
    assert err.value.step == int((perm == 123).nonzero()) // 50 + 1


def test_missed_target_is_flagged_not_silently_used(data):
    cfg = TrainConfig(epochs=1, lr=1e-3, batch_size=50, target_loss=1e-6)
    with pytest.warns(UserWarning, match=r"seed 0 used all 1 epochs .* flagged reached_target=False"):
        (_, info), = train_minima(mlp, [0], data, cfg, progress=False)
    assert info["reached_target"] is False and info["target_loss"] == 1e-6 and info["epoch_loss"] > 1e-6


def test_reached_target_and_fixed_epochs_are_not_flagged(data):
    (_, hit), = train_minima(mlp, [0], data, TrainConfig(epochs=30, lr=1e-2, batch_size=50, target_loss=0.05),
                             progress=False)
    assert hit["reached_target"] is True and hit["epochs"] < 30
    (_, fixed), = train_minima(mlp, [0], data, TrainConfig(epochs=1, lr=1e-2, batch_size=50), progress=False)
    assert fixed["reached_target"] is True  # target_loss = 0: a fixed number of epochs, nothing to miss


# ---------------------------------------------------------------- checkpoints (issue: mid-run resume)
@pytest.mark.parametrize("epochs, lr, target, calls, resumed", [
    (6, 1e-2, 0.0, 40, 3),  # stopped in the 4th step of epoch 4 of 6: resumes after epoch 3
    (8, 1e-3, 0.3, 52, 4),  # member 0 reached its target in epoch 3 (frozen copy in the checkpoint), member 1 did not
])
@pytest.mark.filterwarnings("ignore:.*reached_target=False")
def test_interrupted_ensemble_resumes_bit_for_bit(data, tmp_path, capsys, epochs, lr, target, calls, resumed):
    from starconn.store import Store

    cfg = TrainConfig(epochs=epochs, lr=lr, batch_size=50, target_loss=target)  # 12 steps per epoch
    ref = train_minima(mlp, [0, 1], data, cfg, progress=False)
    if target:
        assert [info["epochs"] for _, info in ref] == [3, 8]
    store = Store(tmp_path)
    ck = store.checkpoint("minimum", {"test": target}, every_s=0)
    with pytest.raises(Interrupted):
        train_minima(mlp, [0, 1], data, cfg, progress=False, checkpoint=ck, loss_fn=interrupt_after(calls))
    assert ck.saves == resumed
    capsys.readouterr()
    ck = store.checkpoint("minimum", {"test": target}, every_s=0)
    got = train_minima(mlp, [0, 1], data, cfg, progress=True, checkpoint=ck, desc="tiny minima [0, 1]")
    err = capsys.readouterr().err
    assert f"resuming training tiny minima [0, 1] from epoch {resumed}/{epochs} (checkpoint {ck.path}" in err
    assert f"{resumed}/{epochs} [" in err  # the progress bar starts at the resumed epoch
    assert ck.resumed_epoch == resumed
    for (p, info), (q, qinfo) in zip(got, ref):
        assert info == qinfo
        for k in q:
            assert torch.equal(p[k], q[k]), k


def test_corrupt_training_checkpoint_is_reported_and_training_starts_afresh(data, tmp_path):
    from starconn.store import Store

    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=50)
    ref = train_minima(mlp, [0, 1], data, cfg, progress=False)
    store = Store(tmp_path)
    ck = store.checkpoint("minimum", {"test": 1}, every_s=0)
    with pytest.raises(Interrupted):
        train_minima(mlp, [0, 1], data, cfg, progress=False, checkpoint=ck, loss_fn=interrupt_after(15))
    ck.path.write_bytes(ck.path.read_bytes()[:-100])  # truncated
    ck = store.checkpoint("minimum", {"test": 1}, every_s=0)
    with pytest.warns(UserWarning, match="corrupt checkpoint .*starting from scratch"):
        got = train_minima(mlp, [0, 1], data, cfg, progress=False, checkpoint=ck)
    assert ck.resumed_epoch == 0
    for (p, _), (q, _) in zip(got, ref):
        assert all(torch.equal(p[k], q[k]) for k in q)


def test_checkpoint_of_other_seeds_is_rejected(data, tmp_path):
    from starconn.store import Store

    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=50)
    store = Store(tmp_path)
    with pytest.raises(Interrupted):
        train_minima(mlp, [0, 1], data, cfg, progress=False, loss_fn=interrupt_after(15),
                     checkpoint=store.checkpoint("minimum", {"test": 2}, every_s=0))
    with pytest.warns(UserWarning, match=r"does not match this computation \(seeds \[0, 1\], this run \[0, 2\]\)"):
        got = train_minima(mlp, [0, 2], data, cfg, progress=False,
                           checkpoint=store.checkpoint("minimum", {"test": 2}, every_s=0))
    (q, _), = train_minima(mlp, [2], data, cfg, progress=False)
    torch.testing.assert_close(got[1][0]["0.weight"], q["0.weight"], rtol=1e-4, atol=1e-5)
