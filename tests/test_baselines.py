import pytest
import torch

from starconn import baselines, matching, models, paths
from starconn.paths import Curve
from starconn.train import TrainConfig, params_of, train_minima
from synthetic import mlp


def test_the_chapter_refuses_resnets_before_training_anything():
    from types import SimpleNamespace

    s = SimpleNamespace(cfg=SimpleNamespace(setting="resnet18-cifar10"), model_name="resnet18",
                        make_model=lambda seed: models.build("resnet18", width=0.0625, seed=seed))
    with pytest.raises(ValueError, match="setting 'resnet18-cifar10' \\(network resnet18\\).*residual"):
        baselines.compare(s, progress=False)


def test_the_chapter_offers_only_settings_weight_matching_handles():
    from starconn.params import ParamError
    from starconn.practical import SETTINGS
    from starconn.profiles import baselines as prof

    ch = prof.CHAPTERS[0]
    for setting in prof.SETTINGS:
        name, _ = SETTINGS[setting]
        matching.permutation_spec(models.build(name, width=0.0625, seed=0, **({} if name == "fnn" else
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


def test_the_repair_row_runs_from_theta1_to_the_aligned_minimum(pair):
    d, make, (a, b) = pair
    b = matching.align(a, b)[0]
    evs = {"train": paths.Evaluator(make(0), d.train_x, d.train_y), "test": paths.Evaluator(make(0), d.test_x, d.test_y)}
    cur, polygon, wall = baselines.repaired_line(make(0), evs, a, b, d.train_x, 5)
    line = baselines.curves(evs, [(a, b)], 5)
    for split in evs:
        assert cur[split].s == line[split].s
        assert cur[split].loss[0] == pytest.approx(line[split].loss[0], rel=1e-5, abs=1e-7)
        assert cur[split].loss[-1] == pytest.approx(line[split].loss[-1], rel=1e-5, abs=1e-7)
    assert polygon >= paths.distance(a, b) * (1 - 1e-9) and wall > 0
