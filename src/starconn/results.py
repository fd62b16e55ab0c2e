"""The results contract: every chapter writes one JSON

``{"chapter", "profile", "params", "metrics", "paper", "env", "wall_s"}``

with ``paper`` holding the paper's number for each metric it reproduces, and ``env`` the device,
card, torch version, data source and date. Paper-scale runs are kept under ``results/paper/``.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any, Mapping

import torch

from . import config, levers
from .params import Config
from .profiles import chapter
from .store import atomic_write

try:  # not on a bare GPU machine that runs chapters through papermill only
    from myst_nb import glue as myst_glue
except ImportError:
    myst_glue = None


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.machine())


def env_info(data_source: str | None = None, device: torch.device | None = None) -> dict:
    dev = device or config.device()
    return {
        "device": str(dev),
        "card": config.device_name(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "data_source": data_source or "none (synthetic / closed form)",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {_cpu_model()}",
        "commit": config.commit(),
        "levers": levers.active(),  # the execution levers set (starconn.levers); {}: none
    }


def _clean(x: Any) -> Any:
    if hasattr(x, "item") and getattr(x, "shape", None) == ():  # numpy / torch scalars
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, torch.Tensor):
        return _clean(x.tolist())
    return x


def record(cfg: Config, metrics: Mapping[str, Any], paper: Mapping[str, Any] | None = None,
           data_source: str | None = None, extra: Mapping[str, Any] | None = None,
           name: str | None = None) -> dict:
    """Write the chapter's results JSON to ``cfg.out`` (or ``STARCONN_OUT``) and return it."""
    params = {k: v for k, v in cfg.items() if k not in ("chapter", "profile", "out")}
    result = {
        "chapter": cfg.chapter,
        "profile": cfg.profile,
        "params": params,
        "metrics": _clean(dict(metrics)),
        "paper": _clean(dict(paper or {})),
        "env": env_info(data_source),
        "wall_s": round(time.time() - cfg.started, 1) if hasattr(cfg, "started") else None,
    }
    if extra:
        result.update(_clean(dict(extra)))
    out = Path(cfg.get("out") or config.out_dir())
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name or cfg.chapter}.json"
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=1)))
    return result


def recorded_paper_run(chapter: str, setting: str | None = None) -> dict | None:
    """The committed paper-scale result ``results/paper/<setting or chapter>/<chapter>.json``, if any."""
    path = config.PAPER_RESULTS / (setting or chapter) / f"{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else None


def deviations(recorded: dict) -> dict:
    """The parameters of a recorded run that differ from its chapter's ``paper`` profile."""
    params = recorded["params"]
    ref = chapter(recorded["chapter"]).resolve("paper", **({"setting": params["setting"]} if "setting" in params else {}))
    return {k: v for k, v in params.items() if k in ref and ref[k] != v}


def glue(name: str, value: Any) -> None:
    """Make ``value`` quotable in the chapter's prose (``{glue:text}`name` ``) via myst-nb.

    Where myst-nb is not installed (e.g. a bare GPU machine running papermill) the number is still
    in the results JSON and the comparison table; only the in-prose quote is skipped.
    """
    if myst_glue is not None:
        myst_glue(name, value, display=False)


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def comparison(result: dict, recorded: dict | None = None) -> str:
    """A Markdown table: each metric the paper reports, the paper's number and ours.

    When a recorded paper-scale run exists it gets its own column, labelled with its card and date.
    """
    if not result["paper"]:
        return "The paper reports no number for this setting in this table; there is nothing to compare."
    head = ["metric", "paper", f"this run ({result['profile']}, {result['env']['card']})"]
    if recorded:
        changing = {k: v for k, v in recorded["env"].get("levers", {}).items() if k in levers.CHANGES_NUMBERS}
        dev = ", ".join([f"{k} = {v}" for k, v in deviations(recorded).items()]
                        + [f"{k}={v}" for k, v in changing.items()])
        head.append(f"recorded paper-scale run ({recorded['env']['card']}, {recorded['env']['date']}"
                    f"{'; unlike the `paper` profile: ' + dev if dev else ''})")
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, p in result["paper"].items():
        row = [f"`{k}`", _fmt(p), _fmt(result["metrics"].get(k))]
        if recorded:
            row.append(_fmt(recorded["metrics"].get(k)))
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)
