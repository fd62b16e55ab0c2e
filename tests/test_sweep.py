"""`python -m starconn sweep`: a grid of chapter runs on a local Dask cluster."""
import json

import pytest

from starconn import cli, sweep


def test_plan_is_the_product_of_the_repeated_names():
    pts = sweep.plan("relu-manifold", "smoke", [("seed", "0"), ("m", "8"), ("seed", "1"), ("m", "9"), ("seed", "0")])
    assert [p["raw"] for p in pts] == [{"seed": "0", "m": "8"}, {"seed": "0", "m": "9"},
                                       {"seed": "1", "m": "8"}, {"seed": "1", "m": "9"}]
    assert pts[3]["params"] == {"seed": 1, "m": 9} and all(p["profile"] == "smoke" for p in pts)
    assert len({p["run"] for p in pts}) == 4
    assert [p["raw"] for p in sweep.plan("relu-manifold", "smoke", None)] == [{}]


@pytest.mark.parametrize("pairs, needle", [
    ([("seed", "0"), ("seed", "-1")], "'seed'"),       # one bad value among good ones
    ([("no_such", "1")], "unknown parameter 'no_such'"),
    ([("n_minima", "3"), ("p_zero", "0.95")], "'p_zero'"),
])
def test_bad_grid_exits_2_before_any_cluster(pairs, needle, monkeypatch, capsys, tmp_path):
    def no_cluster(*a, **k):
        raise AssertionError("a cluster was started for an invalid grid")

    monkeypatch.setattr(sweep, "_local_cluster", no_cluster)
    argv = ["sweep", "relu-manifold", "--profile", "smoke", "--out", str(tmp_path / "sw")]
    for name, value in pairs:
        argv += ["-p", name, value]
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert needle in err and len(err.splitlines()) == 1 and err.startswith("starconn: error:")
    assert not (tmp_path / "sw").exists()


def test_bad_profile_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sweep, "_local_cluster", lambda *a: pytest.fail("cluster started"))
    assert cli.main(["sweep", "relu-manifold", "--profile", "huge", "-p", "seed", "1"]) == 2
    assert "'profile'" in capsys.readouterr().err


def test_a_failing_run_is_reported_not_raised(tmp_path):
    res = sweep.run_point("no-such-chapter", "smoke", {}, str(tmp_path / "run"))
    assert res["status"] == "failed" and res["error"]
    assert (tmp_path / "run" / "run.log").read_text().strip()
    text = sweep.table("relu-manifold", [{"run": "000-seed-1", "raw": {"seed": "1"}, **res}])
    assert "| 000 | 1 | failed |" in text


def test_sweep_runs_a_grid_on_a_local_cluster(tmp_path, monkeypatch, capsys):
    pytest.importorskip("distributed")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "sw"
    code = cli.main(["sweep", "relu-manifold", "--profile", "smoke", "--workers", "2", "--out", str(out),
                     "-p", "seed", "1", "-p", "seed", "2", "-p", "n_minima", "3", "-p", "n_off", "3"])
    printed = capsys.readouterr().out
    assert code == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["grid"] == {"seed": ["1", "2"], "n_minima": ["3"], "n_off": ["3"]}
    runs = summary["runs"]
    assert [r["status"] for r in runs] == ["ok", "ok"]
    for r, seed in zip(runs, (1, 2)):
        on_disk = json.loads((tmp_path / "sw" / r["run"] / "relu-manifold.json").read_text())
        assert on_disk == r["result"]
        assert on_disk["profile"] == "smoke" and on_disk["params"]["seed"] == seed
        assert on_disk["params"]["n_minima"] == 3
    assert "| run | seed | n_minima | n_off | status | wall_s | max_risk_minima" in printed
    assert printed.count("| ok |") == 2
