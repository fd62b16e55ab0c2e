import json

import nbformat
import pytest

import starconn
from starconn import build, cli, runner
from starconn.errors import ParamError
from starconn.params import Param


def test_every_chapter_resolves_at_every_profile():
    for ch in starconn.CHAPTERS.values():
        for profile in ("smoke", "cpu", "paper"):
            cfg = ch.resolve(profile)
            assert cfg.profile == profile and cfg.chapter == ch.id
        # every declared parameter is settable: the notebook's parameters cell assigns exactly those
        assert build.parameter_problems(ch.id, nbformat.read(build.BOOK / f"{ch.id}.ipynb", as_version=4)) == []


def test_none_takes_profile_default_and_override_wins():
    ch = starconn.CHAPTERS["star-barriers"]
    assert ch.resolve("smoke", epochs=None).epochs == ch.resolve("smoke").epochs
    assert ch.resolve("smoke", epochs=7).epochs == 7


def test_conv_cpu_center_search_grows_with_the_number_of_minima():
    from starconn.profiles.practical import CPU_CENTER_EPOCHS_PER_FOOT as per_foot

    def epochs(chapter, **given):
        return starconn.CHAPTERS[chapter].resolve("cpu", **given).center_epochs

    assert epochs("star-barriers", setting="vgg16-cifar10") == 5 * per_foot
    assert epochs("star-barriers", setting="resnet18-cifar10", n_minima=3) == 3 * per_foot
    assert epochs("star-vgg16-cifar10") == 3 * per_foot
    assert epochs("ngd-practical", setting="vgg16-mnist") == 2 * per_foot
    assert epochs("star-barriers", setting="vgg16-cifar10", center_epochs=7) == 7  # a given value wins
    assert epochs("star-barriers", setting="fnn-mnist") == epochs("ngd-practical", setting="fnn-mnist")  # FNN: fixed


@pytest.mark.parametrize("given, words", [
    ({"epochs": 0}, ["'epochs'", ">= 1"]),
    ({"epochs": "ten"}, ["'epochs'", "integer"]),
    ({"setting": "vgg99"}, ["'setting'", "fnn-mnist"]),
    ({"schedule": "step"}, ["'schedule'", "cosine", "constant"]),
    ({"amp": 1}, ["'amp'", "true or false"]),
    ({"bogus": 1}, ["unknown parameter 'bogus'", "allowed:"]),
])
def test_bad_values_name_the_parameter_and_the_allowed_values(given, words):
    with pytest.raises(ParamError) as err:
        starconn.CHAPTERS["star-barriers"].resolve("smoke", **given)
    for w in words:
        assert w in str(err.value)


def test_profile_validation(monkeypatch):
    with pytest.raises(ParamError, match="'profile' must be one of smoke, cpu, paper"):
        starconn.CHAPTERS["star-barriers"].resolve("huge")
    monkeypatch.setenv("STARCONN_PROFILE", "tiny")
    with pytest.raises(ParamError, match="STARCONN_PROFILE"):
        starconn.CHAPTERS["star-barriers"].resolve()


def test_an_empty_list_is_refused_where_the_chapter_needs_values():
    """Every list parameter of every chapter: [] is a one-line error naming it, unless the parameter
    says it may be empty (no study, no λ variant, no kept centers; geodesic-estimate's widths of a setting: the
    setting is skipped); every profile's own value has the length it needs."""
    lists = [(ch, p) for ch in starconn.CHAPTERS.values() for p in ch.params if p.kind is list]
    assert len(lists) >= 12
    for ch, p in lists:
        if p.min_len == 0:
            assert ch.resolve("smoke", **{p.name: []})[p.name] == []
            continue
        with pytest.raises(ParamError) as err:
            ch.resolve("smoke", **{p.name: []})
        assert f"{p.name!r}" in str(err.value) and "\n" not in str(err.value), (ch.id, p.name)
        for profile in ("smoke", "cpu", "paper"):
            assert len(ch.resolve(profile)[p.name]) >= p.min_len, (ch.id, p.name, profile)
    assert sorted(p.name for ch, p in lists if p.min_len == 0) == sorted(
        ["study_epochs", "variant_lams", "convergence_at", "convergence_at", "relu_widths", "linear_widths", "fnn_widths"])
    beta = starconn.CHAPTERS["baselines"].param("star_beta")
    with pytest.raises(ParamError, match=r"a list of numbers \(exactly 2\)"):
        beta.check([2.0, 2.0, 2.0])
    assert beta.check([1, 3]) == [1, 3]


def test_cli_parsing_of_values():
    p = Param("lams", list, low=0.0)
    assert p.parse("[1e-4, 0.001]") == [1e-4, 1e-3]
    assert p.parse("0.5") == [0.5]
    with pytest.raises(ParamError):
        p.parse("[-1]")
    inits = starconn.CHAPTERS["ngd-practical"].param("inits")  # a list of choices
    assert inits.parse('["foot", "fresh"]') == ["foot", "fresh"] and inits.parse("mean") == ["mean"]
    with pytest.raises(ParamError, match=r"'inits' must be a list \(at least 1\) of mean, foot, fresh; got \['zero'\]"):
        inits.parse('["zero"]')
    with pytest.raises(ParamError, match="'inits'"):
        inits.check([0.5])
    assert Param("amp", bool).parse("true") is True
    assert Param("lr", float).parse("1") == 1.0


@pytest.mark.parametrize("argv, words", [
    (["run", "nope"], ["unknown chapter 'nope'", "star-barriers"]),
    (["run", "star-barriers", "--profile", "big"], ["'profile'", "smoke, cpu, paper"]),
    (["run", "star-barriers", "-p", "epochs", "-3"], ["'epochs'", ">= 1"]),
    (["run", "star-barriers", "-p", "widht", "2"], ["unknown parameter 'widht'"]),
    (["run", "ngd-practical", "-p", "lams", "[]"], ["'lams'", "at least 1"]),
    (["show", "star-barriers", "-p", "lams", "1"], ["unknown parameter 'lams'"]),
    (["show", "nope"], ["unknown chapter 'nope'"]),
    (["book", "--profile", "x"], ["'profile'"]),
])
def test_cli_errors_exit_2_before_any_work(argv, words, capsys, tmp_path):
    out = tmp_path / "out"
    code = cli.main(argv + (["--out", str(out)] if argv[0] == "run" else []))
    printed = capsys.readouterr()
    err = printed.err
    assert not printed.out
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("starconn: error:")
    for w in words:
        assert w in err
    assert not out.exists()


def test_cli_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "star-barriers" in out and "ngd-practical" in out


def test_every_notebook_declares_its_chapter_parameters():
    """The parameters cell of book/<id>.ipynb lists exactly profile, the chapter's params and out."""
    for ch in starconn.CHAPTERS.values():
        nb = json.loads((runner.BOOK / f"{ch.id}.ipynb").read_text())
        cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(cells) == 1, ch.id
        src = "".join(cells[0]["source"])
        names = {line.split("=")[0].strip() for line in src.splitlines() if "=" in line}
        assert names == {"profile", "out"} | {p.name for p in ch.params}, ch.id
        assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_table_of_contents_lists_every_chapter_in_order():
    import yaml

    from starconn import config
    from starconn.profiles import CHAPTERS, PARTS

    toc = yaml.safe_load((config.REPO_ROOT / "_toc.yml").read_text())
    assert [p["caption"] for p in toc["parts"]] == list(PARTS)
    files = [c["file"] for p in toc["parts"] for c in p["chapters"]]
    assert files == [f"book/{cid}" for cid in CHAPTERS]
    assert all((config.REPO_ROOT / f"{f}.ipynb").is_file() for f in files)
