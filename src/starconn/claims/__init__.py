"""The book's claims as library functions that fail when a claim is false.

Every chapter ends with one call, ``claims.check(CHAPTER, metrics, cfg.profile)``: it runs the
chapter's claim check on the metrics the chapter recorded and raises :class:`ClaimFailed` (an
``AssertionError``) naming every false claim with the numbers that make it false. A claim that does
not apply to the run's parameters (a trend with a single width, a search that was not run, a
student that the ``smoke`` profile does not train to a solution) is *skipped*, and the returned
:class:`Report` says which and why — it is never passed silently. Each check has unit tests that
feed it a case where its claim is false and see it fail (``tests/test_claims.py``).

A module of this package defines ``CHECKS = {chapter_id: function(claims, metrics, profile)}``;
the modules are collected at import time (one per part of the book).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


class ClaimFailed(AssertionError):
    """A claim of the book is false for this run."""


@dataclass
class Claims:
    """What one chapter's check found: claims that held, failed, or were skipped (with why)."""

    chapter: str
    held: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def require(self, ok: Any, claim: str, detail: str = "") -> bool:
        """Record ``claim`` as held when ``ok`` is true, else as failed with ``detail`` (the numbers)."""
        if bool(ok):
            self.held.append(claim)
        else:
            self.failed.append(f"{claim} ({detail})" if detail else claim)
        return bool(ok)

    def skip(self, claim: str, why: str) -> None:
        self.skipped.append((claim, why))

    def decrease(self, m: Mapping[str, Any], name: str, claim: str, alpha: float, detail: str = "") -> None:
        """The claim that ``name`` decreases, from the metrics of :func:`starconn.stats.trend_metrics`:
        held or failed by its verdict ``{name}_decreasing``, skipped when the design cannot reach
        p ≤ alpha (no verdict)."""
        if f"{name}_decreasing" not in m:
            self.skip(claim, f"{m[f'{name}_trend_points']} points cannot reach p ≤ {alpha:g} (smallest possible "
                             f"p = {m[f'{name}_trend_min_p']:.2g}: too few widths or seeds)")
        else:
            tau = m[f"{name}_trend_tau"]  # None when every value is equal
            self.require(m[f"{name}_decreasing"], claim, f"Kendall τ = {'—' if tau is None else f'{tau:.3f}'}, "
                                                        f"p = {m[f'{name}_trend_p']:.3g}{detail}")

    def trained(self, ok: Any, claim: str, detail: str, profile: str, dependent: list[str]) -> bool:
        """A precondition of the ``dependent`` claims, e.g. "SGD reached solutions": itself a claim at
        the ``cpu`` and ``paper`` profiles; at ``smoke``, which cuts training short, the dependent
        claims are skipped (saying why) when it does not hold. Returns whether to check them."""
        if profile != "smoke":
            return self.require(ok, claim, detail)
        if not ok:
            for d in dependent:
                self.skip(d, f"smoke profile: training is cut short ({detail})")
        return bool(ok)

    def markdown(self) -> str:
        lines = [f"**Claims checked** (`starconn.claims`, chapter `{self.chapter}`):"]
        lines += [f"- ✓ {c}" for c in self.held]
        lines += [f"- ✗ {c}" for c in self.failed]
        lines += [f"- skipped: {c} — {why}" for c, why in self.skipped]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()


Check = Callable[[Claims, Mapping[str, Any], str], None]


def _collect() -> dict[str, Check]:
    found: dict[str, Check] = {}
    for mod in pkgutil.iter_modules(__path__):
        found.update(importlib.import_module(f"{__name__}.{mod.name}").CHECKS)
    return found


CHECKS: dict[str, Check] = _collect()


def check(chapter: str, metrics: Mapping[str, Any], profile: str) -> Claims:
    """Check the claims of ``chapter`` on its ``metrics``; raise :class:`ClaimFailed` listing every
    false one, else return the :class:`Claims` (held and skipped, for display)."""
    if chapter not in CHECKS:
        raise KeyError(f"no claim check for chapter {chapter!r}; known: {', '.join(sorted(CHECKS))}")
    claims = Claims(chapter)
    CHECKS[chapter](claims, metrics, profile)
    if claims.failed:
        raise ClaimFailed(f"{chapter}: " + "; ".join(claims.failed))
    return claims
