"""The optimisation engine on each of its problems: the minima ensemble, the center search, the
Bezier control point and the star model (resume bit for bit, divergence report, amp)."""
import math

import pytest
import torch
from torch import nn

from starconn import baselines
from starconn.center import CenterConfig, find_center
from starconn.engine import TrainingDiverged, network_loss
from starconn.store import Store
from starconn.train import TrainConfig, params_of, train_minima
from synthetic import Interrupted, blobs, interrupt_after

PROBLEMS = ("minima", "center", "bezier", "star")
SEEDS = {"minima": 3, "center": 3, "bezier": 2, "star": 4}  # the (first) seed each run below draws its batches with


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))


@pytest.fixture(scope="module")
def feet():
    d = blobs(n=600, d=10, classes=3, seed=2)  # 12 steps per epoch at batch 50
    res = train_minima(mlp, [0, 1, 2], d, TrainConfig(epochs=5, lr=1e-2, batch_size=50), progress=False)
    return d, [p for p, _ in res]


def run(problem, d, feet, **kw):
    """4 epochs of ``problem`` (12 steps each); ``[(params, info without wall_s), ...]``."""
    kw.setdefault("progress", False)
    if problem == "minima":
        out = train_minima(mlp, [3, 4], d, TrainConfig(epochs=4, lr=1e-2, batch_size=50), **kw)
    elif problem == "center":
        out = [find_center(mlp(0), feet, d, CenterConfig(epochs=4, lr=1e-2, lam=1e-3, batch_size=50, seed=3), **kw)]
    elif problem == "bezier":
        out = [baselines.fit_bezier(mlp(0), feet[0], feet[1], d, 4, 1e-2, n_t=2, batch_size=50, seed=2, **kw)]
    else:
        out = [baselines.fit_star(mlp(0), feet, params_of(mlp(7)), d, 4, 1e-2, batch_size=50, seed=4, **kw)]
    return [(p, {k: v for k, v in info.items() if k != "wall_s"}) for p, info in out]


def same(got, ref):
    assert len(got) == len(ref)
    for (p, info), (q, qinfo) in zip(got, ref):
        assert info == qinfo
        assert p.keys() == q.keys() and all(torch.equal(p[k], q[k]) for k in q)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_interrupted_run_resumes_bit_for_bit(feet, tmp_path, capsys, problem):
    d, f = feet
    ref = run(problem, d, f)
    store = Store(tmp_path)
    ck = store.checkpoint(problem, {"test": 1}, every_s=0)
    with pytest.raises(Interrupted):  # stopped in the 4th step of epoch 3: epochs 1-2 are checkpointed
        run(problem, d, f, checkpoint=ck, loss_fn=interrupt_after(27))
    assert ck.saves == 2 and ck.path.exists()
    capsys.readouterr()
    ck = store.checkpoint(problem, {"test": 1}, every_s=0)
    got = run(problem, d, f, checkpoint=ck, progress=True)
    err = capsys.readouterr().err
    assert "resuming " in err and " from epoch 2/4 (checkpoint " in err
    assert ck.resumed_epoch == 2 and ck.saves == 1  # after epoch 3; never after the last one
    same(got, ref)


def test_fits_record_their_wall_time_including_the_run_before_a_resume(feet, tmp_path):
    d, f = feet
    store = Store(tmp_path)
    with pytest.raises(Interrupted):
        baselines.fit_bezier(mlp(0), f[0], f[1], d, 4, 1e-2, batch_size=50, progress=False, loss_fn=interrupt_after(27),
                             checkpoint=store.checkpoint("bezier", {"test": 2}, every_s=0))
    ck = store.checkpoint("bezier", {"test": 2}, every_s=0)
    _, info = baselines.fit_bezier(mlp(0), f[0], f[1], d, 4, 1e-2, batch_size=50, progress=False, checkpoint=ck)
    assert ck.elapsed_s > 0 and info["wall_s"] > ck.elapsed_s
    assert info["grad_evals"] == 4 * 12 * 1  # every step of every epoch, before and after the resume


@pytest.mark.parametrize("what, words", [("draws", "draws"), ("fixed", "fixed")])
def test_checkpoint_of_another_fit_is_rejected(feet, tmp_path, what, words):
    d, f = feet
    store = Store(tmp_path)
    with pytest.raises(Interrupted):
        baselines.fit_bezier(mlp(0), f[0], f[1], d, 4, 1e-2, n_t=2, batch_size=50, progress=False,
                             loss_fn=interrupt_after(15), checkpoint=store.checkpoint("bezier", {"test": 3}, every_s=0))
    a, b, n_t = (f[0], f[1], 3) if what == "draws" else (f[1], f[0], 2)
    with pytest.warns(UserWarning, match=f"does not match this computation \\({words} "):
        _, info = baselines.fit_bezier(mlp(0), a, b, d, 4, 1e-2, n_t=n_t, batch_size=50, progress=False,
                                       checkpoint=store.checkpoint("bezier", {"test": 3}, every_s=0))
    _, ref = baselines.fit_bezier(mlp(0), a, b, d, 4, 1e-2, n_t=n_t, batch_size=50, progress=False)
    assert info["objective"] == ref["objective"]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_divergence_names_the_seed_the_first_non_finite_step_and_the_configuration(feet, problem):
    d, f = feet
    x = d.train_x.clone()
    x[123] = math.nan
    bad = type(d)(d.name, x, d.train_y, d.test_x, d.test_y, "one bad example")
    seed = SEEDS[problem]
    perm = torch.randperm(d.n_train, generator=torch.Generator().manual_seed(seed))  # the first epoch's order
    with pytest.raises(TrainingDiverged) as err:
        run(problem, bad, f)
    assert err.value.seed == seed and err.value.epoch == 1
    assert err.value.step == int((perm == 123).nonzero()) // 50 + 1
    msg = str(err.value)
    assert f"seed {seed} diverged: training loss nan at step {err.value.step} (epoch 1 of 4, 12 steps per epoch)" in msg
    assert "lr=0.01" in msg and "batch_size=50" in msg and "nothing was stored" in msg


def test_amp_changes_nothing_on_a_cpu(feet):
    d, f = feet
    plain = baselines.fit_star(mlp(0), f, params_of(mlp(7)), d, 1, 1e-2, batch_size=50, progress=False)
    amp = baselines.fit_star(mlp(0), f, params_of(mlp(7)), d, 1, 1e-2, batch_size=50, amp=True, progress=False)
    assert all(torch.equal(plain[0][k], amp[0][k]) for k in plain[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast is CUDA only")
def test_amp_runs_the_network_in_bf16_on_cuda():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)

        def forward(self, x):
            out = self.lin(x)
            seen.append(out.dtype)
            return out

    dev = torch.device("cuda")
    model = Probe().to(dev)
    p = {k: v.detach() for k, v in model.named_parameters()}
    x, y = torch.randn(8, 4, device=dev), torch.randint(0, 3, (8,), device=dev)
    for amp, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        loss = network_loss(model, torch.nn.functional.cross_entropy, amp, dev)(p, {}, x, y)
        assert seen[-1] == dtype and loss.dtype == torch.float32
