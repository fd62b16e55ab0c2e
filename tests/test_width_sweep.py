"""The width sweep: seed pairs, width checks, the NGD-vs-width summary, and a tiny end-to-end sweep."""
import math

import pytest
import torch
from scipy import stats

from starconn import practical, width_sweep as ws
from starconn.data import Dataset
from starconn.params import ParamError
from starconn.profiles import CHAPTERS
from starconn.profiles.practical import PROTOCOL
from starconn.store import Store


def test_seed_pairs_are_disjoint():
    assert ws.pair_seeds(3, 3) == [(3, 4), (5, 6), (7, 8)]
    with pytest.raises(ParamError, match="n_seeds"):
        ws.pair_seeds(0, 0)


def test_widths_need_two_distinct_positive_values():
    assert ws.check_widths([4, 0.25, 1, 1]) == [0.25, 1.0, 4.0]
    for bad in ([1.0], [2, 2], [0, 1]):
        with pytest.raises(ParamError, match="'widths'"):
            ws.check_widths(bad)


def test_spearman():
    assert ws.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert ws.spearman([1, 2, 3], [1, 5, 9]) == pytest.approx(1)
    x, y = [1, 1, 2, 2, 4], [3, 4, 1, 2, 2]  # ties get average ranks, as scipy's
    assert ws.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert math.isnan(ws.spearman([1, 2, 3], [5, 5, 5]))


def _point(w, ngd, seeds=(0, 1), fold=99.0):
    return ws.WidthPoint(w, seeds, 10, ngd, 1.0, 0.1, fold, 1.0, 50.0, 100.0, 99.0)


def test_summary_and_verdict():
    sw = ws.WidthSweep([_point(0.5, 1.3), _point(0.5, 1.5, (2, 3)), _point(1, 1.2), _point(1, 1.2, (2, 3)),
                        _point(2, 1.25, fold=99.5), _point(2, 1.05, (2, 3), fold=99.5)])
    m = sw.metrics()
    assert m["widths"] == [0.5, 1.0, 2.0] and m["ngd_mean"] == pytest.approx([1.4, 1.2, 1.15])
    assert m["ngd_sd"][1] == 0 and m["ngd_sd"][0] == pytest.approx(math.sqrt(0.02))
    assert m["ngd_falls"] and m["ngd_falls_every_step"] and m["ngd_falling_steps"] == "2/2"
    assert m["ngd_spearman_vs_width"] < 0 and m["fold_acc_rises"]
    assert len(m["points"]) == 6
    assert sw.table().count("\n") == 3 + 1
    up = ws.WidthSweep([_point(0.5, 1.1), _point(1, 1.3), _point(2, 1.2)])
    assert not up.verdict()["ngd_falls"] and up.verdict()["ngd_falling_steps"] == "1/2"
    assert "Disagrees with the claim" in ws.claim_note(up, "cpu")
    assert "Agrees with the claim" in ws.claim_note(sw, "paper")
    assert "says nothing" in ws.claim_note(sw, "smoke")
    assert "worse" not in ws.claim_note(sw, "cpu") and "near-minima" not in ws.claim_note(sw, "cpu")
    bad = ws.WidthSweep([_point(0.5, 1.3, fold=40.0), ws.WidthPoint(1, (0, 1), 10, 1.2, 1.0, 0.1, 99.0, 1.0, 50.0,
                                                                    90.0, 99.0)])
    note = ws.claim_note(bad, "cpu")
    assert "At width ×0.5 the fold-line" in note and "width ×1 stopped below 99 %" in note


def test_profiles():
    ch = CHAPTERS["ngd-width-practical"]
    smoke, cpu, paper = (ch.resolve(p) for p in ("smoke", "cpu", "paper"))
    assert len(smoke.widths) == 2 and smoke.n_seeds == 1 and smoke.n_train == 2000
    assert cpu.widths == [0.25, 0.5, 1.0, 2.0, 4.0] and cpu.n_seeds >= 2 and cpu.n_train < 60000
    assert paper.widths[0] <= 0.25 and paper.widths[-1] >= 4 and paper.n_seeds == 3
    for k in ("n_train", "n_test", "epochs", "lr", "center_epochs", "n_points"):  # the fnn-mnist paper protocol
        assert paper[k] == PROTOCOL["fnn-mnist"]["paper"][k].value, k
    with pytest.raises(ParamError, match="'setting'"):
        ch.resolve("cpu", setting="vgg16-cifar10")
    with pytest.raises(ParamError, match="'widths'"):
        ch.resolve("cpu", widths=[0.001, 1])


def test_tiny_sweep_end_to_end(tmp_path):
    """Random 784-dimensional data, widths ×0.02 and ×0.04 (hidden 10-6 and 20-12): the sweep runs, the
    Eq. 8 bound is >= 1, and a second sweep reloads everything from the store (same numbers)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(240, 1, 28, 28, generator=g)
    y = torch.randint(10, (240,), generator=g)
    data = Dataset("random", x[:200], y[:200], x[200:], y[200:], source="random")
    cfg = CHAPTERS["ngd-width-practical"].resolve(
        "smoke", n_train=200, n_test=100, epochs=1, center_epochs=1, batch_size=50, n_points=3)
    s = practical.Setup(cfg, data, "fnn", torch.device("cpu"), Store(tmp_path / "store"))
    sw = ws.sweep(s, [0.04, 0.02], 2, cfg.lam)
    assert sw.widths == [0.02, 0.04] and [len(sw.at(w)) for w in sw.widths] == [2, 2]
    assert {p.seeds for p in sw.points} == {(0, 1), (2, 3)}
    assert all(p.ngd >= 1 - 1e-9 and p.distance > 0 for p in sw.points)
    assert all(p.center_penalty >= 0 for p in sw.points)
    assert sw.at(0.02)[0].n_params == 784 * 10 + 10 + 10 * 6 + 6 + 6 * 10 + 10
    again = ws.sweep(s, [0.02, 0.04], 2, cfg.lam)
    assert [p.ngd for p in again.points] == [p.ngd for p in sw.points]
