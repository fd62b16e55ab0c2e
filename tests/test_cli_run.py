"""End to end: `python -m starconn run` executes a chapter through papermill with overrides."""
import json

from starconn import cli


def test_run_writes_notebook_and_json_with_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)
    out = tmp_path / "out"
    code = cli.main(["run", "relu-manifold", "--profile", "smoke", "-p", "seed", "3", "-p", "n_minima", "7",
                     "--out", str(out)])
    assert code == 0
    result = json.loads((out / "relu-manifold.json").read_text())
    assert result["chapter"] == "relu-manifold" and result["profile"] == "smoke"
    assert result["params"]["seed"] == 3 and result["params"]["n_minima"] == 7
    assert set(result["paper"]) <= set(result["metrics"])
    assert result["env"]["torch"] and result["wall_s"] is not None
    nb = json.loads((out / "relu-manifold.ipynb").read_text())
    assert any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert sorted(p.name for p in out.iterdir()) == ["relu-manifold.ipynb", "relu-manifold.json"]
