"""The reproduction scorecard (first chapter after the introduction).

It runs no experiment: it reads the committed paper-scale results (``results/paper/``) and the
latest results of book builds, so every profile does the same thing.
"""
from __future__ import annotations

from ..params import Chapter, Param, table

PART = "Introduction"

CHAPTERS = [
    Chapter(
        "scorecard", "Reproduction scorecard: the paper's figures and tables, its numbers and ours", PART,
        (
            Param("build_results", str, "folder of build results JSONs to read (searched with its sub-folders); "
                  "empty: STARCONN_OUT and the repository's _build/results"),
            Param("include_builds", bool, "show the latest build result beside the committed paper-scale runs"),
        ),
        table({p: {} for p in ("smoke", "cpu", "paper")}, common=dict(build_results="", include_builds=True),
              reason="what the scorecard reads; no experiment"),
        order=1,
    ),
]
