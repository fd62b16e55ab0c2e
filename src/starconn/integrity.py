"""Is this the data we think it is: checks of data files and digests of the examples used.

Data files are checked before use (``starconn.data`` and ``starconn.jpegs`` raise
:class:`DataError` naming the file and what was expected); a file's SHA-256 is computed once per
process. :func:`examples_digest` identifies the examples a run actually used (the store keys every
result computed from data by it, ``Dataset.identity``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .config import shown
from .store import sha256_file

_VERIFIED: dict[tuple, str] = {}  # (path, size, mtime_ns) -> SHA-256, so a process hashes a file once
_DIGESTS: dict[tuple, str] = {}  # (tag of the source, split, n) -> examples_digest


class DataError(FileNotFoundError):
    """Data files are missing or are not what they should be."""


def sha256_once(path: Path) -> str:
    """SHA-256 of a file (``store.sha256_file``), remembered for this process while its size and
    mtime stay the same."""
    st = path.stat()
    tag = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if tag not in _VERIFIED:
        _VERIFIED[tag] = sha256_file(path)
    return _VERIFIED[tag]


def check_listed_checksum(path: Path, root: Path) -> None:
    """If ``root/SHA256SUMS`` (``sha256sum`` format) lists ``path``, check the file against it."""
    sums = Path(root) / "SHA256SUMS"
    if not sums.is_file() or not Path(path).is_file():
        return
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return
    for line in sums.read_text().splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2 and parts[1].lstrip("*").strip() == rel:
            got = sha256_once(Path(path))
            if got != parts[0].lower():
                raise DataError(f"data file {shown(path)} has SHA-256 {got}; expected {parts[0]} (listed in "
                                f"{shown(sums)}). It is truncated, corrupted or a different file: replace it")
            return


def tensor_digest(*tensors: torch.Tensor) -> str:
    """SHA-256 (first 16 hex digits) of the shapes, dtypes and bytes of ``tensors``."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)} {t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()[:16]


def examples_digest(tag: tuple, x: torch.Tensor, y: torch.Tensor) -> str:
    """:func:`tensor_digest` of examples ``x`` (as read: uint8 images) and labels ``y``, computed
    once per process for the same ``tag`` (what identifies the source, the split and the count)."""
    if tag not in _DIGESTS:
        _DIGESTS[tag] = tensor_digest(x, y)
    return _DIGESTS[tag]
