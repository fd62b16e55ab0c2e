"""On-disk store of finished work (minima, centers), keyed by a hash of its full configuration.

An entry is ``<root>/<kind>/<key>.safetensors`` (the tensors) plus ``<key>.json`` (the
configuration, metadata and the tensors file's SHA-256). Both are written to a temporary file
and renamed into place, the JSON last, so a reader sees a whole entry or none; an entry whose
checksum does not match is reported, moved aside and recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from . import config

Tensors = dict[str, torch.Tensor]


def key(cfg: dict) -> str:
    """Hash of a JSON-serialisable configuration (order of keys does not matter)."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class Store:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else config.cache_dir()

    def _paths(self, kind: str, k: str) -> tuple[Path, Path]:
        d = self.root / kind
        return d / f"{k}.safetensors", d / f"{k}.json"

    def load(self, kind: str, cfg: dict, device: str | torch.device = "cpu") -> tuple[Tensors, dict] | None:
        """The stored tensors and metadata for ``cfg``, or ``None`` if absent or corrupt."""
        tpath, jpath = self._paths(kind, key(cfg))
        if not jpath.exists():
            return None
        try:
            meta = json.loads(jpath.read_text())
            if not tpath.exists() or _sha256(tpath) != meta["sha256"]:
                raise ValueError("checksum mismatch")
            tensors = load_file(str(tpath), device=str(device))
        except Exception as err:  # noqa: BLE001 - any unreadable entry is recomputed
            warnings.warn(f"store: corrupt entry {jpath.stem} in {kind!r} ({err}); recomputing", stacklevel=2)
            for p in (jpath, tpath):
                if p.exists():
                    os.replace(p, p.with_name(p.name + ".corrupt"))
            return None
        return tensors, meta["meta"]

    def save(self, kind: str, cfg: dict, tensors: Tensors, meta: dict | None = None) -> None:
        tpath, jpath = self._paths(kind, key(cfg))
        tpath.parent.mkdir(parents=True, exist_ok=True)
        cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        atomic_write(tpath, lambda tmp: save_file(cpu, tmp))
        record = {"config": cfg, "meta": meta or {}, "sha256": _sha256(tpath)}
        atomic_write(jpath, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, default=str)))

    def get_or_compute(
        self, kind: str, cfg: dict, compute: Callable[[], tuple[Tensors, dict]], device: Any = "cpu"
    ) -> tuple[Tensors, dict]:
        hit = self.load(kind, cfg, device)
        if hit is not None:
            return hit
        tensors, meta = compute()
        self.save(kind, cfg, tensors, meta)
        return tensors, meta
