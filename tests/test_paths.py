import torch
from torch import nn
from torch.func import functional_call

from starconn import paths
from starconn.train import params_of


def net(seed, bn=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(10, 16)] + ([nn.BatchNorm1d(16)] if bn else []) + [nn.ReLU(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def test_segment_endpoints_and_midpoint():
    a, b = params_of(net(0)), params_of(net(1))
    pts = paths.segment(a, b, torch.tensor([0.0, 0.5, 1.0]))
    for k in a:
        torch.testing.assert_close(pts[k][0], a[k])
        torch.testing.assert_close(pts[k][2], b[k])
        torch.testing.assert_close(pts[k][1], (a[k] + b[k]) / 2)


def test_ngd_bound_is_one_on_the_segment_and_above_one_off_it():
    a, b = params_of(net(0)), params_of(net(1))
    mid = {k: 0.3 * a[k] + 0.7 * b[k] for k in a}
    assert abs(paths.ngd_bound(a, mid, b) - 1) < 1e-6
    off = {k: v + 0.1 for k, v in mid.items()}
    assert paths.ngd_bound(a, off, b) > 1
    assert abs(paths.path_length([a, b]) - paths.distance(a, b)) < 1e-9


def test_evaluator_matches_plain_forward(data):
    m = net(0)
    a, b = params_of(net(0)), params_of(net(1))
    ev = paths.Evaluator(m, data.train_x, data.train_y, batch_size=128, points_per_call=2)
    loss, acc = ev(paths.segment(a, b, torch.linspace(0, 1, 5)))
    for i, t in enumerate(torch.linspace(0, 1, 5)):
        p = {k: torch.lerp(a[k], b[k], t) for k in a}
        out = functional_call(m, p, (data.train_x,))
        torch.testing.assert_close(loss[i].float(), nn.functional.cross_entropy(out, data.train_y), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(acc[i].float(), 100 * (out.argmax(1) == data.train_y).float().mean())


def test_batchnorm_statistics_are_recomputed_at_each_point(data):
    m = net(0, bn=True)
    p = params_of(m)
    buffers = paths.recompute_bn(m, p, data.train_x, batch_size=data.n_train)
    h = functional_call(m[0], {"weight": p["0.weight"], "bias": p["0.bias"]}, (data.train_x,))
    torch.testing.assert_close(buffers["1.running_mean"], h.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(buffers["1.running_var"], h.var(0), rtol=1e-3, atol=1e-5)
    # evaluation at a point uses those statistics: eval-mode output equals a fresh model whose
    # running stats were set to the recomputed ones
    ev = paths.Evaluator(m, data.train_x, data.train_y)
    loss, _ = ev.single(p)
    ref = net(0, bn=True)
    ref.load_state_dict({**p, **buffers})
    ref.eval()
    with torch.no_grad():
        expected = nn.functional.cross_entropy(ref(data.train_x), data.train_y).item()
    assert abs(loss - expected) < 1e-5


def test_fold_curve_joins_two_spokes():
    s1 = paths.Curve([0, 0.5, 1], [0.1, 0.2, 0.3], [99, 98, 97])
    s2 = paths.Curve([0, 0.5, 1], [0.4, 0.5, 0.3], [96, 95, 97])
    f = paths.fold_curve(s1, s2)
    assert f.s == [0, 0.5, 1, 1.5, 2]
    assert f.loss == [0.1, 0.2, 0.3, 0.5, 0.4]
    assert f.loss_barrier == 0.5 and f.acc_barrier == 95


def test_importing_plots_changes_no_figure_style_until_asked():
    import subprocess
    import sys

    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); from starconn import plots; "
            "assert dict(mpl.rcParams) == before, 'import changed the style'; plots.use_style(); "
            "assert mpl.rcParams['axes.grid'] and dict(mpl.rcParams) != before")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


class Bump:
    """A 1-D "network" θ = (x,) whose loss along θa = 0 → θb = 1 is 0.01 plus a bump of height 1
    and width ``w`` at ``x0``; accuracy is 100 − 50·(loss − 0.01). Counts the points evaluated."""

    def __init__(self, x0=0.53, w=0.02, power=2):
        self.x0, self.w, self.power, self.calls = x0, w, power, 0

    def loss(self, x):
        return 0.01 + torch.exp(-(((x - self.x0).abs() / self.w) ** self.power))

    def __call__(self, points):
        x = points["x"][:, 0].double()
        self.calls += len(x)
        loss = self.loss(x)
        return loss, 100 - 50 * (loss - 0.01)


A, B = {"x": torch.zeros(1, dtype=torch.float64)}, {"x": torch.ones(1, dtype=torch.float64)}


def test_refinement_finds_a_bump_between_grid_points_that_the_grid_misses():
    ev = Bump()
    grid = paths.linear_curve(ev, A, B, 11)  # points every 0.1: the bump at 0.53 sits between 0.5 and 0.6
    assert grid.loss_barrier < 0.12 and grid.acc_barrier > 94
    fine = paths.refine(ev, A, B, grid)
    assert fine.loss_barrier > 0.9 and fine.acc_barrier < 55  # the bump's top is 1.01 / 50 %
    assert len(fine.s) > 11 and ev.calls == len(fine.s)  # every point it reports was evaluated once
    assert fine.s == sorted(fine.s) and fine.s[0] == 0 and fine.s[-1] == 1
    for s, loss in zip(fine.s, fine.loss):  # each point is the loss at its position
        assert abs(loss - float(ev.loss(torch.tensor(s, dtype=torch.float64)))) < 1e-12


def test_refinement_stops_on_a_flat_path_and_at_its_budget():
    flat = Bump(x0=5.0)  # the bump far outside the segment: loss 0.01 everywhere
    grid = paths.linear_curve(flat, A, B, 5)
    fine = paths.refine(flat, A, B, grid)
    assert len(fine.s) <= 5 + 2 * 2  # one round for the loss barrier, one for the accuracy barrier
    assert fine.loss_barrier == grid.loss_barrier
    cusp = Bump(w=0.05, power=1)  # exp(−|x − 0.53|/0.05): every round climbs higher, the budget stops them
    grid = paths.linear_curve(cusp, A, B, 11)
    capped = paths.refine(cusp, A, B, grid, budget=4)
    assert len(capped.s) == 11 + 4 and grid.loss_barrier < capped.loss_barrier < paths.refine(cusp, A, B, grid).loss_barrier


def test_refined_fold_line_keeps_its_barrier_on_the_right_segment():
    ev = Bump()
    spoke_a = paths.refined_curve(ev, A, B, 11)  # θa → θ* (θ* = B): the bump near the center
    spoke_b = paths.linear_curve(ev, {"x": torch.full((1,), 2.0, dtype=torch.float64)}, B, 11)
    fold = paths.fold_curve(spoke_a, spoke_b)
    assert fold.s == sorted(fold.s) and fold.s[-1] == 2
    assert fold.loss_barrier == spoke_a.loss_barrier > 0.9
