"""End to end: `python -m starconn run` executes a chapter through papermill with overrides."""
import json
import os
import subprocess
import sys
from pathlib import Path


def test_run_by_an_environment_not_activated_writes_notebook_and_json_with_overrides(tmp_path):
    """`.venv/bin/python -m starconn run …` as scripts and IDEs start it: the environment's `bin/` is
    not on PATH, and a `python3` kernel spec found first (here through JUPYTER_PATH, as a user's own
    `ipykernel install --user` of another Python would be) points at a Python that does not exist.
    The chapter's kernel must still be this interpreter."""
    here = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != here)
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "another Python", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "VIRTUAL_ENV")}
    env.update(PATH=path or "/usr/bin:/bin", JUPYTER_PATH=str(tmp_path / "jupyter"))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "starconn", "run", "relu-manifold", "--profile", "smoke",
                           "-p", "seed", "3", "-p", "n_minima", "7", "--out", str(out)],
                          env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "relu-manifold.json").read_text())
    assert result["chapter"] == "relu-manifold" and result["profile"] == "smoke"
    assert result["params"]["seed"] == 3 and result["params"]["n_minima"] == 7
    assert set(result["paper"]) <= set(result["metrics"])
    assert result["env"]["torch"] and result["wall_s"] is not None
    nb = json.loads((out / "relu-manifold.ipynb").read_text())
    assert any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert sorted(p.name for p in out.iterdir()) == ["relu-manifold.ipynb", "relu-manifold.json"]
