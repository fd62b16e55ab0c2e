"""Executed notebooks, each kept with the inputs it ran from, and reused while they are unchanged.

An execution of a chapter is ``<dir>/<chapter>.ipynb`` with a manifest ``<dir>/<chapter>.json``
(``dir`` is ``_build/executed/<profile>``). The manifest records what the run depended on:

* ``inputs``: digests known before the run: the notebook's code cells (sources, tags and kernel
  name; prose is not an input, see :func:`merge_outputs`), the chapter's resolved parameters at the
  profile, the Python / torch versions and device, the committed results (``results/``) and, for a
  chapter that reads other chapters' results (the scorecard), those results;
* ``library``: the SHA-256 of every module of the package that was loaded in the kernel when the
  chapter finished (read from the kernel's ``sys.modules``, so a chapter depends on exactly the
  library code it imported);
* ``data``: the identity of the data directory (every file's path, size and modification time),
  unless the chapter's results JSON says it used no data;
* ``result``: the results JSON the chapter wrote and its SHA-256 (a run elsewhere that overwrote
  it makes the execution stale).

:meth:`Executions.stale` recomputes each digest and returns why the chapter must run again (an
empty list: reuse it). Both executors of the book write here: ``starconn.build`` and the nbval
run of ``make test`` (``starconn.nbval_record``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .store import atomic_write, key, sha256_file

SCHEMA = 1
NO_DATA = "none"  # results.env_info's data_source starts with this when a chapter read no data

# Run in the kernel after the last cell: the package's loaded modules, as paths relative to the
# package directory (one JSON line on stdout).
_MODULES = """import json as _j, sys as _s, os as _o
_p = _s.modules.get({package!r})
_d = _o.path.dirname(_p.__file__) if _p is not None else None
print(_j.dumps(sorted({{_o.path.relpath(m.__file__, _d) for n, m in list(_s.modules.items())
    if _d and (n == {package!r} or n.startswith({package!r} + '.')) and getattr(m, '__file__', None)}})))"""


def modules_code(package: str) -> str:
    """Code that prints the loaded modules of ``package`` (run it in the chapter's kernel)."""
    return _MODULES.format(package=package)


def parse_modules(stdout: str) -> list[str]:
    """The module paths printed by :func:`modules_code` (its last line)."""
    lines = [ln for ln in stdout.strip().splitlines() if ln.strip()]
    if not lines:
        raise RuntimeError("the kernel did not report its loaded modules")
    return json.loads(lines[-1])


def code_digest(nb: nbformat.NotebookNode) -> str:
    """What of a notebook its execution depends on: code cells (source, tags) and the kernel."""
    cells = [(c.source, sorted(c.get("metadata", {}).get("tags", []))) for c in nb.cells if c.cell_type == "code"]
    return key({"cells": cells, "kernel": nb.metadata.get("kernelspec", {}).get("name")})


def tree_digest(root: Path, pattern: str = "**/*") -> str:
    """SHA-256 over the relative paths and contents of the files under ``root`` that match
    ``pattern`` (small trees)."""
    root = Path(root)
    h = hashlib.sha256()
    if root.is_dir():
        for p in sorted(q for q in root.glob(pattern) if q.is_file()):
            h.update(f"{p.relative_to(root)}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()[:20]


def data_identity(data_dir: Path) -> str:
    """Identity of a data directory, cheaply: every file's relative path, size and mtime."""
    root = Path(data_dir)
    h = hashlib.sha256()
    if root.is_dir():
        for dirpath, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                p = Path(dirpath) / name
                try:
                    st = p.stat()
                except OSError:
                    continue
                h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class Library:
    """The package a chapter's kernel imports: its name, its directory, and the data directory."""

    package: str
    root: Path
    data_dir: Path

    def digests(self, modules: list[str] | None = None) -> dict[str, str | None]:
        """SHA-256 (20 hex digits) of the given module files, or of every file of the package."""
        if modules is None:
            modules = [str(p.relative_to(self.root)) for p in self.root.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts]
        return {m: (sha256_file(self.root / m)[:20] if (self.root / m).is_file() else None) for m in modules}


def merge_outputs(source: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``source`` (the current notebook, prose included) with the outputs of ``executed``, code
    cell by code cell; they must have the same code (same :func:`code_digest`)."""
    out = nbformat.from_dict(json.loads(json.dumps(source)))  # a deep copy
    ran = [c for c in executed.cells if c.cell_type == "code"]
    mine = [c for c in out.cells if c.cell_type == "code"]
    if [c.source for c in ran] != [c.source for c in mine]:
        raise ValueError("the executed notebook's code differs from the source notebook's")
    for c, r in zip(mine, ran):
        c.outputs, c.execution_count = r.get("outputs", []), r.get("execution_count")
    for k in ("language_info",):
        if k in executed.metadata:
            out.metadata[k] = executed.metadata[k]
    return out


class Executions:
    """The executions of one profile: ``<dir>/<chapter>.ipynb`` and ``<dir>/<chapter>.json``."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)

    def manifest(self, name: str) -> dict | None:
        try:
            m = json.loads((self.dir / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None
        return m if isinstance(m, dict) and m.get("schema") == SCHEMA else None

    def notebook(self, name: str) -> nbformat.NotebookNode:
        return nbformat.read(self.dir / f"{name}.ipynb", as_version=4)

    def stale(self, name: str, inputs: dict[str, Any], library: Library) -> list[str]:
        """Why ``name`` must be executed again ([] when its stored execution is current)."""
        m = self.manifest(name)
        if m is None or not (self.dir / f"{name}.ipynb").is_file():
            return ["never executed"]
        why = [f"{k} changed" for k in sorted(set(inputs) | set(m["inputs"]))
               if inputs.get(k) != m["inputs"].get(k)]
        changed = [mod for mod, d in library.digests(list(m["library"])).items() if d != m["library"][mod]]
        if changed:
            why.append("library changed: " + ", ".join(changed))
        if m["data"] is not None and data_identity(library.data_dir) != m["data"]:
            why.append("data changed")
        res = m["result"]
        if res is not None and (not Path(res["path"]).is_file() or sha256_file(Path(res["path"])) != res["sha256"]):
            why.append("its results JSON is missing or was overwritten")
        return why

    def save(self, name: str, nb: nbformat.NotebookNode, inputs: dict[str, Any], modules: list[str],
             library: Library, snapshot: dict[str, str | None], wall_s: float, result: Path | None,
             executor: str) -> dict:
        """Store an execution (notebook first, manifest last: a reader sees a whole entry or a stale one).

        ``snapshot``: :meth:`Library.digests` of the whole package taken before the run, so that a
        module edited while the chapter ran is recorded as the code the chapter did not run."""
        self.dir.mkdir(parents=True, exist_ok=True)
        used_data = True
        if result is not None and result.is_file():
            try:
                source = json.loads(result.read_text()).get("env", {}).get("data_source") or ""
                used_data = not source.startswith(NO_DATA)
            except ValueError:
                pass
        manifest = {
            "schema": SCHEMA, "chapter": name, "executor": executor, "wall_s": round(wall_s, 1),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "inputs": inputs, "library": {m: snapshot.get(m) for m in modules},
            "data": data_identity(library.data_dir) if used_data else None,
            "result": ({"path": str(result), "sha256": sha256_file(result)}
                       if result is not None and result.is_file() else None),
        }
        atomic_write(self.dir / f"{name}.ipynb", lambda tmp: nbformat.write(nb, tmp))
        atomic_write(self.dir / f"{name}.json", lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1)))
        return manifest

    def wall_s(self, name: str) -> float | None:
        """The wall time of the chapter's last recorded execution (kept while it is stale)."""
        m = self.manifest(name)
        return m.get("wall_s") if m else None
