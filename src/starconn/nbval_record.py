"""pytest plugin: nbval's execution of the book's notebooks is the book's execution.

    STARCONN_PROFILE=smoke STARCONN_OUT=_build/results/smoke \\
        pytest --nbval-lax --nbval-current-env -p starconn.nbval_record book/

runs the notebooks in the order the book executes them (the scorecard, which reads the other
chapters' results, last) and stores every notebook whose cells all passed in
``_build/executed/<profile>/`` with the inputs it ran from (:mod:`starconn.executed`), exactly as
``python -m starconn book`` would; a book build at that profile then renders these executions
instead of executing the chapters again. It records only when ``STARCONN_OUT`` is
``_build/results/<profile>``, the folder where the book build finds the chapters' results.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from queue import Empty

import nbformat
import pytest
from nbval.plugin import IPyNbCell

from . import build, config, executed


def _chapter(item) -> str:
    return Path(str(item.fspath)).stem


def _is_cell(item) -> bool:
    return isinstance(item, IPyNbCell)


def pytest_collection_modifyitems(session, config, items):
    """Book order, the scorecard last (a stable sort: cells keep their order)."""
    order = {c: i for i, c in enumerate(build.chapters_in_order())}
    items.sort(key=lambda it: order.get(_chapter(it), -1) if _is_cell(it) else -1)


class _Run:
    """What the plugin keeps about one notebook while nbval runs its cells."""

    def __init__(self, n_code: int):
        self.n_code, self.wall, self.failed = n_code, 0.0, False
        self.snapshot = build.library().digests()


def _in_kernel(kernel, code: str, timeout: float = 60) -> str:
    """Run ``code`` in nbval's kernel; its stdout."""
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    kernel.await_reply(msg_id, timeout=timeout)
    out = []
    while True:
        try:
            msg = kernel.get_message("iopub", timeout=timeout)
        except Empty:
            break
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return "".join(out)


def _record(nbfile, run: _Run) -> None:
    chapter = _chapter(nbfile)
    if chapter not in build.chapters_in_order():
        return
    profile = config.default_profile()
    if config.out_dir().resolve() != build.results_dir(profile).resolve():
        warnings.warn(f"{chapter}: execution not recorded for the book: STARCONN_OUT is not "
                      f"{build.results_dir(profile)}")
        return
    lib = build.library()
    modules = executed.parse_modules(_in_kernel(nbfile.kernel, executed.modules_code(lib.package)))
    source = nbformat.read(str(nbfile.fspath), as_version=4)
    build.executions(profile).save(chapter, nbfile.nb, build.chapter_inputs(chapter, profile, source), modules,
                                   lib, run.snapshot, run.wall, build.results_dir(profile) / f"{chapter}.json",
                                   executor="nbval")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _is_cell(item):
        yield
        return
    nbfile = item.parent
    run = getattr(nbfile, "_starconn_run", None)
    if run is None:
        run = nbfile._starconn_run = _Run(sum(c.cell_type == "code" for c in nbfile.nb.cells))
    t0 = time.monotonic()
    outcome = yield
    run.wall += time.monotonic() - t0
    if outcome.excinfo is not None:
        run.failed = True
        return
    item.cell.outputs = list(item.test_outputs)
    item.cell.execution_count = item.cell_num + 1
    if item.cell_num == run.n_code - 1 and not run.failed:
        _record(nbfile, run)
