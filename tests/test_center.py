import pytest
import torch
from torch import nn

from starconn import paths
from starconn.center import CenterConfig, find_center, initial_center
from starconn.train import TrainConfig, params_of, train_minima
from synthetic import Interrupted, interrupt_after


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


@pytest.mark.parametrize("init, at_start", [("mean", 1.0), ("foot", 1.0), ("fresh", None)])
def test_the_search_records_the_eq8_bound_per_epoch(minima, init, at_start):
    d, feet = minima
    two = feet[:2]
    cfg = CenterConfig(epochs=3, lr=1e-2, batch_size=50, init=init)
    center, info = find_center(wide(0), two, d, cfg, fresh=lambda: params_of(wide(7)), progress=False)
    assert len(info["bound"]) == cfg.epochs + 1  # the start, then after each epoch
    assert abs(info["bound"][-1] - paths.ngd_bound(two[0], center, two[1])) < 1e-5
    start = initial_center(two, init, lambda: params_of(wide(7)))
    assert abs(info["bound"][0] - paths.ngd_bound(two[0], start, two[1])) < 1e-5
    if at_start is not None:  # the mean and a foot lie on the segment: the bound is 1 before the first step
        assert abs(info["bound"][0] - at_start) < 1e-5
    else:  # a fresh initialisation lies off it
        assert info["bound"][0] > 1.05
    assert len(set(info["bound"])) > 1  # the search moved θ


def test_three_feet_bound_is_the_mean_over_the_pairs(minima):
    d, feet = minima
    center, info = find_center(wide(0), feet, d, CenterConfig(epochs=2, lr=1e-2, batch_size=50), progress=False)
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = sum(paths.ngd_bound(feet[i], center, feet[j]) for i, j in pairs) / 3
    assert abs(info["bound"][-1] - expected) < 1e-5


def test_kept_centers_are_the_search_after_those_epochs(minima):
    d, feet = minima
    cfg = CenterConfig(epochs=4, lr=1e-2, batch_size=50)
    kept = {}
    center, info = find_center(wide(0), feet[:2], d, cfg, progress=False, keep=(1, 2, 4),
                               on_keep=lambda e, p: kept.setdefault(e, p))
    ref, ref_info = find_center(wide(0), feet[:2], d, cfg, progress=False)
    assert sorted(kept) == [1, 2]  # the last epoch's center is the result itself, not a kept one
    assert info == ref_info and all(torch.equal(center[k], ref[k]) for k in ref)  # keeping changes nothing
    for e, p in kept.items():
        assert abs(paths.ngd_bound(feet[0], p, feet[1]) - info["bound"][e]) < 1e-5
    assert not torch.equal(kept[1]["0.weight"], kept[2]["0.weight"])


# ---------------------------------------------------------------- checkpoints (issue: mid-run resume)
CKPT_CFG = CenterConfig(epochs=4, lr=1e-2, batch_size=50, lam=1e-3, B_t=3, seed=3)  # 12 steps per epoch


@pytest.mark.parametrize("init", ["mean", "fresh"])
def test_interrupted_center_search_resumes_bit_for_bit(minima, tmp_path, capsys, init):
    from starconn.store import Store

    d, feet = minima
    cfg = CenterConfig(**{**CKPT_CFG.as_dict(), "init": init})
    def fresh():
        return params_of(wide(9))

    ref, ref_info = find_center(wide(0), feet, d, cfg, fresh=fresh, progress=False)
    store = Store(tmp_path)
    ck = store.checkpoint("center", {"test": init}, every_s=0)
    with pytest.raises(Interrupted):  # stopped in the 4th step of epoch 3: epochs 1-2 are checkpointed
        find_center(wide(0), feet, d, cfg, fresh=fresh, progress=False, checkpoint=ck, loss_fn=interrupt_after(27))
    assert ck.saves == 2 and ck.path.exists()
    capsys.readouterr()
    ck = store.checkpoint("center", {"test": init}, every_s=0)
    got, info = find_center(wide(0), feet, d, cfg, fresh=fresh, progress=True, checkpoint=ck)
    err = capsys.readouterr().err
    assert f"resuming center search from epoch 2/4 (checkpoint {ck.path}" in err
    assert "2/4" in err and "4/4" in err  # the progress bar starts at the resumed epoch
    assert ck.resumed_epoch == 2 and ck.saves == 1  # after epoch 3; never after the last one
    assert info == ref_info  # histories, both epochs before and after the resume
    for k in ref:
        assert torch.equal(got[k], ref[k]), k


def test_center_without_checkpoint_saves_nothing_and_default_interval_skips_fast_epochs(minima, tmp_path):
    from starconn.store import Store

    d, feet = minima
    ck = Store(tmp_path).checkpoint("center", {"test": 1})  # the default: at most one save every 30 s
    find_center(wide(0), feet[:2], d, CKPT_CFG, progress=False, checkpoint=ck)
    assert ck.every_s == 30 and ck.saves == 0 and not ck.path.exists()


def test_corrupt_center_checkpoint_is_reported_and_the_search_starts_afresh(minima, tmp_path):
    from starconn.store import Store

    d, feet = minima
    ref, ref_info = find_center(wide(0), feet, d, CKPT_CFG, progress=False)
    store = Store(tmp_path)
    ck = store.checkpoint("center", {"test": 2}, every_s=0)
    with pytest.raises(Interrupted):
        find_center(wide(0), feet, d, CKPT_CFG, progress=False, checkpoint=ck, loss_fn=interrupt_after(30))
    raw = bytearray(ck.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte inside the tensors
    ck.path.write_bytes(bytes(raw))
    ck = store.checkpoint("center", {"test": 2}, every_s=0)
    with pytest.warns(UserWarning, match=r"corrupt checkpoint .*\.ckpt .*checksum mismatch.*starting from scratch"):
        got, info = find_center(wide(0), feet, d, CKPT_CFG, progress=False, checkpoint=ck)
    assert ck.resumed_epoch == 0 and info == ref_info
    assert all(torch.equal(got[k], ref[k]) for k in ref)
    assert list(tmp_path.rglob("*.ckpt.safetensors.corrupt"))


@pytest.mark.parametrize("other", ["config", "feet"])
def test_checkpoint_of_another_search_is_rejected(minima, tmp_path, other):
    from starconn.store import Store

    d, feet = minima
    store = Store(tmp_path)
    ck = store.checkpoint("center", {"test": 3}, every_s=0)
    with pytest.raises(Interrupted):
        find_center(wide(0), feet, d, CKPT_CFG, progress=False, checkpoint=ck, loss_fn=interrupt_after(13))
    cfg, feet2, words = ((CenterConfig(**{**CKPT_CFG.as_dict(), "lr": 2e-2}), feet, "configuration") if other == "config"
                         else (CKPT_CFG, feet[::-1], r"feet [0-9a-f]{16}, this run [0-9a-f]{16}"))
    ref, ref_info = find_center(wide(0), feet2, d, cfg, progress=False)
    with pytest.warns(UserWarning, match=f"does not match this computation .*{words}"):
        got, info = find_center(wide(0), feet2, d, cfg, progress=False,
                                checkpoint=store.checkpoint("center", {"test": 3}, every_s=0))
    assert info == ref_info and all(torch.equal(got[k], ref[k]) for k in ref)
