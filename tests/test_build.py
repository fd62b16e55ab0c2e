"""The book build: which chapters run again, in what order, in which interpreter, what it shows.

The re-execution test runs real kernels on two toy notebooks and a toy library (a few seconds each);
the book's own chapters are only read, never executed, here.
"""
import io
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from starconn import build, executed
from starconn.executed import Executions, Library
from starconn.profiles import CHAPTERS


def test_chapters_execute_in_book_order_with_the_scorecard_last():
    order = build.chapters_in_order()
    toc = [Path(f).name for f in build.toc_files() if f.startswith("book/") and Path(f).name in CHAPTERS]
    assert sorted(order) == sorted(toc) == sorted(CHAPTERS)
    assert order[-1] == "scorecard" and order[:-1] == [c for c in toc if c != "scorecard"]


def test_kernel_and_jupyter_book_come_from_this_interpreter():
    assert build.InterpreterKernel().kernel_spec.argv[0] == sys.executable
    cmd = build.jupyter_book_command("build", ".")
    assert cmd[0] == sys.executable and cmd[-2:] == ["build", "."]


def test_parameter_problems_fail_on_a_notebook_unlike_its_chapter():
    nb = nbformat.read(build.BOOK / "star-barriers.ipynb", as_version=4)
    assert build.parameter_problems("star-barriers", nb) == []
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("seed = None", "sed = None") + "\nlam = 1e-3\n"
    problems = build.parameter_problems("star-barriers", nb)
    assert any("'seed' is declared but not" in p for p in problems)
    assert any("'sed' is in the parameters cell" in p for p in problems)
    assert any("'lam' is assigned twice" in p for p in problems)
    cell.metadata["tags"] = []
    assert build.parameter_problems("star-barriers", nb) == ["star-barriers: no code cell tagged 'parameters'"]


def test_progress_line_names_chapter_cell_section_bar_and_estimate():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_markdown_cell("## Minima and their center"), nbformat.v4.new_code_cell("b = 2")])
    out = io.StringIO()
    p = build.Progress(out)
    p.start("[3/15] star-barriers", nb, estimate=600.0)
    try:
        assert "starting the kernel" in p.status() and "~" in p.status() and "last run 10:00" in p.status()
        p.on_cell(3, 2)
        p.on_stderr("\rcenter:  10%|█         | 4/40 [00:01<00:09,  3.9it/s]\rcenter:  20%|██        | 8/40 [00:02<00:08]")
        line = p.status()
        assert line.startswith("[3/15] star-barriers · cell 2/2 'Minima and their center' · center 8/40 · ")
        p.on_cell(4, None)
        assert "finishing" in p.status()
    finally:
        p.finish("[3/15] star-barriers: done")
    assert out.getvalue().rstrip().endswith("[3/15] star-barriers: done")
    assert build.tqdm_state("no bar here") is None
    assert build.tqdm_state("fnn-mnist minima [0, 1]:  50%|#####     | 5/10 [00:05<00:05]") == "fnn-mnist minima [0, 1] 5/10"


def test_staged_notebook_folds_the_parameters_cell_and_keeps_new_prose():
    src = nbformat.read(build.BOOK / "relu-star.ipynb", as_version=4)
    ran = nbformat.read(build.BOOK / "relu-star.ipynb", as_version=4)
    code = [c for c in ran.cells if c.cell_type == "code"]
    code[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    src.cells[0].source += "\n\nA sentence added after the run."
    staged = build.staged_notebook(src, ran)
    assert staged.cells[0].source.endswith("A sentence added after the run.")
    assert [c for c in staged.cells if c.cell_type == "code"][-1].outputs[0]["text"] == "ran\n"
    params = next(c for c in staged.cells if "parameters" in c.metadata.get("tags", []))
    assert "hide-input" in params.metadata["tags"]
    assert "hide-input" not in next(c for c in src.cells if "parameters" in c.metadata.get("tags", [])).metadata["tags"]
    code[0].source += "\nx = 1"
    with pytest.raises(ValueError, match="code differs"):
        executed.merge_outputs(src, ran)


# ---------------------------------------------------------------------------------------------
# re-execution, end to end, on a toy library

NOTEBOOK = """import json, os, sys
import {module}
print(sys.executable)
json.dump({{"chapter": "{name}", "env": {{"data_source": "{source}"}}}}, open(os.path.join("{out}", "{name}.json"), "w"))"""


def _notebook(path: Path, name: str, module: str, source: str, out: Path, prose: str = "# A toy chapter") -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(prose),
        nbformat.v4.new_code_cell("x = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(NOTEBOOK.format(module=module, name=name, source=source, out=out))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def toy(tmp_path):
    """Two notebooks: `uses_a` imports toylib.a and reads no data; `uses_b` imports toylib.b and
    says it read the data directory."""
    lib = tmp_path / "toylib"
    lib.mkdir()
    (lib / "__init__.py").write_text("")
    (lib / "a.py").write_text("A = 1\n")
    (lib / "b.py").write_text("B = 2\n")
    data, out, book = tmp_path / "data", tmp_path / "out", tmp_path / "book"
    for d in (data, out, book):
        d.mkdir()
    (data / "x.bin").write_bytes(b"1234")
    _notebook(book / "uses_a.ipynb", "uses_a", "toylib.a", "none (synthetic)", out)
    _notebook(book / "uses_b.ipynb", "uses_b", "toylib.b", "MNIST", out)
    jobs = [build.Job(n, book / f"{n}.ipynb", lambda nb: {"notebook code": executed.code_digest(nb)}, out / f"{n}.json")
            for n in ("uses_a", "uses_b")]
    # the kernel must come from this interpreter, not from PATH: PATH holds no Python here
    env = dict(os.environ, PYTHONPATH=str(tmp_path), PATH="/nonexistent")
    store, library = Executions(tmp_path / "executed"), Library("toylib", lib, data)

    def run():
        return build.execute_all(jobs, store, library, env, 60, build.Progress(io.StringIO()))

    return run, lib, data, book, out, store


def test_a_library_change_re_executes_exactly_the_chapters_that_use_it(toy):
    run, lib, data, book, out, store = toy
    assert run() == (["uses_a", "uses_b"], [])
    m = store.manifest("uses_a")
    assert set(m["library"]) == {"__init__.py", "a.py"} and m["data"] is None and m["executor"] == "build"
    assert store.manifest("uses_b")["data"] is not None  # it said it read data
    printed = [o["text"] for c in store.notebook("uses_a").cells for o in c.get("outputs", []) if o.get("name") == "stdout"]
    assert printed == [sys.executable + "\n"]  # the kernel ran this interpreter

    assert run() == ([], [])  # nothing changed: nothing runs

    (lib / "b.py").write_text("B = 3\n")
    assert run() == (["uses_b"], [])
    assert store.stale("uses_a", {"notebook code": executed.code_digest(nbformat.read(book / "uses_a.ipynb", 4))},
                       Library("toylib", lib, data)) == []

    (data / "x.bin").write_bytes(b"12345")  # the data changed: only the chapter that read data runs
    assert run() == (["uses_b"], [])

    _notebook(book / "uses_a.ipynb", "uses_a", "toylib.a", "none (synthetic)", out, prose="# New prose only")
    assert run() == ([], [])  # prose is not an input (the staged page takes it from the source)

    (out / "uses_a.json").write_text(json.dumps({"chapter": "uses_a", "overwritten": True}))
    assert run() == (["uses_a"], [])  # its results JSON was overwritten by another run


def test_a_failing_chapter_is_reported_and_kept_aside(toy, tmp_path):
    run, lib, data, book, out, store = toy
    (lib / "a.py").write_text("raise ValueError('broken library')\n")
    ran, failed = run()
    assert ran == ["uses_b"] and failed == ["uses_a"]
    bad = nbformat.read(store.dir / "uses_a.failed.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in bad.cells for o in c.get("outputs", []))
    assert store.manifest("uses_a") is None
