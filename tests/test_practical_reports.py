"""Part III reports computed in the library (issue 17): how the NGD depends on the start of the
search, which λ Table 1 uses beside its variants, and what the later center epochs bought; and the
runs that produce them share what does not depend on the center."""
import pytest
import torch

from starconn import practical
from starconn.profiles.practical import TOLERANCE

from test_reliability import tiny_setup


def start(ngd, bound=None, fold_acc=99.0, fold_loss=1e-3):
    return {"ngd": ngd, "bound": bound, "fold_acc": fold_acc, "fold_loss": fold_loss}


def test_starts_note_compares_the_spread_with_the_papers_ngd_tolerance():
    tol = TOLERANCE["ngd"]
    close = {"starts": {"mean": start(1.004, [1.0, 1.002, 1.004]), "foot": start(1.006, [1.0, 1.01, 1.006]),
                        "fresh": start(1.01, [1.9, 1.2, 1.01])}, "start_spread": 0.006}
    note = practical.starts_note(close)
    assert f"Spread over the starts 0.0060, less than the paper's NGD tolerance" in note and f"({tol:g})" in note
    assert "from `fresh` 1.0100" in note and "went from 1.9 at the start to 1.0100 (down)" in note
    far = {"starts": {"mean": start(1.004), "fresh": start(1.2, [1.1, 1.2])}, "start_spread": 0.196}
    note = practical.starts_note(far)
    assert "more than the paper's NGD tolerance: at this scale the reported NGD depends on where" in note
    assert "(up)" in note
    assert "not measured" in practical.starts_note({"starts": {"mean": start(1.0)}, "start_spread": None})


def test_starts_table_says_where_the_bound_was_not_recorded():
    table = practical.starts_table({"mean": start(1.004, [1.0, 1.003, 1.004]), "old": start(1.01)})
    assert "| mean | 1.0000 | 1.0030 | 1.0040 |" in table
    assert "| old | not recorded | not recorded | 1.0100 |" in table


ROW = {"fold_loss_barrier": 0.02, "fold_acc_barrier": 99.3, "center_train_loss": 1e-3, "center_train_acc": 100.0,
       "ngd_bound": 1.2}


def test_lam_report_says_which_lambda_the_table_uses_and_which_is_flatter():
    m = {**ROW, "variants": {"0.0001": {**ROW, "fold_loss_barrier": 0.01, "fold_acc_barrier": 99.8, "ngd_bound": 1.1}}}
    text = practical.lam_report(0.0, m)
    assert text.startswith("The table uses λ = 0: the paper's algorithm for Table 1 has no penalty.")
    assert "| 0 (the table's) | 2.000e-02 | 99.300 | 1.2000 |" in text and "| 0.0001 | 1.000e-02 | 99.800 | 1.1000 |" in text
    assert text.endswith("λ = 0.0001.")
    m["variants"]["0.0001"]["fold_acc_barrier"] = 99.0  # now the table's λ is the flatter
    assert practical.lam_report(0.0, m).endswith("λ = 0.")
    assert "`variant_lams` is empty" in practical.lam_report(0.0, ROW)
    assert "not the paper's Table 1 algorithm" in practical.lam_report(1e-4, ROW)


def test_convergence_note_compares_each_kept_center_with_the_final_one():
    rows = [{"epoch": e, "fold_loss_barrier": l, "fold_acc_barrier": a}
            for e, l, a in ((5, 0.5, 90.0), (10, 0.1, 98.0), (20, 0.05, 99.5))]
    note = practical.convergence_note(rows)
    assert "after epoch 5: 0.5 / 90.00 %; after epoch 10: 0.1 / 98.00 %" in note
    assert "at the end of the search (epoch 20): 0.05 / 99.50 %" in note
    assert "lowered the loss barrier 10-fold and moved the accuracy barrier by +9.50 points" in note
    assert "nothing to compare" in practical.convergence_note(rows[-1:])


def test_starts_reuse_the_sweeps_center_and_every_star_shares_the_straight_line(tmp_path):
    s = tiny_setup(tmp_path / "store", center_epochs=2)
    sweep = practical.ngd_sweep(s, [1e-4, 1e-3])
    a, b = sweep.values()
    assert a.linear is b.linear  # measured once for the two minima
    starts = practical.ngd_starts(s, ["mean", "fresh"], 1e-3, sweep)
    assert starts["mean"] is sweep[1e-3]  # the chapter's start (center_init = mean): the sweep's own star
    fresh = starts["fresh"]
    assert fresh.linear is a.linear and any(not torch.equal(fresh.center[k], b.center[k]) for k in b.center)
    assert fresh.center_info["bound"][0] > 1.0 + 1e-3  # a fresh start lies off the segment
    m = practical.ngd_metrics(sweep, 1e-3, starts)
    assert m["start_spread"] == pytest.approx(abs(m["starts"]["mean"]["ngd"] - m["starts"]["fresh"]["ngd"]))
    assert m["starts"]["mean"]["ngd"] == m["ngd"] == pytest.approx(sweep[1e-3].metrics()["ngd_bound"])
    assert practical.ngd_metrics(sweep, 1e-3)["start_spread"] is None
