"""``python -m starconn book``: execute the chapters whose inputs changed, then render the book.

1. **Execute.** The chapters of ``_toc.yml`` run in book order, those that read the other chapters'
   results (the scorecard) last, each in a kernel of *this* interpreter (not one found by name on
   ``PATH``), into ``_build/executed/<profile>/<chapter>.ipynb``. A chapter whose stored
   execution is current is not run again (:mod:`starconn.executed`: its code, parameters and
   profile, the library modules it loaded, the data, the committed results and, for the
   scorecard, every chapter's results). While a chapter runs, a status line shows the chapter, its
   cell and section, the progress bar it prints (minima, center…), the elapsed time and an
   estimate from the chapter's last recorded wall time.
2. **Stage.** ``_build/source/`` receives ``_toc.yml``, ``_config.yml`` (execution off) and
   ``book/``, each notebook as it is now with the outputs of its execution (an edit of the prose
   needs no re-execution), its ``parameters`` cell tagged ``hide-input`` (folded on the page).
   A file is rewritten only when it changes, so Sphinx re-reads only those pages.
3. **Render.** ``jupyter-book build`` of this interpreter writes ``_build/html`` (skipped when
   nothing staged changed since the last render). A page's download button serves the committed
   notebook (parameterised, without outputs): the one a reader re-runs.
"""
from __future__ import annotations

import ast
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import nbformat
import yaml

from . import config, executed, scorecard
from .executed import Executions, Library
from .profiles import CHAPTERS
from .runner import InterpreterKernel
from .store import key, sha256_file

ROOT = config.REPO_ROOT
BOOK = ROOT / "book"
BUILD = ROOT / "_build"
STAGE = BUILD / "source"
HTML = BUILD / "html"
PACKAGE_DIR = Path(__file__).resolve().parent
CELL_TIMEOUT = {"smoke": 600, "cpu": 3600, "paper": 7200}  # seconds per cell
READS_RESULTS = ("scorecard",)  # chapters that read the other chapters' results: executed last
_JUPYTER_BOOK = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"


# ---------------------------------------------------------------------------------------------
# what the book is made of


def toc_files(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """The documents of the table of contents (paths without suffix), root first."""
    data = yaml.safe_load(Path(toc).read_text())
    files = [data["root"]]

    def walk(node: dict) -> None:
        for k in ("parts", "chapters", "sections"):
            for item in node.get(k) or []:
                if "file" in item:
                    files.append(re.sub(r"\.(md|ipynb)$", "", item["file"]))
                walk(item)

    walk(data)
    return files


def chapters_in_order(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """The notebooks of the table of contents in the order they are executed: book order, the
    chapters that read the others' results last."""
    ids = [Path(f).name for f in toc_files(toc) if (Path(toc).parent / f"{f}.ipynb").is_file()]
    return [c for c in ids if c not in READS_RESULTS] + [c for c in ids if c in READS_RESULTS]


def notebook_parameters(nb: nbformat.NotebookNode) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns, in order ([] without such a cell)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return []
    return [t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)]


def parameter_problems(chapter_id: str, nb: nbformat.NotebookNode) -> list[str]:
    """How a chapter's notebook and its declared parameters disagree ([] when they agree): every
    declared parameter, ``profile`` and ``out`` must be assigned once in the ``parameters`` cell
    (papermill and ``python -m starconn run -p`` set them there), and nothing else."""
    names = notebook_parameters(nb)
    if not names:
        return [f"{chapter_id}: no code cell tagged 'parameters'"]
    declared = ["profile", *(p.name for p in CHAPTERS[chapter_id].params), "out"]
    out = [f"{chapter_id}: parameter {n!r} is declared but not in the parameters cell" for n in declared if n not in names]
    out += [f"{chapter_id}: {n!r} is in the parameters cell but the chapter does not declare it"
            for n in dict.fromkeys(names) if n not in declared]
    out += [f"{chapter_id}: {n!r} is assigned twice in the parameters cell" for n in dict.fromkeys(names)
            if names.count(n) > 1]
    return out


def results_dir(profile: str) -> Path:
    """Where the chapters of a book build write their results JSON (the scorecard reads it)."""
    return BUILD / "results" / profile


def executions(profile: str) -> Executions:
    return Executions(BUILD / "executed" / profile)


def library() -> Library:
    return Library("starconn", PACKAGE_DIR, config.data_dir())


def environment() -> dict[str, str]:
    """Software and device a chapter's numbers depend on (beyond the library itself)."""
    import torch

    dev = config.device()
    return {"python": platform.python_version(), "torch": torch.__version__, "device": str(dev),
            "card": config.device_name(dev) if dev.type == "cuda" else platform.machine()}


def chapter_inputs(chapter_id: str, profile: str, nb: nbformat.NotebookNode) -> dict[str, str]:
    """The digests an execution of ``chapter_id`` at ``profile`` depends on, known before it runs."""
    cfg = dict(CHAPTERS[chapter_id].resolve(profile))
    inputs = {"notebook code": executed.code_digest(nb), "parameters": key(cfg), "software": key(environment()),
              "committed results": executed.tree_digest(ROOT / "results", "**/*.json")}
    if chapter_id in READS_RESULTS:
        # what the scorecard reads in the chapter's kernel (STARCONN_OUT = results_dir(profile))
        others = [p for p in scorecard.result_files([results_dir(profile), BUILD / "results"])
                  if p.stem not in READS_RESULTS]
        inputs["chapter results"] = key({str(p.relative_to(BUILD)): sha256_file(p) for p in others})
    return inputs


def kernel_env(profile: str) -> dict[str, str]:
    """The chapters' environment: the profile, where results go, no MPLBACKEND (papermill + Agg
    drops figures), and this library first on ``PYTHONPATH`` (the code whose digest is kept)."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(STARCONN_PROFILE=profile, STARCONN_OUT=str(results_dir(profile)))
    for var in ("STARCONN_DATA", "STARCONN_CACHE"):  # chapters run with cwd book/
        if env.get(var):
            env[var] = str(Path(env[var]).expanduser().resolve())
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_DIR.parent)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


# ---------------------------------------------------------------------------------------------
# progress


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


_BAR = re.compile(r"(?P<desc>[^\r\n|]*?):\s*\d+%\|[^|]*\|\s*(?P<n>[\d.]+[kMG]?)/(?P<total>[\d.]+[kMG]?)")


def tqdm_state(text: str) -> str | None:
    """``"center 12/40"`` from the last progress-bar update in a chunk of a chapter's stderr."""
    for seg in reversed(re.split(r"[\r\n]", text)):
        m = _BAR.search(seg)
        if m:
            return f"{m['desc'].strip()} {m['n']}/{m['total']}".strip()
    return None


def headings(nb: nbformat.NotebookNode) -> list[str]:
    """For every cell, the title of the section it is in (the last Markdown heading before it)."""
    out, current = [], ""
    for c in nb.cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("#"):
                    current = line.lstrip("#").strip()
        out.append(current)
    return out


class Progress:
    """The build's account on a terminal: one status line while a chapter runs (redrawn in place
    on a terminal; in a log, a new line when the cell or progress bar changes and at least every
    ``every`` seconds), one line when it ends."""

    def __init__(self, stream: TextIO | None = None, every: float = 30.0):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.label, self.estimate, self.sections, self.n_code = "", None, [], 0
        self.cell, self.code_index, self.bar, self.finishing = -1, 0, None, False
        self.t0 = self._printed_at = time.monotonic()
        self._printed_key: tuple = ()

    def say(self, line: str) -> None:
        with self._lock:
            self._clear()
            print(line, file=self.stream, flush=True)

    def start(self, label: str, nb: nbformat.NotebookNode, estimate: float | None) -> None:
        self.label, self.estimate, self.sections = label, estimate, headings(nb)
        self.n_code = sum(c.cell_type == "code" for c in nb.cells)
        self.cell, self.code_index, self.bar, self.finishing, self._printed_key = -1, 0, None, False, ()
        self.t0 = self._printed_at = time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def on_cell(self, index: int, code_index: int | None) -> None:
        """A cell starts (``code_index`` None: the build's own probe after the last cell)."""
        with self._lock:
            self.cell, self.code_index, self.bar = index, code_index or self.code_index, None
            self.finishing = code_index is None

    def on_stderr(self, text: str) -> None:
        bar = tqdm_state(text)
        if bar:
            with self._lock:
                self.bar = bar

    def finish(self, line: str) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.say(line)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def status(self) -> str:
        el = self.elapsed()
        if self.estimate is None:
            clock = f"{_clock(el)} elapsed (no earlier run)"
        elif el < self.estimate:
            clock = f"{_clock(el)} elapsed, ~{_clock(self.estimate - el)} left (last run {_clock(self.estimate)})"
        else:
            clock = f"{_clock(el)} elapsed (last run took {_clock(self.estimate)})"
        parts = [self.label]
        if self.cell < 0:
            parts.append("starting the kernel")
        elif self.finishing:
            parts.append("finishing")
        else:
            section = self.sections[self.cell] if self.cell < len(self.sections) else ""
            parts.append(f"cell {self.code_index}/{self.n_code}" + (f" {section!r}" if section else ""))
        if self.bar:
            parts.append(self.bar)
        return " · ".join(parts + [clock])

    def _clear(self) -> None:
        if self.tty:
            print("\r\033[K", end="", file=self.stream)

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                line = self.status()
                now = time.monotonic()
                if self.tty:
                    width = shutil.get_terminal_size((120, 20)).columns - 1
                    print("\r\033[K" + line[:width], end="", file=self.stream, flush=True)
                    continue
                key_ = (self.cell, (self.bar or "").rsplit(" ", 1)[0])
                if key_ != self._printed_key or now - self._printed_at >= self.every:
                    print(line, file=self.stream, flush=True)
                    self._printed_key, self._printed_at = key_, now


# ---------------------------------------------------------------------------------------------
# executing one notebook


class ChapterFailed(RuntimeError):
    """A chapter's notebook raised (e.g. its claim cell failed) or its kernel died."""


def jupyter_book_command(*args: str) -> list[str]:
    """``jupyter-book ARGS`` run by this interpreter (not found by name on ``PATH``)."""
    return [sys.executable, "-c", _JUPYTER_BOOK, *args]


def _client(nb: nbformat.NotebookNode, progress: Progress, code_index: dict[int, int], **kw: Any):
    """An nbclient executor whose kernel is this interpreter and which feeds ``progress``."""
    from nbclient import NotebookClient

    class Client(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "stream" and msg["content"].get("name") == "stderr":
                progress.on_stderr(msg["content"].get("text", ""))
            return super().output(outs, msg, display_id, cell_index)

    return Client(nb, kernel_manager_class=InterpreterKernel, kernel_name="python3", coalesce_streams=True,
                  on_cell_start=lambda cell, cell_index: progress.on_cell(cell_index, code_index.get(cell_index)),
                  **kw)


def run_notebook(path: Path, env: dict[str, str], timeout: int, progress: Progress, package: str,
                 failed: Path, log: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """Execute the notebook at ``path`` (cwd: its folder) in a kernel of this interpreter; return
    the executed notebook and the modules of ``package`` it loaded. On an error the executed
    notebook is written to ``failed`` and :class:`ChapterFailed` says where it stopped; the
    kernel's own stderr goes to ``log``."""
    from nbclient.exceptions import CellControlSignal, CellExecutionError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    code_index = {i: n for n, i in enumerate((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), 1)}
    probe = nbformat.v4.new_code_cell(executed.modules_code(package))
    nb.cells.append(probe)
    client = _client(nb, progress, code_index, timeout=timeout, resources={"metadata": {"path": str(path.parent)}})
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log, "w") as err:
            client.execute(cwd=str(path.parent), env=env, stderr=err)
    except (CellControlSignal, DeadKernelError, TimeoutError, RuntimeError) as e:
        nb.cells.pop()
        nbformat.write(nb, failed)
        where = f"cell {progress.code_index}/{progress.n_code}"
        what = f"{e.ename}: {e.evalue}" if isinstance(e, CellExecutionError) else f"{type(e).__name__}: {e}"
        raise ChapterFailed(f"{where}: {what.strip().splitlines()[0] if what.strip() else what}") from None
    nb.cells.pop()
    stdout = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout")
    return nb, executed.parse_modules(stdout)


# ---------------------------------------------------------------------------------------------
# executing the book


@dataclass
class Job:
    """One notebook to execute: its name, file, inputs (evaluated just before the staleness check,
    when the results of the jobs before it exist) and the results JSON it writes."""

    name: str
    notebook: Path
    inputs: Callable[[nbformat.NotebookNode], dict[str, str]]
    result: Path | None = None


def execute_all(jobs: list[Job], store: Executions, lib: Library, env: dict[str, str], timeout: int,
                progress: Progress, execute: bool = True) -> tuple[list[str], list[str]]:
    """Execute, in order, the jobs whose stored execution is stale; return (executed, failed).
    With ``execute=False`` a stale job is not run but counted as failed."""
    ran, failed = [], []
    for k, job in enumerate(jobs, 1):
        label = f"[{k:{len(str(len(jobs)))}d}/{len(jobs)}] {job.name}"
        if failed and job.name in READS_RESULTS:
            progress.say(f"{label}: not executed (a chapter before it failed)")
            continue
        source = nbformat.read(job.notebook, as_version=4)
        inputs = job.inputs(source)
        why = store.stale(job.name, inputs, lib)
        last = store.wall_s(job.name)
        if not why:
            progress.say(f"{label}: up to date (last run {_clock(last or 0)})")
            continue
        if not execute:
            progress.say(f"{label}: STALE ({'; '.join(why)}) and execution is off")
            failed.append(job.name)
            continue
        progress.say(f"{label}: executing ({'; '.join(why)})")
        snapshot = lib.digests()
        progress.start(label, source, last)
        try:
            nb, modules = run_notebook(job.notebook, env, timeout, progress, lib.package,
                                       failed=store.dir / f"{job.name}.failed.ipynb",
                                       log=store.dir / f"{job.name}.kernel.log")
        except ChapterFailed as err:
            progress.finish(f"{label}: FAILED after {_clock(progress.elapsed())} in {err} "
                            f"(executed notebook: {_relative(store.dir / (job.name + '.failed.ipynb'))})")
            failed.append(job.name)
            continue
        wall = progress.elapsed()
        log = store.dir / f"{job.name}.kernel.log"
        if log.is_file() and log.stat().st_size == 0:
            log.unlink()
        store.save(job.name, nb, inputs, modules, lib, snapshot, wall, job.result, executor="build")
        (store.dir / f"{job.name}.failed.ipynb").unlink(missing_ok=True)
        progress.finish(f"{label}: done in {_clock(wall)}" + (f" (last run {_clock(last)})" if last else ""))
        ran.append(job.name)
    return ran, failed


def _relative(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def book_jobs(profile: str) -> list[Job]:
    return [Job(c, BOOK / f"{c}.ipynb", lambda nb, c=c: chapter_inputs(c, profile, nb),
                results_dir(profile) / f"{c}.json") for c in chapters_in_order()]


def wall_table(profile: str) -> str:
    """Each chapter's wall time at ``profile`` (its last recorded execution), and the total."""
    store = executions(profile)
    walls = {c: store.wall_s(c) for c in chapters_in_order()}
    width = max(map(len, walls))
    lines = [f"  {c:{width}s} {_clock(w) if w is not None else '—':>8s}" for c, w in walls.items()]
    total = sum(w for w in walls.values() if w)
    return "\n".join([f"wall time per chapter ({profile} profile, last execution of each):", *lines,
                      f"  {'total':{width}s} {_clock(total):>8s}"])


# ---------------------------------------------------------------------------------------------
# staging and rendering


def staged_notebook(source: nbformat.NotebookNode, ran: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The page's notebook: the current source with the outputs of its execution, the
    ``parameters`` cell folded (``hide-input``)."""
    nb = executed.merge_outputs(source, ran)
    for c in nb.cells:
        tags = c.metadata.get("tags", [])
        if "parameters" in tags and "hide-input" not in tags:
            c.metadata["tags"] = [*tags, "hide-input"]
    return nb


def stage(profile: str, chapters: list[str]) -> str:
    """Write the staged source tree (only files whose bytes change); return its digest."""
    store = executions(profile)
    files = {name: (ROOT / name).read_bytes() for name in ("_toc.yml", "_config.yml")}  # execution off
    for p in sorted(BOOK.rglob("*")):
        rel = p.relative_to(ROOT)
        if not p.is_file() or ".ipynb_checkpoints" in rel.parts:
            continue
        if p.suffix == ".ipynb":
            if p.stem in chapters:
                nb = staged_notebook(nbformat.read(p, as_version=4), store.notebook(p.stem))
                files[str(rel)] = nbformat.writes(nb).encode()
        else:
            files[str(rel)] = p.read_bytes()
    STAGE.mkdir(parents=True, exist_ok=True)
    for old in [q for q in STAGE.rglob("*") if q.is_file() and str(q.relative_to(STAGE)) not in files]:
        old.unlink()
    h = hashlib.sha256()
    for rel, data in sorted(files.items()):
        target = STAGE / rel
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update((PACKAGE_DIR / "sphinx_offline.py").read_bytes())
    return h.hexdigest()[:20]


def render(digest: str) -> int:
    """``jupyter-book build`` of the staged tree into ``_build/html`` (skipped when the stage is
    what was rendered last); then each page's download serves the committed notebook."""
    stamp = HTML / ".starconn-stage"
    if (HTML / "index.html").is_file() and stamp.is_file() and stamp.read_text() == digest:
        print("site up to date: nothing staged changed since the last render", file=sys.stderr)
        return 0
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    rc = subprocess.call(jupyter_book_command("build", str(STAGE), "--path-output", str(ROOT)), env=env)
    if rc != 0:
        return rc
    sources = HTML / "_sources" / "book"
    for nb in BOOK.glob("*.ipynb"):
        if (sources / nb.name).is_file():
            shutil.copyfile(nb, sources / nb.name)
    stamp.write_text(digest)
    return 0


def build(profile: str, execute: bool = True, stream: TextIO | None = None) -> int:
    """Execute what is stale at ``profile``, stage, render; 0 on success (1: a chapter failed).
    ``execute=False``: render the stored executions, failing if one is missing or stale (after
    ``make notebooks``, this checks that the book reuses nbval's executions)."""
    progress = Progress(stream)
    jobs = book_jobs(profile)
    progress.say(f"book, {profile} profile: {len(jobs)} chapters; executions in "
                 f"{_relative(executions(profile).dir)}, results in {_relative(results_dir(profile))}")
    ran, failed = execute_all(jobs, executions(profile), library(), kernel_env(profile),
                              CELL_TIMEOUT[profile], progress, execute)
    if failed:
        progress.say(f"{len(failed)} chapter(s) {'failed' if execute else 'stale'}: {', '.join(failed)}; "
                     "the site is not rendered")
        return 1
    if ran:
        progress.say(wall_table(profile))
    return render(stage(profile, [j.name for j in jobs]))
