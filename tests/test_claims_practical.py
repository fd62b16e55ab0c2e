"""Every Part III claim check fails on a false case and passes on a true one."""
import pytest

from starconn import baselines, practical, width_sweep
from starconn.paths import Curve
from starconn.profiles.practical import TABLE1, TABLE2

STAR = {"fold_loss_barrier": 2e-3, "linear_loss_barrier": 1.2, "fold_acc_barrier": 99.9, "linear_acc_barrier": 68.0,
        "train_acc": [100.0, 99.95, 100.0]}
NGD = {"ngd": 1.01, "fold_acc": 99.8, "fold_loss": 5e-3, "linear_acc_barrier": 70.0, "train_acc": [100.0, 99.98]}


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_star_claim(profile):
    paper = TABLE1["fnn-mnist"]
    assert "fold-lines flatter" in practical.check_star(STAR, paper, profile)
    straight_flatter = {**STAR, "fold_loss_barrier": 1.5}  # a straight line flatter than the fold-line
    with pytest.raises(AssertionError, match="fold-lines are not flatter: loss barrier 1.5"):
        practical.check_star(straight_flatter, paper, profile)
    with pytest.raises(AssertionError, match="accuracy barrier 60"):
        practical.check_star({**STAR, "fold_acc_barrier": 60.0}, paper, profile)
    not_minima = {**STAR, "train_acc": [100.0, 99.5, 100.0]}  # one network below 99.9 % training accuracy
    far = {**STAR, "fold_acc_barrier": 98.0}  # 2 points below the paper's 99.96 (tolerance 0.5)
    if profile == "smoke":  # too short to reach minima: neither is checked
        practical.check_star(not_minima, paper, profile)
        practical.check_star(far, paper, profile)
    else:
        with pytest.raises(AssertionError, match=r"not every network is a minimum.*99\.5"):
            practical.check_star(not_minima, paper, profile)
        if profile == "paper":
            with pytest.raises(AssertionError, match="not within the paper's tolerance"):
                practical.check_star(far, paper, profile)
        else:
            assert "'fold_acc_barrier': False" in practical.check_star(far, paper, profile)  # printed, not claimed


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_ngd_claim(profile):
    paper = TABLE2["fnn-mnist"]
    assert "fold-line flatter" in practical.check_ngd(NGD, paper, profile)
    with pytest.raises(AssertionError, match="fold-line is not flatter"):
        practical.check_ngd({**NGD, "fold_acc": 65.0}, paper, profile)
    long_way = {**NGD, "ngd": 1.2}  # Eq. 8's bound far above the paper's 1.003 (tolerance 0.02)
    if profile == "paper":
        with pytest.raises(AssertionError, match=r"ngd = 1\.2, the paper's 1\.003"):
            practical.check_ngd(long_way, paper, profile)
    else:
        practical.check_ngd(long_way, paper, profile)
    if profile != "smoke":
        with pytest.raises(AssertionError, match="not every network is a minimum"):
            practical.check_ngd({**NGD, "train_acc": [99.0, 100.0]}, paper, profile)


def comparison(barriers: dict[str, float], start: float = 0.01, aligned_length: float = 0.9) -> baselines.Comparison:
    """Five paths from θ1 (loss 0.01) to θ2 (loss 0.02) with the given maximum losses."""
    paths = {}
    for name, top in barriers.items():
        s0 = start if name == "fold" else 0.01
        cur = Curve([0.0, 0.5, 1.0], [s0, top, 0.02], [100.0, 90.0, 100.0])
        length = aligned_length if name == "aligned" else (1.0 if name == "linear" else 1.05)
        paths[name] = baselines.Path(name, cur, cur, length, 0, 0.0)
    return baselines.Comparison([], 1.0, 0, None, paths, {})


TRUE = {"linear": 2.0, "aligned": 1.0, "repair": 0.5, "bezier": 0.1, "fold": 0.05, "beta_star": 0.3}


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_baselines_claims(profile):
    assert "bezier, fold, beta_star" in baselines.check_claims(comparison(TRUE), "fnn-mnist", profile)
    worse = comparison({**TRUE, "bezier": 2.5})  # a trained curve above the straight line
    aligned_worse = comparison({**TRUE, "aligned": 2.5})
    if profile == "smoke":  # minima not trained to convergence: the barriers are not claimed
        baselines.check_claims(worse, "fnn-mnist", profile)
    else:
        with pytest.raises(AssertionError, match="Bezier curve, trained does not lower the training-loss barrier"):
            baselines.check_claims(worse, "fnn-mnist", profile)
        with pytest.raises(AssertionError, match="weight matching does not lower"):
            baselines.check_claims(aligned_worse, "fnn-mnist", profile)
        baselines.check_claims(aligned_worse, "vgg16-cifar10", profile)  # measured, not claimed, for VGG16
        with pytest.raises(AssertionError, match="REPAIR does not lower the aligned line's training-loss barrier: 1.2"):
            baselines.check_claims(comparison({**TRUE, "repair": 1.2}), "fnn-mnist", profile)
        no_repair = {k: v for k, v in TRUE.items() if k != "repair"}
        with pytest.raises(AssertionError, match="the FNN has no REPAIR path"):
            baselines.check_claims(comparison(no_repair), "fnn-mnist", profile)
        assert "REPAIR" not in baselines.check_claims(comparison(no_repair), "vgg16-cifar10", profile)
    with pytest.raises(AssertionError, match="path 'fold' does not start at θ1"):
        baselines.check_claims(comparison(TRUE, start=0.5), "fnn-mnist", profile)
    with pytest.raises(AssertionError, match="weight matching moved π\\(θ2\\) away from θ1"):
        baselines.check_claims(comparison(TRUE, aligned_length=1.1), "fnn-mnist", profile)


def sweep(ngds: list[float], linear_accs: list[float], pairs: int = 2) -> width_sweep.WidthSweep:
    points = []
    for w, ngd, lin in zip((0.5, 1.0, 2.0), ngds, linear_accs):
        for r in range(pairs):
            points.append(width_sweep.WidthPoint(w, (2 * r, 2 * r + 1), 1000, ngd + 1e-3 * r, 10.0, 0.01, 99.5, 1.0,
                                                 lin, 100.0, 100.0))
    return width_sweep.WidthSweep(points)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_width_claim(profile):
    widths = [0.5, 1, 2]
    assert "True" in width_sweep.check_claim(sweep([1.1, 1.05, 1.02], [50.0, 60.0, 70.0]), widths, 2, profile)
    rising = sweep([1.02, 1.05, 1.1], [50.0, 60.0, 70.0])  # the bound grows with width
    straight_worse = sweep([1.1, 1.05, 1.02], [70.0, 60.0, 50.0])
    if profile == "cpu":
        with pytest.raises(AssertionError, match="does not fall with width"):
            width_sweep.check_claim(rising, widths, 2, profile)
        with pytest.raises(AssertionError, match="straight line does not lose less accuracy"):
            width_sweep.check_claim(straight_worse, widths, 2, profile)
    else:  # printed, not asserted
        assert "False" in width_sweep.check_claim(rising, widths, 2, profile)
    with pytest.raises(AssertionError, match=r"widths \[0.5, 1.0, 2.0\] do not have their 3 seed pair"):
        width_sweep.check_claim(sweep([1.1, 1.05, 1.02], [50.0, 60.0, 70.0]), widths, 3, profile)
    with pytest.raises(AssertionError, match="widths measured"):
        width_sweep.check_claim(sweep([1.1, 1.05, 1.02], [50.0, 60.0, 70.0]), [0.5, 1, 2, 4], 2, profile)
