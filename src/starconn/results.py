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
from typing import Any, Callable, Mapping

import torch

from . import config, levers
from .params import Config
from .profiles import chapter
from .protocol import Value
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


SCALES = {"paper": "paper scale", "cpu": "reduced scale"}  # results/<scale>/: committed runs of that profile


def run_dir(chapter: str, setting: str | None = None, scale: str = "paper") -> Path:
    """Where ``scripts/record.sh`` keeps a chapter's runs: ``results/<scale>/<setting or chapter>/``
    (``scale``: ``paper`` or ``cpu``, the profile they ran at)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    return config.RESULTS / scale / (setting or chapter)


def recorded_run(chapter: str, setting: str | None = None, scale: str = "paper") -> dict | None:
    """The committed run ``results/<scale>/<setting or chapter>/<chapter>.json``, if any."""
    path = run_dir(chapter, setting, scale) / f"{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else None


def recorded_variants(chapter: str, setting: str | None = None, scale: str = "paper") -> list[dict]:
    """Other committed runs of ``chapter`` at ``scale``: ``<chapter>-<variant>.json`` beside its
    run (e.g. ``star-barriers-lam0.json``, another λ), each with ``_variant`` (the file's suffix)."""
    found = []
    for path in sorted(run_dir(chapter, setting, scale).glob(f"{chapter}-*.json")):
        d = json.loads(path.read_text())
        if d.get("chapter") == chapter:
            found.append({**d, "_variant": path.stem.removeprefix(f"{chapter}-")})
    return found


def recorded_paper_run(chapter: str, setting: str | None = None) -> dict | None:
    """The committed paper-scale result ``results/paper/<setting or chapter>/<chapter>.json``, if any."""
    return recorded_run(chapter, setting, "paper")


def _paper_profile(chapter_id: str, params: Mapping[str, Any]) -> dict:
    return chapter(chapter_id).resolve("paper", **({"setting": params["setting"]} if "setting" in params else {}))


def deviations(recorded: dict) -> dict:
    """The parameters of a recorded run that differ from its chapter's ``paper`` profile."""
    params = recorded["params"]
    ref = _paper_profile(recorded["chapter"], params)
    return {k: v for k, v in params.items() if k in ref and ref[k] != v}


def protocol_deviations(chapter_id: str, setting: str | None = None) -> dict[str, Value]:
    """Where the chapter's ``paper`` profile itself departs from the paper: every value of origin
    ``deviation``, with its reason (``python -m starconn show`` prints the same)."""
    values = chapter(chapter_id).explain("paper", **({"setting": setting} if setting else {}))
    return {k: v for k, v in values.items() if v.origin == "deviation"}


WORDS = {  # how a reduction reads: the run's value, then the paper profile's
    "width": "width ×{v:g} (×{p:g})", "n_train": "{v} training examples ({p})", "n_test": "{v} test examples ({p})",
    "epochs": "{v} epochs per minimum ({p})", "center_epochs": "{v} center epochs ({p})",
    "n_points": "{v} points per path segment ({p})", "batch_size": "batch {v} ({p})",
    "lam": "λ = {v:g} ({p:g})", "lr": "minima lr {v:g} ({p:g})", "center_lr": "center lr {v:g} ({p:g})",
}


def reduced_words(changed: Mapping[str, tuple[Any, Any]]) -> str:
    """``{parameter: (the run's value, the paper profile's)}`` in words, the paper profile's value in
    brackets (``"width ×0.125 (×1), 1000 training examples (50000), …"``; ``"nothing"`` if empty)."""
    return ", ".join(WORDS[k].format(v=v, p=p) if k in WORDS else f"{k} = {fmt(v)} ({fmt(p)})"
                     for k, (v, p) in changed.items()) or "nothing"


def in_words(recorded: dict) -> str:
    """What a run changed from its chapter's ``paper`` profile, in words (:func:`reduced_words`)."""
    ref = _paper_profile(recorded["chapter"], recorded["params"])
    return reduced_words({k: (v, ref[k]) for k, v in deviations(recorded).items()})


def scale_table(result: dict, judge: Callable[[str, float, float], str | None] | None = None) -> str:
    """The paper's numbers, ours at paper scale and ours at reduced scale, side by side (Markdown).

    Paper scale: this run when it ran at the ``paper`` profile, and every committed paper-scale
    run of the chapter and setting (``results/paper/``, its variants too), each column naming how
    it differs from the ``paper`` profile; "not run at paper scale" where there is none. Reduced
    scale: this run when it ran at ``cpu``, else the committed ``cpu`` run (``results/cpu/``), with
    what was reduced in words below the table. A ``smoke`` run gets its own column. ``judge(metric,
    ours, paper)``: the verdict shown beside a paper-scale number (``None``: not judged)."""
    if not result["paper"]:
        return "The paper reports no number for this setting in this table; there is nothing to compare."
    ch, setting, profile = result["chapter"], result["params"].get("setting"), result["profile"]
    paper_runs = ([("this run", result)] if profile == "paper" else []) + [
        (f"recorded, {r['env']['card']}, {r['env']['date']}" + (f", variant `{r['_variant']}`" if "_variant" in r else ""), r)
        for r in filter(None, [recorded_run(ch, setting, "paper"), *recorded_variants(ch, setting, "paper")])]
    reduced = result if profile == "cpu" else recorded_run(ch, setting, "cpu")
    cols = []  # (header, run or None, scale)
    for label, r in paper_runs:
        dev = ", ".join(f"{k} = {v}" for k, v in deviations(r).items())
        cols.append((f"ours at paper scale ({label}{'; unlike the `paper` profile: ' + dev if dev else ''})", r, "paper"))
    if not paper_runs:
        cols.append(("ours at paper scale", None, "paper"))
    cols.append((f"ours at reduced scale (`cpu`, {'this run' if reduced is result else 'recorded'})"
                 if reduced else "ours at reduced scale", reduced, "cpu"))
    if profile == "smoke":
        cols.append(("this run (`smoke`: the code path only)", result, "smoke"))
    rows = ["| metric | paper | " + " | ".join(h for h, _, _ in cols) + " |", "|" + "---|" * (len(cols) + 2)]
    for k, p in result["paper"].items():
        cells = [f"`{k}`", fmt(p)]
        for _, r, scale in cols:
            if r is None:
                cells.append(f"not run at {SCALES[scale]}")
                continue
            v = r["metrics"].get(k)
            verdict = judge(k, v, p) if judge and scale == "paper" and isinstance(v, (int, float)) else None
            cells.append(fmt(v) + (f" ({verdict})" if verdict else ""))
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if reduced:
        rows.append(f"\nReduced scale: unlike the `paper` profile, {in_words(reduced)}.")
    return "\n".join(rows)


def glue(name: str, value: Any) -> None:
    """Make ``value`` quotable in the chapter's prose (``{glue:text}`name` ``) via myst-nb.

    Where myst-nb is not installed (e.g. a bare GPU machine running papermill) the number is still
    in the results JSON and the comparison table; only the in-prose quote is skipped.
    """
    if myst_glue is not None:
        myst_glue(name, value, display=False)


def fmt(v: Any) -> str:
    """A value as the book's tables print it (4 significant digits; small numbers in e-notation)."""
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
        row = [f"`{k}`", fmt(p), fmt(result["metrics"].get(k))]
        if recorded:
            row.append(fmt(recorded["metrics"].get(k)))
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)
