"""Committed runs beside the paper: results/<scale>/<setting>/<chapter>[-variant].json, the
three-column table of Part III chapters, and what a run reduced, in words."""
import json

import pytest

import starconn
from starconn import config, results
from starconn.profiles.practical import TABLE1, tolerance_detail


def run(profile, metrics, chapter="star-barriers", setting="vgg16-cifar10", card="H200", **params):
    p = dict(starconn.CHAPTERS[chapter].resolve(profile, setting=setting, **params))
    p.pop("chapter"), p.pop("profile")
    return {"chapter": chapter, "profile": profile, "params": p, "metrics": metrics, "paper": TABLE1[setting],
            "env": {"card": card, "date": "2026-12-03"}, "wall_s": 1.0}


def put(root, scale, name, d, setting="vgg16-cifar10"):
    path = root / scale / setting / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))


@pytest.fixture
def committed(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RESULTS", tmp_path)
    return tmp_path


def test_recorded_runs_by_scale_and_their_variants(committed):
    assert results.recorded_run("star-barriers", "vgg16-cifar10", "cpu") is None
    put(committed, "paper", "star-barriers", run("paper", {"fold_acc_barrier": 99.0}))
    put(committed, "paper", "star-barriers-lam1e-4", run("paper", {"fold_acc_barrier": 99.5}, lam=1e-4))
    put(committed, "paper", "star-barriers-other", {**run("paper", {}), "chapter": "ngd-practical"})  # not ours
    put(committed, "cpu", "star-barriers", run("cpu", {"fold_acc_barrier": 97.0}))
    assert results.recorded_run("star-barriers", "vgg16-cifar10", "paper")["metrics"] == {"fold_acc_barrier": 99.0}
    assert results.recorded_paper_run("star-barriers", "vgg16-cifar10")["metrics"] == {"fold_acc_barrier": 99.0}
    assert results.recorded_run("star-barriers", "vgg16-cifar10", "cpu")["profile"] == "cpu"
    (v,) = results.recorded_variants("star-barriers", "vgg16-cifar10", "paper")
    assert v["_variant"] == "lam1e-4" and results.deviations(v) == {"lam": 1e-4}
    with pytest.raises(ValueError, match="scale must be one of paper, cpu; got 'smoke'"):
        results.recorded_run("star-barriers", "vgg16-cifar10", "smoke")


def test_what_a_reduced_run_changed_in_words():
    words = results.in_words(run("cpu", {}))
    for part in ("width ×0.125 (×1)", "1000 training examples (50000)", "20 epochs per minimum (25)",
                 "120 center epochs (20)", "5 points per path segment (11)"):
        assert part in words, (part, words)
    assert results.in_words(run("paper", {})) == "nothing"


def test_the_paper_profiles_deviations_from_the_paper():
    conv = results.protocol_deviations("star-barriers", "vgg16-cifar10")
    assert list(conv) == ["center_epochs"] and conv["center_epochs"].value == 20
    assert "200 epochs" in conv["center_epochs"].reason and "GPU budget" in conv["center_epochs"].reason
    assert results.protocol_deviations("star-barriers", "fnn-mnist") == {}  # the FNN runs the paper's 200


def test_scale_table_shows_the_paper_ours_at_paper_scale_and_ours_reduced(committed):
    smoke = run("smoke", {"fold_loss_barrier": 0.5, "fold_acc_barrier": 80.0})
    table = results.scale_table(smoke, tolerance_detail)
    head, _, *rows = table.splitlines()
    assert "| paper | ours at paper scale | ours at reduced scale | this run (`smoke`" in head
    assert all("not run at paper scale | not run at reduced scale" in r for r in rows)

    put(committed, "paper", "star-barriers", run("paper", {"fold_loss_barrier": 0.05, "fold_acc_barrier": 99.98},
                                                 center_epochs=8))
    put(committed, "cpu", "star-barriers", run("cpu", {"fold_loss_barrier": 0.1, "fold_acc_barrier": 97.6}))
    table = results.scale_table(smoke, tolerance_detail)
    assert "ours at paper scale (recorded, H200, 2026-12-03; unlike the `paper` profile: center_epochs = 8)" in table
    assert "ours at reduced scale (`cpu`, recorded)" in table
    loss = next(r for r in table.splitlines() if r.startswith("| `fold_loss_barrier`"))
    assert "0.05 (✗ 10× the paper's" in loss and "| 0.1 |" in loss and loss.endswith("| 0.5 |")  # judged at paper scale only
    assert "Reduced scale: unlike the `paper` profile, width ×0.125 (×1)" in table

    here = run("cpu", {"fold_loss_barrier": 0.2, "fold_acc_barrier": 96.0})  # this run is the reduced one
    table = results.scale_table(here, tolerance_detail)
    assert "ours at reduced scale (`cpu`, this run)" in table and "| 0.2 |" in table and "| 0.1 |" not in table
    assert "this run (`smoke`" not in table
    assert results.scale_table({**here, "paper": {}}).startswith("The paper reports no number")
