"""CIFAR-10 as an ImageFolder JPEG copy: reading it, packing it, decoding it.

A copy is ``{train,test}/<class>/*.jpg`` as a folder, an uncompressed tar, or a *pack*
(:func:`pack_jpeg`): a lossless, compact repack of a folder or tar that stores the JPEG headers
its images share once (the 89 MB CIFAR-10 tar becomes ≈20 MB, small enough to carry to a GPU
machine). :func:`decode_imagefolder` decodes any of the three into uint8 tensors, labelled by
the sorted class folders, in a fixed order shuffled with seed ``SHUFFLE_SEED``.
``starconn.data.cifar10`` caches the decoded tensors.
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .config import shown
from .integrity import DataError
from .store import atomic_write

PACK_MAGIC = b"STARCONN-JPEG-PACK 1\n"
SHUFFLE_SEED = 0


def members(src: Path) -> list[tuple[str, str, str, object]]:
    """``(split, class, name, read)`` of every ``{train,test}/<class>/*.jpg`` in a folder, tar or pack."""
    out = []
    if src.suffix == ".pack":
        return read_pack(src)
    if src.is_dir():
        for split in ("train", "test"):
            for f in sorted((src / split).glob("*/*.jpg")):
                out.append((split, f.parent.name, f.name, f.read_bytes))
        return out
    try:
        with tarfile.open(src) as tar:  # read into memory (88 MB for CIFAR-10), nothing extracted to disk
            for m in tar.getmembers():
                parts = Path(m.name.lstrip("./")).parts
                if m.isfile() and len(parts) == 3 and parts[0] in ("train", "test") and parts[2].lower().endswith(".jpg"):
                    blob = tar.extractfile(m).read()
                    if len(blob) != m.size:
                        raise EOFError(f"{m.name}: {len(blob)} of {m.size} bytes")
                    out.append((parts[0], parts[1], parts[2], lambda b=blob: b))
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataError(f"{shown(src)} is truncated or not a tar file ({err}); expected an uncompressed tar of "
                        "train/<class>/*.jpg and test/<class>/*.jpg: replace it") from None
    return out


def split_jpeg(blob: bytes) -> tuple[bytes, bytes]:
    """A baseline JPEG as (everything up to and including the start-of-scan header, the scan)."""
    sos = blob.find(b"\xff\xda")
    if not blob.startswith(b"\xff\xd8") or sos < 0:
        raise DataError("not a baseline JPEG (no SOI or SOS marker)")
    end = sos + 2 + int.from_bytes(blob[sos + 2 : sos + 4], "big")
    return blob[:end], blob[end:]


def pack_jpeg(src: Path, dest: Path) -> dict:
    """Repack an ImageFolder JPEG copy (folder or tar) losslessly and compactly into ``dest``.

    CIFAR-10 images of one encoder share their JPEG headers (quantisation and Huffman tables,
    623 of the ≈920 bytes of a 32×32 image), so each header is stored once and each image keeps
    only its scan: the 89 MB tar becomes ≈20 MB, small enough to travel to a GPU machine. Every
    file is rebuilt byte for byte on reading (checked by SHA-256), so decoding gives exactly the
    pixels of the original copy. Returns the pack's summary.
    """
    headers: dict[bytes, int] = {}
    rows, scans, digest = [], [], hashlib.sha256()
    for split, cls, name, read in sorted(members(Path(src)), key=lambda m: m[:3]):
        blob = read()
        digest.update(blob)
        head, scan = split_jpeg(blob)
        rows.append([split, cls, name, headers.setdefault(head, len(headers)), len(scan)])
        scans.append(scan)
    index = json.dumps({"source": Path(src).name, "headers": [h.hex() for h in headers], "members": rows,
                        "sha256": digest.hexdigest()}).encode()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(PACK_MAGIC + len(index).to_bytes(8, "little") + index)
            for scan in scans:
                f.write(scan)

    atomic_write(Path(dest), write)
    return {"images": len(rows), "headers": len(headers), "bytes": Path(dest).stat().st_size}


def read_pack(src: Path) -> list[tuple[str, str, str, object]]:
    """The members of a pack (as :func:`members`), every file rebuilt and checked against the
    pack's SHA-256."""
    raw = src.read_bytes()
    if not raw.startswith(PACK_MAGIC):
        raise DataError(f"{shown(src)} is not a starconn JPEG pack (made by starconn.jpegs.pack_jpeg)")
    n = int.from_bytes(raw[len(PACK_MAGIC) : len(PACK_MAGIC) + 8], "little")
    start = len(PACK_MAGIC) + 8
    try:
        index = json.loads(raw[start : start + n])
    except ValueError:
        raise DataError(f"{shown(src)} is truncated or corrupted: its index is unreadable; repack it with "
                        "starconn.jpegs.pack_jpeg") from None
    headers = [bytes.fromhex(h) for h in index["headers"]]
    out, pos, digest = [], start + n, hashlib.sha256()
    for split, cls, name, h, size in index["members"]:
        blob = headers[h] + raw[pos : pos + size]
        pos += size
        digest.update(blob)
        out.append((split, cls, name, lambda b=blob: b))
    if pos != len(raw) or digest.hexdigest() != index["sha256"]:
        raise DataError(f"{shown(src)} is truncated or corrupted: its images do not match the SHA-256 recorded "
                        f"when it was packed from {index['source']}; repack it with starconn.jpegs.pack_jpeg")
    return out


def decode_jpeg(blob: bytes) -> torch.Tensor:
    """One JPEG as a uint8 tensor (3, H, W)."""
    img = Image.open(io.BytesIO(blob)).convert("RGB")
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def decode_imagefolder(src: Path) -> dict:
    """Decode an ImageFolder JPEG copy into uint8 tensors; labels = index of the sorted class folders."""
    found = members(src)
    classes = sorted({c for split, c, _, _ in found if split == "train"})
    if not classes or not any(split == "test" for split, *_ in found):
        raise DataError(f"{shown(src)} holds no train/<class>/*.jpg and test/<class>/*.jpg images")
    out = {"classes": classes}
    for split in ("train", "test"):
        items = sorted((c, n, r) for sp, c, n, r in found if sp == split)
        unknown = {c for c, _, _ in items} - set(classes)
        if unknown:
            raise DataError(f"{shown(src)}: test classes {sorted(unknown)} are not among the train classes {classes}")
        xs = []
        for c, n, read in tqdm(items, desc=f"decoding {split} JPEGs", file=sys.stderr, mininterval=2):
            try:
                x = decode_jpeg(read())
            except Exception as err:  # noqa: BLE001 - PIL raises many kinds
                raise DataError(f"{shown(src)}: {split}/{c}/{n} is not a readable JPEG ({err}): replace the copy") from None
            if x.shape != (3, 32, 32):
                raise DataError(f"{shown(src)}: {split}/{c}/{n} is {tuple(x.shape[1:])}, expected 32×32")
            xs.append(x)
        y = torch.tensor([classes.index(c) for c, _, _ in items], dtype=torch.int64)
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(SHUFFLE_SEED))
        out[f"{split}_x"], out[f"{split}_y"] = torch.stack(xs)[perm], y[perm]
    return out
