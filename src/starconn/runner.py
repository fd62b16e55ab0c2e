"""Validate and execute one chapter: what ``python -m starconn run`` does, and each sweep task.

:func:`validate` turns ``-p NAME VALUE`` strings into checked values (a bad one is a
:class:`~starconn.errors.ParamError` naming the parameter, before any work); :func:`execute` runs
``book/<chapter>.ipynb`` through papermill into ``OUT/<chapter>.ipynb``, and the chapter writes
``OUT/<chapter>.json``. The notebook's kernel is this interpreter (:class:`InterpreterKernel`).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import papermill
from ipykernel.kernelspec import get_kernel_dict
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from . import config
from .errors import ChapterFailed
from .params import PROFILE
from .profiles import chapter

BOOK = config.REPO_ROOT / "book"


def validate(chapter_id: str, profile: str | None, pairs: list[tuple[str, str]] | None) -> tuple[str, dict]:
    """``(profile, given)`` from a chapter id, a profile (``None``: the default) and ``-p`` pairs;
    the whole configuration is resolved, so every error surfaces here."""
    ch = chapter(chapter_id)
    profile = PROFILE.check(profile) if profile else config.default_profile()
    given = {name: ch.param(name).parse(raw) for name, raw in pairs or []}
    ch.resolve(profile, **given)
    return profile, given


class InterpreterKernel(AsyncKernelManager):
    """A notebook kernel run by this interpreter, whatever ``PATH`` says and whatever kernel specs
    are installed: ``.venv/bin/python -m starconn run …`` works without activating the environment,
    and a user's own ``python3`` kernel spec pointing at another Python is not used. The kernel
    finds this interpreter's ``bin/`` first on its ``PATH``."""

    @property
    def kernel_spec(self) -> KernelSpec:
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        return KernelSpec(**get_kernel_dict(), env={"PATH": path})  # ipykernel's own spec for sys.executable


def execute(chapter_id: str, profile: str, params: dict, out: Path) -> Path:
    """Execute ``book/<chapter>.ipynb`` into ``out/<chapter>.ipynb``; the notebook writes its JSON.
    A notebook that raises leaves ``out/<chapter>.failed.ipynb`` and raises :class:`ChapterFailed`."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{chapter_id}.ipynb"
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{chapter_id}.", suffix=".ipynb")
    os.close(fd)
    env_backend = os.environ.pop("MPLBACKEND", None)  # papermill + Agg drops figures
    try:
        papermill.execute_notebook(
            str(BOOK / f"{chapter_id}.ipynb"), tmp, cwd=str(BOOK), kernel_name="python3",
            kernel_manager_class=InterpreterKernel,
            parameters={"profile": profile, "out": str(out.resolve()), **params},
        )
        os.replace(tmp, target)
    except papermill.PapermillExecutionError as err:
        failed = out / f"{chapter_id}.failed.ipynb"
        os.replace(tmp, failed)
        raise ChapterFailed(f"chapter {chapter_id!r} failed in cell {err.exec_count}: {err.ename}: "
                            f"{err.evalue} (executed notebook: {failed})") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if env_backend is not None:
            os.environ["MPLBACKEND"] = env_backend
    return target
