"""Protocols a reader can see: every value of a chapter's configuration and where it came from.

A chapter's protocol is data: for each of its settings (``None`` for a chapter without a
``setting`` parameter) and each profile, the value of every parameter as a :class:`Value` that
names its origin:

* ``paper``     – the paper states it;
* ``choice``    – ours, where the paper is silent (with a one-line reason);
* ``deviation`` – ours, where the paper states something else (the reason says what);
* ``profile``   – a reduction of the ``smoke`` or ``cpu`` profile (with its reason);
* ``override``  – given by the user (``-p NAME VALUE`` or a notebook parameter).

A value that follows other values (e.g. the conv nets' ``cpu`` center epochs, 24 per minimum) is a
:class:`Rule`: declared data with a formula and a reason, applied after the user's values so that
it follows them. ``python -m starconn show CHAPTER`` prints every value with its origin and reason.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import PROFILES

ORIGINS = {
    "paper": "the paper states it",
    "choice": "ours, where the paper is silent",
    "deviation": "ours, where the paper states something else",
    "profile": "a reduction of the smoke / cpu profile",
    "override": "given by you (-p NAME VALUE, or a notebook parameter)",
}
REDUCED = tuple(p for p in PROFILES if p != "paper")
PROFILE_REASONS = {
    "smoke": "smoke profile: checks the code path in seconds, not the claim",
    "cpu": "cpu profile: reduced to finish in minutes on 2 cores",
}


@dataclass(frozen=True)
class Value:
    """One parameter's value, its origin (a key of :data:`ORIGINS`) and the reason for it."""

    value: Any
    origin: str
    reason: str = ""

    def __post_init__(self):
        if self.origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}; got {self.origin!r}")
        if self.origin in ("choice", "deviation") and not self.reason:
            raise ValueError(f"a {self.origin} needs a reason (value {self.value!r})")


def paper(value: Any, reason: str = "") -> Value:
    """A value the paper states (``reason``: where, or in what words)."""
    return Value(value, "paper", reason)


def choice(value: Any, reason: str) -> Value:
    """Our value where the paper is silent, and why."""
    return Value(value, "choice", reason)


def deviation(value: Any, reason: str) -> Value:
    """Our value where the paper states another; ``reason`` names the paper's value and why we differ."""
    return Value(value, "deviation", reason)


def reduced(value: Any, reason: str) -> Value:
    """A ``smoke`` / ``cpu`` profile's reduction, and why."""
    return Value(value, "profile", reason)


def reductions(profile: str, **values: Any) -> dict[str, Value]:
    """A profile's reductions: plain values get the profile's reason, :class:`Value` s keep theirs."""
    return {k: v if isinstance(v, Value) else reduced(v, PROFILE_REASONS[profile]) for k, v in values.items()}


def layered(paper_values: Mapping[str, Value], reduced_values: Mapping[str, Mapping[str, Value]]
            ) -> dict[str, dict[str, Value]]:
    """``{profile: {param: Value}}``: the ``paper`` profile's values, and every reduced profile as
    those values with its reductions (``reduced_values[profile]``) on top. A reduction to the value
    the ``paper`` profile already has is none: that value keeps its origin."""
    out = {p: {**paper_values, **{k: v for k, v in reduced_values.get(p, {}).items()
                                  if k not in paper_values or paper_values[k].value != v.value}}
           for p in REDUCED}
    out["paper"] = dict(paper_values)
    return {p: out[p] for p in PROFILES}


@dataclass(frozen=True)
class Rule:
    """``param`` = ``compute(values)`` at ``profiles`` and ``settings`` (``None``: every setting), unless
    the user gave ``param``. ``formula`` says it in words (``"24 × n_minima"``)."""

    param: str
    formula: str
    compute: Callable[[Mapping[str, Any]], Any]
    origin: str
    reason: str
    profiles: tuple[str, ...] = PROFILES
    settings: tuple[str, ...] | None = None

    def applies(self, setting: str | None, profile: str) -> bool:
        return profile in self.profiles and (self.settings is None or setting in self.settings)

    def value(self, values: Mapping[str, Any]) -> Value:
        return Value(self.compute(values), self.origin, f"rule {self.param} = {self.formula}: {self.reason}")


@dataclass(frozen=True)
class Protocol:
    """A chapter's protocol: ``table[setting][profile][param]`` (a :class:`Value`), the rules applied
    after the user's values, and the setting used when none is given (a :class:`Value`, or ``None``
    for a chapter without settings, whose table has the one key ``None``)."""

    table: Mapping[str | None, Mapping[str, Mapping[str, Value]]]
    rules: tuple[Rule, ...] = ()
    default_setting: Value | None = None

    def values(self, profile: str, given: Mapping[str, Any]) -> dict[str, Value]:
        """Every value at ``profile`` with the (validated) ``given`` values as overrides."""
        setting = given.get("setting", self.default_setting.value if self.default_setting else None)
        out = {} if self.default_setting is None else {"setting": self.default_setting}
        out.update(self.table[setting][profile])
        out.update({k: Value(v, "override") for k, v in given.items()})
        for rule in self.rules:
            if rule.param not in given and rule.applies(setting, profile):
                out[rule.param] = rule.value({k: v.value for k, v in out.items()})
        return out

    def names(self) -> set[str]:
        """Every parameter the protocol gives a value (at some setting and profile)."""
        names = {r.param for r in self.rules} | ({"setting"} if self.default_setting else set())
        for by_profile in self.table.values():
            for values in by_profile.values():
                names |= set(values)
        return names


def table(profiles: Mapping[str, Mapping[str, Any]], common: Mapping[str, Any] | None = None,
          stated: Mapping[str, str] | None = None,
          reason: str = "the paper states no value for this check; ours") -> Protocol:
    """A protocol from a fixed ``{profile: {param: value}}`` table plus values common to every
    profile (chapters without settings). The ``paper`` profile's values and the common ones are
    ours (``choice``, with ``reason``) unless ``stated`` names them (``{param: where the paper
    states it}``); a ``smoke`` / ``cpu`` value that differs from the ``paper`` profile's is that
    profile's reduction."""
    stated = stated or {}
    top = {k: paper(v, stated[k]) if k in stated else choice(v, reason)
           for k, v in {**(common or {}), **profiles["paper"]}.items()}
    return Protocol({None: layered(top, {p: reductions(p, **profiles[p]) for p in REDUCED})})
