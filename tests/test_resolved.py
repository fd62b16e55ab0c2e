"""The resolved configuration of every chapter × setting × profile, against a committed dump.

``tests/golden/resolved.json`` holds what ``Chapter.resolve`` gives for every chapter, every value
of its ``setting`` (if it has one) and every profile, plus the cases where a rule makes one value
follow another (``n_minima``, ``center_epochs``, ``center_lr``). A change to a protocol shows up
here as a diff of that file; make it on purpose and regenerate with
``STARCONN_UPDATE_GOLDEN=1 pytest tests/test_resolved.py``.
"""
import json
import os
from pathlib import Path

import starconn

GOLDEN = Path(__file__).parent / "golden" / "resolved.json"
PROFILES = ("smoke", "cpu", "paper")
# given values whose effect on other values is a declared rule
RULE_CASES = {
    "star-barriers": [{"setting": "vgg16-cifar10", "n_minima": 3}, {"setting": "fnn-mnist", "n_minima": 3}],
    "star-vgg16-cifar10": [{"n_minima": 5}],
    "baselines": [{"setting": "vgg16-mnist", "center_epochs": 7, "center_lr": 0.02},
                  {"setting": "fnn-mnist", "center_epochs": 7}],
}


def _cases(ch):
    names = {p.name for p in ch.params}
    settings = [{"setting": s} for s in ch.param("setting").choices] if "setting" in names else [{}]
    return settings + RULE_CASES.get(ch.id, [])


def resolved_configurations() -> dict:
    out = {}
    for ch in starconn.CHAPTERS.values():
        for given in _cases(ch):
            for profile in PROFILES:
                key = " ".join([ch.id, profile, *(f"{k}={v}" for k, v in given.items())])
                out[key] = dict(ch.resolve(profile, **given))
    return out


def test_resolved_configurations_are_unchanged():
    now = json.loads(json.dumps(resolved_configurations()))
    if os.environ.get("STARCONN_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    text = lambda d, k: json.dumps(d.get(k), sort_keys=True)  # noqa: E731 - 1 and 1.0 differ here
    changed = sorted(k for k in set(now) | set(golden) if text(now, k) != text(golden, k))
    assert not changed, f"resolved configurations changed: {changed[:5]} (see {GOLDEN.name})"
