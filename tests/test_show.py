"""`python -m starconn show`: every parameter of a run with its value, origin and reason.

The golden files in tests/golden/ are the exact output of two commands; a change to a protocol or
to the printout shows up as their diff (regenerate on purpose with STARCONN_UPDATE_GOLDEN=1).
"""
import json
import os
from pathlib import Path

import pytest

import starconn
from starconn import cli
from starconn.params import Chapter, Param
from starconn.profiles.practical import CENTER_EPOCHS, CONV, PROTOCOL
from starconn.protocol import ORIGINS, Protocol, Rule, Value, choice, paper, table

GOLDEN = Path(__file__).parent / "golden"
COMMANDS = {
    "show-star-barriers-paper-vgg16-cifar10.txt": ["star-barriers", "--profile", "paper", "-p", "setting",
                                                   "vgg16-cifar10"],
    "show-relu-ngd-sgd-cpu-seed3.txt": ["relu-ngd-sgd", "--profile", "cpu", "-p", "seed", "3"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_show_prints_what_the_golden_file_holds(name, capsys):
    assert cli.main(["show", *COMMANDS[name]]) == 0
    printed = capsys.readouterr().out
    if os.environ.get("STARCONN_UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(printed)
    assert printed == (GOLDEN / name).read_text()


def test_show_names_every_parameter_once_with_its_value_and_origin(capsys):
    ch = starconn.CHAPTERS["ngd-practical"]
    assert cli.main(["show", "ngd-practical", "--profile", "cpu", "-p", "setting", "vgg16-mnist",
                     "-p", "lam", "1e-4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    explained = ch.explain("cpu", setting="vgg16-mnist", lam=1e-4)
    for name, v in explained.items():
        (row,) = [ln for ln in lines if ln.split(" ", 1)[0] == name]
        value = v.value if isinstance(v.value, str) else json.dumps(v.value)
        assert row.split()[0] == name and f" {value} " in row and f" {v.origin} " in f"{row} " and v.reason in row
    assert explained["lam"] == Value(1e-4, "override") and explained["setting"].origin == "override"
    assert explained["center_epochs"].value == 48 and explained["center_epochs"].origin == "profile"  # 24 × 2 minima
    assert explained["B_t"].origin == "paper" and explained["epochs"].origin == "profile"


def test_every_value_of_every_chapter_has_an_origin_and_the_paper_profile_reduces_nothing():
    for ch in starconn.CHAPTERS.values():
        for setting in ch.settings():
            given = {"setting": setting} if setting else {}
            paper_values = ch.explain("paper", **given)
            for profile in ("smoke", "cpu", "paper"):
                for name, v in ch.explain(profile, **given).items():
                    assert v.origin in ORIGINS, (ch.id, setting, profile, name)
                    if profile == "paper":
                        assert v.origin != "profile", (ch.id, setting, name)
                    elif v.origin == "profile":  # a reduction changes the paper profile's value
                        assert v.value != paper_values[name].value or "rule" in v.reason, (ch.id, setting, profile, name)
                    assert v.origin == "override" or v.reason, (ch.id, setting, profile, name)


def test_a_given_value_is_an_override_and_a_rule_follows_the_given_values():
    ch = starconn.CHAPTERS["star-barriers"]
    v = ch.explain("cpu", setting="resnet18-cifar10", n_minima=3)
    assert v["setting"].origin == v["n_minima"].origin == "override"
    assert v["center_epochs"].value == 72 and v["center_epochs"].origin == "profile" and "24 × n_minima" in v["center_epochs"].reason
    assert ch.explain("cpu", setting="resnet18-cifar10", center_epochs=5)["center_epochs"] == Value(5, "override")
    assert ch.explain("cpu", setting="fnn-mnist")["center_epochs"].origin == "profile"  # the FNN: no rule
    assert "rule" not in ch.explain("cpu", setting="fnn-mnist")["center_epochs"].reason
    assert ch.explain("paper", setting="fnn-mnist")["center_epochs"] == Value(200, "paper", CENTER_EPOCHS)  # Table 1
    conv = ch.explain("paper", setting="vgg16-cifar10")["center_epochs"]  # the conv nets: short of the paper's 200
    assert conv.value == 20 and conv.origin == "deviation" and "GPU budget" in conv.reason
    for chapter in ("star-barriers", "star-vgg16-cifar10"):  # Table 1's and Fig 5's algorithm: no penalty
        for setting in ("fnn-mnist", "vgg16-cifar10"):
            for profile in ("smoke", "cpu", "paper"):
                assert starconn.CHAPTERS[chapter].explain(profile, setting=setting)["lam"].value == 0.0
    b = starconn.CHAPTERS["baselines"].explain("paper", setting="vgg16-cifar10", center_lr=0.02)
    assert b["bezier_lr"].value == b["star_lr"].value == 0.02 and b["bezier_lr"].origin == "choice"


def test_conv_protocols_share_everything_but_the_data_size_and_ensemble():
    base = {k: v for k, v in PROTOCOL["vgg16-cifar10"]["paper"].items() if k not in ("n_train", "ensemble")}
    for s in CONV:
        assert {k: v for k, v in PROTOCOL[s]["paper"].items() if k not in ("n_train", "ensemble")} == base


def _chapter(**kw):
    protocol = table({"smoke": {}, "cpu": {}, "paper": {"a": 1}})
    return Chapter(**{"id": "x", "title": "t", "part": "p", "params": (Param("a", int),), "defaults": protocol, **kw})


def test_a_chapter_declaration_is_checked_when_it_is_made():
    assert _chapter(paper={None: {"m": 1.0}}, reproduces=("Fig 3 (left)", "Theorem 6")).numbers() == {"m": 1.0}
    with pytest.raises(TypeError, match="paper must be"):
        _chapter(paper={"m": 1.0})  # the flat shape
    with pytest.raises(TypeError, match="reproduces"):
        _chapter(reproduces=("Theorems 8 and 9",))
    with pytest.raises(TypeError, match="reproduces"):
        _chapter(reproduces="Table 1")
    with pytest.raises(TypeError, match="unknown parameters"):
        _chapter(defaults=table({"smoke": {}, "cpu": {}, "paper": {"a": 1, "b": 2}}))
    with pytest.raises(TypeError, match="settings"):
        _chapter(defaults=Protocol({"s": table({"smoke": {}, "cpu": {}, "paper": {"a": 1}}).table[None]}))
    with pytest.raises(ValueError, match="reason"):
        choice(1, "")
    with pytest.raises(ValueError, match="origin"):
        Value(1, "folklore")
    assert paper(1).origin == "paper"
    rule = Rule("a", "2 × a", lambda v: 2 * v["a"], "choice", "doubled")
    ch = _chapter(defaults=Protocol(table({"smoke": {}, "cpu": {}, "paper": {"a": 1}}).table, (rule,)))
    assert ch.resolve("paper").a == 2 and ch.resolve("paper", a=5).a == 5
