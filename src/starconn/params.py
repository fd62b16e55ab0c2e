"""Chapter parameters: declaration, parsing, validation and profile defaults.

A chapter declares its knobs as :class:`Param` objects and its profile defaults in
``starconn.profiles``; :func:`Chapter.resolve` turns what a user gave (``None`` = take the
profile's value) into a validated :class:`Config`. Every error is a :class:`ParamError` whose
message names the parameter and the allowed values.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import config


class ParamError(ValueError):
    """A parameter is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int, float, str, bool or list (a list of floats / ints)
    help: str = ""
    choices: tuple | None = None
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        name = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
                list: "a list of numbers"}[self.kind]
        if self.low is not None and self.high is not None:
            return f"{name} in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"{name} >= {self.low}"
        if self.high is not None:
            return f"{name} <= {self.high}"
        return name

    def _error(self, value: Any) -> ParamError:
        return ParamError(f"parameter {self.name!r} must be {self.allowed()}; got {value!r}")

    def parse(self, raw: str) -> Any:
        """Parse a command-line string (JSON literals accepted) and validate it."""
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if self.kind is str:
            value = raw
        return self.check(value)

    def check(self, value: Any) -> Any:
        if self.kind is bool:
            if not isinstance(value, bool):
                raise self._error(value)
            return value
        if self.kind is list:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            ):
                raise self._error(value)
            for v in value:
                self._check_range(v, value)
            return list(value)
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool):
            raise self._error(value)
        if self.choices is not None and value not in self.choices:
            raise self._error(value)
        self._check_range(value, value)
        return value

    def _check_range(self, v: Any, shown: Any) -> None:
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            raise self._error(shown)


PROFILE = Param("profile", str, "scale of the run", choices=config.PROFILES)


class Config(dict):
    """A resolved, validated chapter configuration (a dict with attribute access)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


Defaults = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book: ``book/<id>.ipynb``, its parameters and profile defaults.

    ``defaults(profile, given)`` returns the value of every parameter for that profile; ``given``
    holds the non-``None`` values the user set (so that e.g. a ``setting`` can change the
    defaults of the training knobs).
    """

    id: str
    title: str
    part: str
    params: tuple[Param, ...]
    defaults: Defaults
    order: int = 0
    paper: Mapping[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParamError(
            f"unknown parameter {name!r} for chapter {self.id!r}; allowed: "
            + ", ".join(p.name for p in self.params)
        )

    def resolve(self, profile: str | None = None, **given: Any) -> Config:
        profile = config.default_profile() if profile is None else PROFILE.check(profile)
        given = {k: v for k, v in given.items() if v is not None}
        checked = {k: self.param(k).check(v) for k, v in given.items()}
        base = dict(self.defaults(profile, checked))
        missing = {p.name for p in self.params} - set(base) - set(checked)
        if missing:
            raise RuntimeError(f"chapter {self.id!r}, profile {profile!r}: no default for {sorted(missing)}")
        values = {p.name: p.check(checked.get(p.name, base.get(p.name))) for p in self.params}
        return Config(chapter=self.id, profile=profile, **values)


def table(profiles: Mapping[str, Mapping[str, Any]], common: Mapping[str, Any] | None = None) -> Defaults:
    """Defaults from a fixed ``{profile: {param: value}}`` table (plus values common to all)."""

    def defaults(profile: str, given: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**(common or {}), **profiles[profile]}

    return defaults
