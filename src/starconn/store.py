"""On-disk store of finished work (minima, centers), keyed by a hash of its full configuration.

An entry is ``<root>/<kind>/<key>.safetensors`` (the tensors) plus ``<key>.json`` (the
configuration, metadata and the tensors file's SHA-256). Both are written to a temporary file
and renamed into place, the JSON last, so a reader sees a whole entry or none; an entry whose
checksum does not match (a truncated or flipped file, a tensors file without its JSON) is
reported, moved aside as ``*.corrupt`` and recomputed. Writing and reading an entry hold an
exclusive lock on ``.<key>.lock`` beside it (``fcntl.flock``; released by the OS if the process
dies), so two processes computing the same entry at once leave one whole, consistent entry:
the tensors and the JSON of the same writer.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from . import config

try:
    import fcntl
except ImportError:  # not POSIX: atomic renames only
    fcntl = None

Tensors = dict[str, torch.Tensor]


def key(cfg: dict) -> str:
    """Hash of a JSON-serialisable configuration (order of keys does not matter)."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
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

    @contextmanager
    def _lock(self, kind: str, k: str) -> Iterator[None]:
        """Exclusive lock of one entry; none where the store is read-only (nobody can write it)."""
        fd = None
        if fcntl is not None:
            try:
                (self.root / kind).mkdir(parents=True, exist_ok=True)
                fd = os.open(self.root / kind / f".{k}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def load(self, kind: str, cfg: dict, device: str | torch.device = "cpu") -> tuple[Tensors, dict] | None:
        """The stored tensors and metadata for ``cfg``, or ``None`` if absent or corrupt."""
        k = key(cfg)
        if not self._paths(kind, k)[1].exists():
            return None
        with self._lock(kind, k):
            return self._load(kind, k, device)

    def _load(self, kind: str, k: str, device: str | torch.device) -> tuple[Tensors, dict] | None:
        tpath, jpath = self._paths(kind, k)
        if not jpath.exists():
            return None
        try:
            meta = json.loads(jpath.read_text())
            if not tpath.exists():
                raise ValueError(f"{tpath.name} is missing")
            got = sha256_file(tpath)
            if got != meta["sha256"]:
                raise ValueError(f"checksum mismatch: {tpath.name} has SHA-256 {got[:12]}…, "
                                 f"recorded {meta['sha256'][:12]}…")
            tensors = load_file(str(tpath), device=str(device))
        except Exception as err:  # noqa: BLE001 - any unreadable entry is recomputed
            warnings.warn(f"store: corrupt entry {jpath.stem} in {kind!r} under {jpath.parent} ({err}); "
                          "moved aside as *.corrupt and recomputing", stacklevel=3)
            for p in (jpath, tpath):
                if p.exists():
                    os.replace(p, p.with_name(p.name + ".corrupt"))
            return None
        return tensors, meta["meta"]

    def save(self, kind: str, cfg: dict, tensors: Tensors, meta: dict | None = None) -> None:
        k = key(cfg)
        tpath, jpath = self._paths(kind, k)
        tpath.parent.mkdir(parents=True, exist_ok=True)
        cpu = {n: v.detach().to("cpu").contiguous() for n, v in tensors.items()}
        digest = []

        def write_tensors(tmp: str) -> None:
            save_file(cpu, tmp)
            digest.append(sha256_file(Path(tmp)))  # the checksum of exactly the bytes this call wrote

        with self._lock(kind, k):
            atomic_write(tpath, write_tensors)
            record = {"config": cfg, "meta": meta or {}, "sha256": digest[0]}
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
