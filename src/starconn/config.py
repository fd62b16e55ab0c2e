"""Where starconn reads data, keeps its cache and writes results, and which device it uses.

Every location is a setting with an environment variable:

* ``STARCONN_DATA``  – data directory (torchvision layout, e.g. ``MNIST/raw/``); read only.
* ``STARCONN_CACHE`` – on-disk store of minima, centers and decoded datasets.
* ``STARCONN_OUT``   – where chapters write their results JSON when no ``out`` is given.
* ``STARCONN_PROFILE`` – the profile a chapter uses when its ``profile`` parameter is ``None``.
* ``STARCONN_DEVICE`` – force a torch device (``cpu``, ``cuda``, ``cuda:1``).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import torch

from .errors import ParamError

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "results"  # committed runs: results/<scale>/<setting>/<chapter>.json
PAPER_RESULTS = RESULTS / "paper"
PROFILES = ("smoke", "cpu", "paper")


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "starconn"


def data_dir() -> Path:
    return Path(os.environ.get("STARCONN_DATA") or _user_cache() / "data").expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("STARCONN_CACHE") or _user_cache() / "store").expanduser()


def out_dir() -> Path:
    return Path(os.environ.get("STARCONN_OUT") or REPO_ROOT / "_build" / "results").expanduser()


def device() -> torch.device:
    return torch.device(os.environ.get("STARCONN_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))


def default_profile() -> str:
    """``STARCONN_PROFILE`` if set, else ``paper`` on a GPU and ``cpu`` otherwise."""
    env = os.environ.get("STARCONN_PROFILE")
    if env:
        if env not in PROFILES:
            raise ParamError(f"STARCONN_PROFILE must be one of {', '.join(PROFILES)}; got {env!r}")
        return env
    return "paper" if torch.cuda.is_available() else "cpu"


def device_name(dev: torch.device | None = None) -> str:
    dev = dev or device()
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({torch.get_num_threads()} threads)"


def commit() -> str:
    """The commit the code runs at: ``$STARCONN_COMMIT`` where set (a machine with a copy of the
    tree but no git history), else ``git rev-parse HEAD`` of the repository, with ``+changes`` when
    its tracked files outside ``results/`` (where runs write their records) differ from that commit;
    ``"unknown"`` outside a git checkout."""
    if os.environ.get("STARCONN_COMMIT"):
        return os.environ["STARCONN_COMMIT"]
    try:
        git = ["git", "-C", str(REPO_ROOT)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def shown(path: str | os.PathLike) -> str:
    """``path`` as outputs print it: relative to ``$STARCONN_DATA``, ``$STARCONN_CACHE`` or the
    repository where it lies under one of them (the deepest), so that a published page names no
    directory of the machine that built it; any other path as it is."""
    p = Path(path).expanduser().resolve()
    roots = [(data_dir(), "$STARCONN_DATA"), (cache_dir(), "$STARCONN_CACHE"), (REPO_ROOT, "")]
    for root, name in sorted(roots, key=lambda r: -len(r[0].resolve().parts)):
        try:
            rel = p.relative_to(root.resolve())
        except ValueError:
            continue
        if not name:
            return rel.as_posix()
        return f"{name}/{rel.as_posix()}" if rel.parts else name
    return str(path)
