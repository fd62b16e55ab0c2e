"""The scorecard: paper items the chapters declare, rows from a fake results tree, verdicts."""
import json
import os
import re

import pytest

from starconn import scorecard as sc
from starconn.profiles import CHAPTERS
from starconn.profiles.practical import TABLE1, TABLE2

SUBSET = ("relu-manifold", "relu-ngd-sgd", "linear-ngd", "star-barriers", "ngd-practical", "star-vgg16-cifar10")


def chapters():
    return {k: CHAPTERS[k] for k in SUBSET}


def test_references_are_what_the_chapters_declare():
    assert sc.references(CHAPTERS["star-barriers"]) == [sc.Item("Table", 1)]
    assert sc.references(CHAPTERS["relu-ngd-sgd"]) == [sc.Item("Fig", 3, "left")]
    assert sc.references(CHAPTERS["relu-star"]) == [sc.Item("Theorem", 10), sc.Item("Theorem", 11), sc.Item("Fig", 2)]
    assert sc.references(CHAPTERS["baselines"]) == []  # beyond the paper
    assert sc.Item("Fig", 3, "left").label == "Fig 3 (left)"
    for ch in CHAPTERS.values():  # the declaration agrees with the title's closing parenthesis, where it has one
        if ch.title.endswith(")"):
            paren = ch.title.rsplit("(", 1)[1]
            assert all(i.kind in paren and str(i.number) in paren for i in sc.references(ch)), ch.id


def test_figure_table_map_is_what_the_chapters_declare():
    m = {i.label: ids for i, ids in sc.figure_table_map().items()}
    assert m["Table 1"] == ["star-barriers"] and m["Table 2"] == ["ngd-practical"]
    assert m["Fig 5"] == ["star-vgg16-cifar10"] and m["Fig 4"] == ["linear-ngd"]
    assert not any(k.startswith(("Theorem", "Lemma")) for k in m)
    for item, ids in sc.figure_table_map().items():
        for cid in ids:
            assert item in sc.references(CHAPTERS[cid])


@pytest.mark.parametrize("paper, ours, ok", [
    (True, True, True), (True, False, False), (True, 1, None),
    (0, 0, True), (0, 1, False),  # counts: equal
    ("> 0", 3e-7, True), ("> 0", 0.0, False), ("<= 2", 2, True),
    (0.0, 1e-12, True), (0.0, 1e-3, False),  # exact zeros: float64 round-off only
    (4 / 15, 0.2666666666666665, True), (4 / 15, 0.28, False),  # 1 % relative
    (1.0, None, None), (1.0, "nan", False), (1.0, [1, 2], None),
])
def test_judge_rules(paper, ours, ok):
    assert sc.judge(paper, ours) is ok


def test_part3_verdicts_use_the_practical_tolerances():
    ch = CHAPTERS["ngd-practical"]
    v = sc.verdicts(ch, TABLE2["fnn-mnist"], {"ngd": 1.02, "fold_acc": 99.2})  # 1.003 + 0.017; 99.89 − 0.69
    assert v == {"ngd": True, "fold_acc": False}
    v = sc.verdicts(CHAPTERS["star-barriers"], TABLE1["fnn-mnist"], {"fold_acc_barrier": 100.0,
                                                                      "linear_loss_barrier": 9.0})
    assert v["fold_acc_barrier"] is True and v["linear_loss_barrier"] is None  # not judged


def _write(path, chapter, profile, params, metrics, paper, card="cpu (2 threads)", date="2026-01-01"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"chapter": chapter, "profile": profile, "params": params, "metrics": metrics,
                                "paper": paper, "env": {"card": card, "date": date}, "wall_s": 1.0}))
    return path


@pytest.fixture
def fake(tmp_path):
    """A paper-results tree and a build-results tree."""
    paper_dir, builds = tmp_path / "paper", tmp_path / "build"
    params = dict(CHAPTERS["ngd-practical"].resolve("paper", setting="fnn-mnist"))
    params.pop("chapter"), params.pop("profile")
    _write(paper_dir / "fnn-mnist" / "ngd-practical.json", "ngd-practical", "paper",
           dict(params, center_epochs=7), {"ngd": 1.01, "fold_acc": 98.0}, TABLE2["fnn-mnist"], card="H999",
           date="2026-02-02")
    sb = {"setting": "fnn-mnist"}
    old = _write(builds / "cpu" / "star-barriers.json", "star-barriers", "cpu", sb,
                 {"fold_acc_barrier": 99.7, "linear_loss_barrier": 2.0}, TABLE1["fnn-mnist"])
    new = _write(builds / "smoke" / "star-barriers.json", "star-barriers", "smoke", sb,
                 {"fold_acc_barrier": 50.0}, TABLE1["fnn-mnist"])
    os.utime(old, (1, 1)), os.utime(new, (2, 2))  # the smoke one is newer
    _write(builds / "star-barriers-lam0.json", "star-barriers", "paper", sb, {"fold_acc_barrier": 1.0}, {})
    _write(builds / "relu-manifold.json", "relu-manifold", "smoke", {"seed": 0},
           {"max_risk_minima": 1e-30, "min_risk_off": 0.0, "lemma7_agreement": 1.0}, {})
    _write(builds / "relu-ngd-sgd.json", "relu-ngd-sgd", "cpu", {}, {"ngd_decreasing": True}, {})
    (builds / "not-a-result.json").write_text("[1, 2]")
    return paper_dir, builds


def _html_rows(table: str) -> list[list[str]]:
    """The cells of an HTML table, row by row, as text."""
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", table)]


def _rows(card, chapter, setting=None, source=None):
    return [r for r in card.rows if r.chapter == chapter and r.setting == setting
            and (source is None or r.source == source)]


def test_rows_from_a_fake_results_tree(fake):
    paper_dir, builds = fake
    card = sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir)
    # every figure / table of the subset has rows; Table 1 one entry per setting the paper has numbers for
    assert {r.item for r in card.of(True)} == {"Fig 3 (left)", "Fig 4", "Fig 5", "Table 1", "Table 2"}
    t1 = {r.setting for r in card.rows if r.item == "Table 1"}
    assert t1 == {s for s, v in TABLE1.items() if v}
    assert {r.setting for r in card.rows if r.item == "Fig 5"} == {"vgg16-cifar10"}

    # Table 2 fnn-mnist: the recorded paper-scale run, its deviation, its card and date, Part III tolerances
    rows = {r.metric: r for r in _rows(card, "ngd-practical", "fnn-mnist")}
    assert rows["ngd"].source == "paper-scale" and rows["ngd"].paper == TABLE2["fnn-mnist"]["ngd"]
    assert rows["ngd"].ours == 1.01 and rows["ngd"].within is True and rows["fold_acc"].within is False
    assert rows["ngd"].deviations == {"center_epochs": 7}
    assert "H999, 2026-02-02" in rows["ngd"].origin and "center_epochs = 7" in rows["ngd"].origin
    assert "not run at paper scale" not in rows["ngd"].origin

    # Table 1 fnn-mnist: no paper-scale run; the cpu build (more faithful) beats the newer smoke build
    rows = _rows(card, "star-barriers", "fnn-mnist")
    assert {r.source for r in rows} == {"build"} and {r.profile for r in rows} == {"cpu"}
    by = {r.metric: r for r in rows}
    assert by["fold_acc_barrier"].ours == 99.7 and by["fold_acc_barrier"].within is True
    assert by["linear_loss_barrier"].within is None
    assert all("not run at paper scale" in r.origin and "build, `cpu` profile" in r.origin for r in rows)

    # settings nobody ran: one row per paper number, "not run"
    rows = _rows(card, "star-barriers", "vgg16-mnist")
    assert [r.metric for r in rows] == list(TABLE1["vgg16-mnist"]) and {r.source for r in rows} == {"none"}
    assert all(r.ours is None and r.within is None and "not run at paper scale" in r.origin for r in rows)

    # a figure without a number; a theory figure judged by the type rules
    (fig4,) = _rows(card, "linear-ngd")
    assert fig4.metric is None and fig4.source == "none"
    (fig3,) = _rows(card, "relu-ngd-sgd")
    assert fig3.within is True and fig3.profile == "cpu"

    # theorem chapters are in the second table; min_risk_off = 0 violates the paper's "> 0"
    other = {r.metric: r for r in card.of(False)}
    assert {r.chapter for r in card.of(False)} == {"relu-manifold"}
    assert card.of(False)[0].item == "Theorem 6, Lemma 7"
    assert other["max_risk_minima"].within is True and other["min_risk_off"].within is False

    s = card.summary()
    assert s["entries_run_at_paper_scale"] == 1
    assert s["entries"] == s["entries_run_at_paper_scale"] + s["entries_not_run_at_paper_scale"]
    assert s["paper_scale_within_tolerance"] == 1 and s["paper_scale_outside_tolerance"] == 1
    # the reader's table: one line per number (paper-scale and build side by side), linked to the
    # chapter; an item and setting with no run at all is one line
    rows = _html_rows(card.compact_table())
    head, body = rows[0], rows[1:]
    assert head == ["paper item", "the paper", "ours at paper scale", "ours reduced (cpu)", "verdict"]
    groups = {}
    for r, ps, red in card.entries():
        groups.setdefault((r.item, r.setting), []).append(ps or red)
    assert len(body) == sum(len(v) if any(v) else 1 for v in groups.values())
    ngd = next(i for i, r in enumerate(body) if r[:2] == ["Table 2 fnn-mnist", "ngd"])
    assert body[ngd][2:] == ["1.003", "1.01", "not run", "✓ within tolerance"]
    assert body[ngd + 1] == ["fold acc", "99.89", "98", "not run", "✗ outside tolerance"]
    fold = next(r for r in body if r[:2] == ["Table 1 fnn-mnist", "linear loss barrier"])
    assert body[body.index(fold) + 3] == ["fold acc barrier", "99.96", "not run", "99.7 ✓", "no paper-scale run"]
    unrun = next(r for r in body if r[0] == "Table 1 vgg16-mnist")
    assert unrun[1] == "; ".join(f"{k.replace('_', ' ')} {sc.results._fmt(v)}" for k, v in TABLE1["vgg16-mnist"].items())
    assert unrun[2:] == ["not run", "not run", "no run yet"]
    assert 'href="star-barriers.html"' in card.compact_table()
    prov = card.provenance_table()
    assert "center_epochs = 7 (paper: " in prov and "book build, `cpu` profile" in prov


def test_alternate_result_files_and_non_results_are_skipped(fake):
    _, builds = fake
    found = sc.build_results([builds])
    assert {os.path.basename(d["_path"]) for d in found} == {"star-barriers.json", "relu-manifold.json",
                                                             "relu-ngd-sgd.json"}
    assert len(found) == 4  # the cpu and the smoke star-barriers, not star-barriers-lam0


def test_without_builds_every_entry_without_paper_run_says_so(fake):
    paper_dir, builds = fake
    card = sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir, include_builds=False)
    for r in card.rows:
        assert r.source in ("paper-scale", "none")
        if r.source == "none":
            assert "not run at paper scale" in r.origin


def test_chapter_profiles_resolve_and_the_book_order():
    ch = CHAPTERS["scorecard"]
    assert list(CHAPTERS)[0] == "scorecard"  # first chapter after the introduction
    for p in ("smoke", "cpu", "paper"):
        cfg = ch.resolve(p)
        assert cfg.build_results == "" and cfg.include_builds is True
    assert sc.rules_markdown().count("\n") == len(sc.RULES) + 1


def test_unlike_paper_names_what_a_reduced_run_changed():
    ch = CHAPTERS["star-barriers"]
    cpu = dict(ch.resolve("cpu", setting="fnn-mnist"))
    res = {"params": {k: v for k, v in cpu.items() if k not in ("chapter", "profile")}}
    paper = ch.resolve("paper", setting="fnn-mnist")
    diff = sc.unlike_paper(ch, res)
    assert diff and all(paper[k] == p and cpu[k] == v != p for k, (v, p) in diff.items())
    assert set(diff) == {k for k in res["params"] if res["params"][k] != paper[k]}


def test_problems_catch_each_false_case(fake):
    """Each check of Scorecard.problems fails on a scorecard that is wrong in its way."""
    paper_dir, builds = fake
    card = sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir)
    assert card.problems() == []

    # a figure / table named by a chapter with no entry
    gone = sc.Scorecard([r for r in card.rows if r.item != "Fig 4"], card.figure_table, card.found)
    assert any(p.startswith("Fig 4: named by linear-ngd") for p in gone.problems())

    # a build result of a scored chapter that no row shows (e.g. the scorecard ran before it)
    blind = sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir, include_builds=False)
    blind.found = card.found
    assert any("star-barriers fnn-mnist: a build result" in p for p in blind.problems())

    # the paper's number differs from the one the run recorded
    _write(builds / "relu-ngd-sgd.json", "relu-ngd-sgd", "cpu", {}, {"ngd_decreasing": True}, {"ngd_decreasing": False})
    retyped = sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir)
    assert any("relu-ngd-sgd" in p and "ngd_decreasing" in p for p in retyped.problems())

    # a run that names no card or date
    _write(builds / "relu-ngd-sgd.json", "relu-ngd-sgd", "cpu", {}, {"ngd_decreasing": True}, {}, card=None)
    anonymous = sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir)
    assert any("names no card or date" in p for p in anonymous.problems())


def test_details_fold_provenance_and_rules(fake):
    paper_dir, builds = fake
    md = sc.details_markdown(sc.scorecard(chapters(), roots=[builds], paper_dir=paper_dir))
    assert md.count("```{dropdown}") == 2 and md.count("\n```\n") == 2
    assert sc.rules_markdown() in md and "\\tau" in md
