"""The book's chapters and their profiles, defined once.

Each module of this package defines ``CHAPTERS``, a list of :class:`starconn.params.Chapter`;
they are collected here in the book's order. ``smoke`` runs in seconds on a CPU (CI), ``cpu`` is
the most faithful run a 2-core laptop finishes in minutes, ``paper`` is the paper's protocol.
"""
from __future__ import annotations

import importlib
import time
import pkgutil

from ..errors import ParamError
from ..params import Chapter

PARTS = (
    "Introduction",
    "Two-layer ReLU networks",
    "Deep linear networks",
    "Practical networks",
    "Beyond the paper",
)


def _collect() -> dict[str, Chapter]:
    found: list[Chapter] = []
    for mod in pkgutil.iter_modules(__path__):
        found += importlib.import_module(f"{__name__}.{mod.name}").CHAPTERS
    found.sort(key=lambda c: (PARTS.index(c.part), c.order, c.id))
    return {c.id: c for c in found}


CHAPTERS: dict[str, Chapter] = _collect()


def chapter(chapter_id: str) -> Chapter:
    try:
        return CHAPTERS[chapter_id]
    except KeyError:
        raise ParamError(
            f"unknown chapter {chapter_id!r}; allowed: {', '.join(CHAPTERS)}"
        ) from None


def configure(chapter_id: str, namespace: dict | None = None, **given):
    """Resolve a chapter's configuration from a notebook's namespace (its parameters cell).

    ``configure("star-barriers", globals())`` reads ``profile`` and every parameter the chapter
    declares from the namespace; ``None`` means the profile's default.
    """
    ch = chapter(chapter_id)
    ns = dict(namespace or {})
    ns.update(given)
    values = {p.name: ns.get(p.name) for p in ch.params}
    cfg = ch.resolve(ns.get("profile"), **values)
    cfg["out"] = ns.get("out")
    cfg.started = time.time()
    return cfg
