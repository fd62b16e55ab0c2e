"""star-heldout: the trend statistic, the claim check, the configuration it shares with the star
chapters, and a tiny end-to-end run."""
import math

import pytest
import torch

import starconn
from starconn import heldout, practical
from starconn.data import Dataset
from starconn.store import Store


def test_slopes_are_least_squares_slopes_against_log2_r():
    r = [1, 2, 4, 8]
    falling = [[1.0 - 0.1 * math.log2(x), 2.0] for x in r]  # minimum 0 falls 0.1 per doubling, minimum 1 flat
    s = heldout.slopes(falling, r)
    assert s[0] == pytest.approx(-0.1) and s[1] == pytest.approx(0.0, abs=1e-12)
    assert heldout.falls(s[0]) and not heldout.falls(s[1]) and not heldout.falls(-heldout.FLAT / 2)
    assert heldout.slopes([[3.0], [1.0]], [1, 5]) == pytest.approx([-2 / math.log2(5)])
    with pytest.raises(ValueError, match="r_values"):
        heldout.slopes([[1.0], [2.0]], [3, 3])


def metrics(aligned, raw=(-0.1, -0.2, -0.3)):
    return {"r": [1, 2, 5], "aligned_slopes": list(aligned), "heldout_slopes": list(raw)}


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_the_claim_fails_when_one_held_out_minimum_does_not_fall(profile):
    good = {"fnn-mnist": metrics([-0.1, -0.05, -0.2]), "vgg16-cifar10": metrics([-0.3, -0.01, -0.02], raw=(0.1, 0, 0))}
    assert "fnn-mnist: aligned held-out barrier falls with r for every held-out minimum: True" in \
        heldout.check_claim(good, profile)
    one_rises = {**good, "vgg16-cifar10": metrics([-0.3, 0.02, -0.02])}
    flat = {**good, "fnn-mnist": metrics([-0.1, -1e-9, -0.2])}  # an endpoint-dominated barrier: no trend
    for bad in (one_rises, flat):
        if profile == "smoke":
            assert "False" in heldout.check_claim(bad, profile)
        else:
            with pytest.raises(AssertionError, match="does not fall with the number of feet"):
                heldout.check_claim(bad, profile)


def test_the_held_out_minima_are_the_seeds_after_the_feet():
    ch = starconn.CHAPTERS["star-heldout"]
    cfg = ch.resolve("cpu", setting="fnn-mnist", seed=3)
    assert heldout.feet_seeds(cfg) == [3, 4, 5, 6, 7] and heldout.heldout_seeds(cfg) == [8, 9, 10]
    cfg = ch.resolve("cpu", setting="vgg16-cifar10", r_values=[2, 1], n_heldout=2)
    assert heldout.feet_seeds(cfg) == [0, 1] and heldout.heldout_seeds(cfg) == [2, 3]


def test_the_cpu_centers_are_the_star_chapters_centers():
    """The r whose centers the cpu profile keeps are those other chapters compute: same minima, same
    center search (so the store shares them)."""
    ch = starconn.CHAPTERS
    same = [p.name for p in ch["star-barriers"].params if p.name not in ("n_minima", "study_epochs", "setting")]
    for setting, other, r in (("fnn-mnist", "star-barriers", 5), ("fnn-mnist", "ngd-practical", 2),
                              ("vgg16-cifar10", "star-vgg16-cifar10", 3)):
        mine = ch["star-heldout"].resolve("cpu", setting=setting)
        theirs = ch[other].resolve("cpu", setting=setting)
        assert r in mine.r_values
        lam = mine.lam
        if other == "ngd-practical":
            assert lam in theirs.lams
            theirs = {**theirs, "lam": lam}
        else:
            assert theirs.n_minima == r
        assert {k: mine[k] for k in same if k != "center_epochs"} == {k: theirs[k] for k in same if k != "center_epochs"}
        assert heldout.center_epochs(mine, r) == theirs["center_epochs"], (setting, other)


def test_configure_runs_every_setting_unless_one_is_given():
    both = heldout.configure({"profile": "smoke", "setting": None, "seed": 2})
    assert list(both) == ["fnn-mnist", "vgg16-cifar10"] and all(c.seed == 2 for c in both.values())
    assert both["vgg16-cifar10"].width != both["fnn-mnist"].width
    assert list(heldout.configure({"profile": "smoke", "setting": "vgg16-cifar10"})) == ["vgg16-cifar10"]


def test_a_tiny_run_end_to_end(tmp_path):
    """Random MNIST-shaped data and a ×0.02 FNN: every segment starts at its center, the raw and the
    aligned segment end at networks computing the same function (the same loss), weight matching
    never moves the held-out minimum away from the center, and a rerun reloads the same numbers."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 1, 28, 28, generator=g), torch.randint(10, (300,), generator=g)
    data = Dataset("random", x[:200], y[:200], x[200:], y[200:], source="random")
    cfg = starconn.CHAPTERS["star-heldout"].resolve(
        "smoke", setting="fnn-mnist", width=0.05, n_train=200, n_test=100, epochs=3, batch_size=50,
        center_epochs=2, n_points=3, r_values=[1, 3], n_heldout=2, n_eval=150)
    s = practical.Setup(cfg, data, "fnn", torch.device("cpu"), Store(tmp_path / "store"))
    h = heldout.study(s, progress=False)
    assert h.r_values == [1, 3] and len(h.foot_pairs) == 2
    for r, links in h.centers.items():
        assert len(links.feet) == r and len(links.heldout) == len(links.aligned) == 2
        starts = {c.loss[0] for c in links.feet + links.heldout + links.aligned}
        assert max(starts) - min(starts) < 1e-9  # every segment starts at the center
        for raw, al in zip(links.heldout, links.aligned):
            assert raw.loss[-1] == pytest.approx(al.loss[-1], rel=1e-4)
        assert all(a <= b + 1e-9 for a, b in zip(links.distance["aligned"], links.distance["heldout"]))
    m = h.metrics()
    assert m["r"] == [1, 3] and len(m["aligned_slopes"]) == 2 and len(m["heldout_loss_barriers"]) == 2
    again = heldout.study(s, progress=False).metrics()  # from the store
    assert {k: again[k] for k in ("heldout_loss_barriers", "aligned_loss_barriers", "feet_loss_barrier")} == \
        {k: m[k] for k in ("heldout_loss_barriers", "aligned_loss_barriers", "feet_loss_barrier")}
