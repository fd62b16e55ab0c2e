"""On-disk store of finished work (minima, centers), keyed by a hash of its full configuration.

A key hashes the configuration together with the store's ``SCHEMA``, the version of what a
configuration must name: schema 2 keys name the identity of the data a result was computed from
(``Dataset.identity``: source and digest of the examples used). An entry written under another
schema is never returned (its key differs); the first time a process reads a kind of entry, the
store reports how many entries of other schemas it holds (they can be deleted).

An entry is ``<root>/<kind>/<key>.safetensors`` (the tensors) plus ``<key>.json`` (the
configuration, metadata and the tensors file's SHA-256). Both are written to a temporary file
and renamed into place, the JSON last, so a reader sees a whole entry or none; an entry whose
checksum does not match (a truncated or flipped file, a tensors file without its JSON) is
reported, moved aside as ``*.corrupt`` and recomputed. Writing and reading an entry hold an
exclusive lock on ``.<key>.lock`` beside it (``fcntl.flock``; released by the OS if the process
dies), so two processes computing the same entry at once leave one whole, consistent entry:
the tensors and the JSON of the same writer.

A long computation (a center search, an ensemble of minima) can also keep a *checkpoint* while it
runs (:class:`Checkpoint`, from :meth:`Store.checkpoint`): its whole state, written the same way
(tensors + JSON with their SHA-256, atomically, under the entry's lock) as
``<root>/<kind>/checkpoints/<key>.ckpt.*``, ``<key>`` the final entry's key. A rerun with the same
configuration resumes from it; it is deleted once the final entry is stored. A damaged checkpoint
is reported, moved aside and ignored (the computation starts from scratch).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
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
SCHEMA = 2  # 1: keys without the data's identity (before 2026-12); 2: keys name the data (source, digest)
_REPORTED: set[tuple[str, str]] = set()  # (root, kind) whose older entries were reported by this process


def key(cfg: dict) -> str:
    """Hash of a JSON-serialisable configuration under the current ``SCHEMA`` (order of keys does
    not matter)."""
    blob = json.dumps({"schema": SCHEMA, "config": cfg}, sort_keys=True, separators=(",", ":"), default=str)
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
        self._report_other_schemas(kind)
        if not self._paths(kind, k)[1].exists():
            return None
        with self._lock(kind, k):
            return self._load(kind, k, device)

    def _load(self, kind: str, k: str, device: str | torch.device, what: str = "entry",
              then: str = "recomputing") -> tuple[Tensors, dict] | None:
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
            warnings.warn(f"store: corrupt {what} {jpath.stem} in {kind!r} under {config.shown(jpath.parent)} ({err}); "
                          f"moved aside as *.corrupt and {then}", stacklevel=3)
            for p in (jpath, tpath):
                if p.exists():
                    os.replace(p, p.with_name(p.name + ".corrupt"))
            return None
        return tensors, meta["meta"]

    def save(self, kind: str, cfg: dict, tensors: Tensors, meta: dict | None = None) -> None:
        self._save(kind, key(cfg), cfg, tensors, meta)

    def _save(self, kind: str, k: str, cfg: dict, tensors: Tensors, meta: dict | None) -> None:
        tpath, jpath = self._paths(kind, k)
        tpath.parent.mkdir(parents=True, exist_ok=True)
        cpu = {n: v.detach().to("cpu").contiguous() for n, v in tensors.items()}
        digest = []

        def write_tensors(tmp: str) -> None:
            save_file(cpu, tmp)
            digest.append(sha256_file(Path(tmp)))  # the checksum of exactly the bytes this call wrote

        with self._lock(kind, k):
            atomic_write(tpath, write_tensors)
            record = {"schema": SCHEMA, "config": cfg, "meta": meta or {}, "sha256": digest[0]}
            atomic_write(jpath, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1, default=str)))

    def _report_other_schemas(self, kind: str) -> None:
        """Warn, once per process and kind, about entries written under another schema (ignored)."""
        if (str(self.root), kind) in _REPORTED or not (self.root / kind).is_dir():
            return
        _REPORTED.add((str(self.root), kind))
        others: dict[int, int] = {}
        for j in (self.root / kind).glob("*.json"):
            try:
                record = json.loads(j.read_text())
            except (OSError, ValueError):
                continue  # unreadable: reported as corrupt when it is read
            if not isinstance(record, dict) or "config" not in record:
                continue  # not an entry: likewise
            schema = record.get("schema", 1)  # entries of schema 1 did not record it
            if schema != SCHEMA:
                others[schema] = others.get(schema, 0) + 1
        if others:
            found = ", ".join(f"{n} of schema {v}" for v, n in sorted(others.items()))
            warnings.warn(f"store: {sum(others.values())} entries in {config.shown(self.root / kind)} were written "
                          f"under another schema ({found}; this is schema {SCHEMA}) and are ignored; delete them to "
                          "free the space", stacklevel=3)

    def _remove(self, kind: str, k: str) -> None:
        tpath, jpath = self._paths(kind, k)
        if not (tpath.exists() or jpath.exists()):
            return  # nothing to remove: no lock file, no folder made
        with self._lock(kind, k):
            for p in (jpath, tpath):  # the JSON first: tensors without their JSON are no entry
                if p.exists():
                    p.unlink()

    def checkpoint(self, kind: str, cfg: dict, every_s: float | None = None) -> Checkpoint:
        """The checkpoint of the computation whose final entry is ``(kind, cfg)``."""
        return Checkpoint(self, kind, cfg, every_s)

    def get_or_compute(
        self, kind: str, cfg: dict, compute: Callable[..., tuple[Tensors, dict]], device: Any = "cpu",
        checkpointed: bool = False,
    ) -> tuple[Tensors, dict]:
        """The stored entry for ``cfg``, else ``compute()`` stored. With ``checkpointed=True``,
        ``compute(checkpoint)`` gets the entry's :class:`Checkpoint` (to resume from and to save
        into); the checkpoint is deleted once the entry is stored."""
        hit = self.load(kind, cfg, device)
        if hit is not None:
            return hit
        ck = self.checkpoint(kind, cfg) if checkpointed else None
        tensors, meta = compute(ck) if checkpointed else compute()
        self.save(kind, cfg, tensors, meta)
        if ck is not None:
            ck.clear()
        return tensors, meta


_clock = time.monotonic  # the checkpoints' clock (a test replaces it)


def checkpoint_interval() -> float:
    """Seconds between checkpoints: ``STARCONN_CHECKPOINT_S`` (default 30; 0: every epoch)."""
    raw = os.environ.get("STARCONN_CHECKPOINT_S", "30")
    try:
        every = float(raw)
    except ValueError:
        raise ValueError(f"STARCONN_CHECKPOINT_S must be a number of seconds >= 0; got {raw!r}") from None
    if not every >= 0:
        raise ValueError(f"STARCONN_CHECKPOINT_S must be a number of seconds >= 0; got {raw!r}")
    return every


class Checkpoint:
    """Mid-run state of one computation, kept in the store beside its final entry.

    The computation calls :meth:`load` once at its start (``None``: start from scratch), and at the
    end of an epoch :meth:`save` when :meth:`due` says so: at most one save every ``every_s``
    seconds (default :func:`checkpoint_interval`, 30 s), and, when saving is slow (a 5-member VGG16
    ensemble with its Adam state is 0.8 GiB, ~3 s to write and checksum), at most one every
    ``OVERHEAD`` (20) times the last save's duration, so saving costs at most ~5 % of the run;
    ``every_s = 0`` saves after every epoch whatever it costs (tests). Its owner calls
    :meth:`clear` once the final entry is stored. ``elapsed_s`` is the computation's wall time
    before the checkpoint it resumed from (0 when it started from scratch), so ``elapsed_s +
    (time of this run)`` is its total; ``resumed_epoch`` the epoch it resumed after (0: none);
    ``saves`` and ``save_total_s`` count this run's saves and their time.
    """

    SUFFIX = ".ckpt"
    OVERHEAD = 20  # at least this many times the last save's duration between two saves (every_s > 0)

    def __init__(self, store: Store, kind: str, cfg: dict, every_s: float | None = None):
        self.store, self.cfg = store, cfg
        self.kind = f"{kind}/checkpoints"
        self.key = key(cfg) + self.SUFFIX
        self.every_s = checkpoint_interval() if every_s is None else float(every_s)
        self.elapsed_s, self.resumed_epoch = 0.0, 0
        self.saves, self.save_s, self.save_total_s = 0, 0.0, 0.0
        self._t0 = self._last = _clock()

    @property
    def path(self) -> Path:
        """The checkpoint's tensors file."""
        return self.store._paths(self.kind, self.key)[0]

    def load(self, device: str | torch.device = "cpu") -> tuple[Tensors, dict] | None:
        """The saved state, or ``None`` (none saved, or damaged: reported and moved aside)."""
        self._t0 = self._last = _clock()
        if not self.store._paths(self.kind, self.key)[1].exists():
            return None
        with self.store._lock(self.kind, self.key):
            hit = self.store._load(self.kind, self.key, device, what="checkpoint",
                                   then="starting from scratch")
        if hit is not None:
            self.elapsed_s = float(hit[1].get("elapsed_s", 0.0))
            self.resumed_epoch = int(hit[1].get("epoch", 0))
        return hit

    def reject(self, why: str) -> None:
        """Report a checkpoint that does not fit the computation, and move it aside."""
        warnings.warn(f"store: checkpoint {config.shown(self.path)} does not match this computation ({why}); "
                      "ignored, starting from scratch", stacklevel=3)
        for p in self.store._paths(self.kind, self.key):
            if p.exists():
                os.replace(p, p.with_name(p.name + ".corrupt"))
        self.elapsed_s, self.resumed_epoch = 0.0, 0

    def due(self) -> bool:
        """Whether it is time to save: ``every_s`` seconds (and ``OVERHEAD`` times the last save's
        duration) since the last save or the start."""
        gap = _clock() - self._last
        return gap >= self.every_s and (self.every_s == 0 or gap >= self.OVERHEAD * self.save_s)

    def save(self, tensors: Tensors, meta: dict) -> None:
        """Write the state atomically (``meta`` gets ``elapsed_s``, the total wall time so far). A
        save that fails (disk full, read-only store) is reported once; the computation goes on
        without checkpoints (a checkpoint only saves time, the final entry is what counts)."""
        t0 = _clock()
        meta = {**meta, "elapsed_s": self.elapsed_s + t0 - self._t0}
        try:
            self.store._save(self.kind, self.key, self.cfg, tensors, meta)
        except OSError as err:
            warnings.warn(f"store: could not write checkpoint {config.shown(self.path)} ({err}); continuing without "
                          "checkpoints", stacklevel=3)
            self.every_s = math.inf
            return
        self._last = _clock()
        self.saves += 1
        self.save_s = self._last - t0  # the last save's duration
        self.save_total_s += self.save_s  # with ``saves``: the overhead of checkpointing so far

    def clear(self) -> None:
        """Delete the checkpoint (after the final entry is stored)."""
        self.store._remove(self.kind, self.key)
