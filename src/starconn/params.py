"""Chapter parameters: declaration, parsing, validation, and the chapter's protocol.

A chapter declares its knobs as :class:`Param` objects and its protocol (every parameter's value
per setting and profile, with its origin: ``starconn.protocol``) in ``starconn.profiles``;
:meth:`Chapter.explain` turns what a user gave (``None`` = take the profile's value) into every
value with its origin, :meth:`Chapter.resolve` into a validated :class:`Config`. Every error is a
:class:`~starconn.errors.ParamError` whose message names the parameter and the allowed values.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import config, constraints
from .errors import ParamError
from .protocol import ORIGINS, Protocol, Value, table

__all__ = ["Chapter", "Config", "ITEM", "PROFILE", "Param", "ParamError", "table"]

# A paper item a chapter reproduces: "Table 1", "Fig 3 (left)", "Theorem 10", "Lemma 7".
ITEM = re.compile(r"^(Fig|Table|Theorem|Lemma) (\d+)(?: \((left|right)\))?$")


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int, float, str, bool or list (a list of floats / ints)
    help: str = ""
    choices: tuple | None = None
    low: float | None = None  # inclusive (a list: every element)
    high: float | None = None  # inclusive (a list: every element)
    min_len: int = 1  # a list: fewest elements (0: may be empty)
    max_len: int | None = None  # a list: most elements

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        name = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
                list: "a list of numbers"}[self.kind]
        if self.kind is list:
            if self.max_len is None:
                size = f"at least {self.min_len}" if self.min_len else "may be empty"
            else:
                size = f"exactly {self.min_len}" if self.max_len == self.min_len else f"{self.min_len} to {self.max_len}"
            name += f" ({size}), each"
        if self.low is not None and self.high is not None:
            return f"{name} in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"{name} >= {self.low}"
        if self.high is not None:
            return f"{name} <= {self.high}"
        return name.removesuffix(", each")

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
            if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
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


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book: ``book/<id>.ipynb``, its parameters and its protocol.

    ``defaults`` is the chapter's :class:`~starconn.protocol.Protocol`: every parameter's value per
    setting and profile, with its origin. ``paper`` holds the paper's numbers keyed by setting
    (``{setting: {metric: value}}``; the one key ``None`` for a chapter without a ``setting``
    parameter; a setting the paper gives no number for is absent). ``reproduces`` names the paper's
    items the chapter reproduces (``"Table 1"``, ``"Fig 3 (left)"``, ``"Theorem 10"``).
    """

    id: str
    title: str
    part: str
    params: tuple[Param, ...]
    defaults: Protocol
    order: int = 0
    paper: Mapping[str | None, Mapping[str, Any]] = field(default_factory=dict)
    reproduces: tuple[str, ...] = ()

    def __post_init__(self):
        where = f"chapter {self.id!r}"
        settings = self.settings()
        if not set(self.paper) <= set(settings) or not all(isinstance(v, Mapping) for v in self.paper.values()):
            raise TypeError(f"{where}: paper must be {{setting: {{metric: value}}}} over {settings}; "
                            f"got keys {list(self.paper)}")
        bad = [r for r in self.reproduces if not ITEM.match(r)]
        if bad or isinstance(self.reproduces, str):
            raise TypeError(f"{where}: reproduces must be a tuple like ('Table 1', 'Fig 3 (left)'); got {bad}")
        if set(self.defaults.table) != set(settings):
            raise TypeError(f"{where}: the protocol's settings {list(self.defaults.table)} are not {settings}")
        names = {p.name for p in self.params}
        if self.defaults.names() - names:
            raise TypeError(f"{where}: the protocol sets unknown parameters {sorted(self.defaults.names() - names)}")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParamError(
            f"unknown parameter {name!r} for chapter {self.id!r}; allowed: "
            + ", ".join(p.name for p in self.params)
        )

    def settings(self) -> tuple[str | None, ...]:
        """The chapter's settings (``(None,)`` when it has no ``setting`` parameter)."""
        return next((p.choices for p in self.params if p.name == "setting"), (None,))

    def numbers(self, setting: str | None = None) -> dict[str, Any]:
        """The paper's numbers for ``setting`` (``None`` for a chapter without settings); ``{}`` if none."""
        return dict(self.paper.get(setting, {}))

    def explain(self, profile: str | None = None, **given: Any) -> dict[str, Value]:
        """Every parameter's validated value with its origin, in the order the chapter declares them."""
        profile = config.default_profile() if profile is None else PROFILE.check(profile)
        checked = {k: self.param(k).check(v) for k, v in given.items() if v is not None}
        values = self.defaults.values(profile, checked)
        missing = [p.name for p in self.params if p.name not in values]
        if missing:
            raise RuntimeError(f"chapter {self.id!r}, profile {profile!r}: no value for {missing}")
        return {p.name: replace(values[p.name], value=p.check(values[p.name].value)) for p in self.params}

    def resolve(self, profile: str | None = None, **given: Any) -> Config:
        profile = config.default_profile() if profile is None else PROFILE.check(profile)
        values = {k: v.value for k, v in self.explain(profile, **given).items()}
        cfg = Config(chapter=self.id, profile=profile, **values)
        constraints.check(cfg)  # values that must fit together (a one-line ParamError)
        return cfg

    def describe(self, profile: str | None = None, **given: Any) -> str:
        """Every resolved parameter, its value, origin and reason, as ``python -m starconn show`` prints it."""
        profile = config.default_profile() if profile is None else PROFILE.check(profile)
        values = self.explain(profile, **given)
        setting = values["setting"].value if "setting" in values else None
        shown = {k: v.value if isinstance(v.value, str) else json.dumps(v.value) for k, v in values.items()}
        wk, wv = max(map(len, shown)), max(map(len, shown.values()))
        wo = max(map(len, ORIGINS))
        lines = [f"{self.id}: {self.title}",
                 f"profile {profile}" + (f", setting {setting}" if setting else "")
                 + (f"; reproduces {', '.join(self.reproduces)}" if self.reproduces else ""),
                 "", f"{'parameter':{wk}}  {'value':{wv}}  {'origin':{wo}}  reason"]
        lines += [f"{k:{wk}}  {shown[k]:{wv}}  {v.origin:{wo}}  {v.reason}".rstrip() for k, v in values.items()]
        numbers = self.numbers(setting)
        if numbers:
            lines += ["", "the paper's numbers" + (f" ({setting})" if setting else "") + ": "
                      + ", ".join(f"{k} = {v}" for k, v in numbers.items())]
        lines += ["", "origins: " + "; ".join(f"{k} = {v}" for k, v in ORIGINS.items())]
        return "\n".join(lines) + "\n"
