"""Datasets held whole as tensors on the device, normalised, with a seeded minibatch iterator.

MNIST is read through ``torchvision.datasets.MNIST`` from the data directory
(``STARCONN_DATA``, torchvision's layout ``MNIST/raw/``) and downloaded there if it is missing
and the directory is writable; otherwise a clear error says which files to put where.

CIFAR-10 is read from torchvision's layout (``cifar-10-batches-py/``, downloaded when missing and
the data directory is writable), else from a local ImageFolder JPEG copy (``cifar10/{train,test}/``,
the tar ``cifar10-jpeg.tar``, or its lossless repack ``cifar10-jpeg.pack``, see ``pack_jpeg``),
decoded once and cached under ``STARCONN_CACHE/datasets/``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import config
from .store import atomic_write, sha256_file

MNIST_FILES = {  # file -> exact size in bytes (IDX header + payload)
    "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
MNIST_SHA256 = {  # the canonical uncompressed IDX files (as torchvision unpacks them)
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_HEADER = {  # file -> (IDX magic number, dimensions)
    "train-images-idx3-ubyte": (0x803, (60000, 28, 28)),
    "train-labels-idx1-ubyte": (0x801, (60000,)),
    "t10k-images-idx3-ubyte": (0x803, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": (0x801, (10000,)),
}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_VERIFIED: dict[tuple, str] = {}  # (path, size, mtime_ns) -> SHA-256, so a process hashes a file once


class DataError(FileNotFoundError):
    """Data files are missing or are not what they should be."""


@dataclass
class Dataset:
    """A classification dataset as device tensors: ``x`` float (N, C, H, W), ``y`` int64 (N,)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str
    num_classes: int = 10

    @property
    def n_train(self) -> int:
        return len(self.train_y)


def _sha256_once(path: Path) -> str:
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
            got = _sha256_once(Path(path))
            if got != parts[0].lower():
                raise DataError(f"data file {path} has SHA-256 {got}; expected {parts[0]} (listed in {sums}). "
                                "It is truncated, corrupted or a different file: replace it")
            return


def _check_mnist(raw: Path) -> None:
    """Each raw MNIST file: present, exact size, IDX header (magic and shape), canonical SHA-256."""
    for name, size in MNIST_FILES.items():
        path = raw / name
        if not path.exists():
            raise DataError(
                f"MNIST file missing: {path}. Put the four raw IDX files "
                f"({', '.join(MNIST_FILES)}) in {raw}/ (torchvision's layout), or set STARCONN_DATA "
                "to a directory that has MNIST/raw/, or allow the download (internet access)."
            )
        if path.stat().st_size != size:
            raise DataError(f"MNIST file {path} has {path.stat().st_size} bytes; expected {size} "
                            "(truncated or not the raw, uncompressed IDX file): replace it")
        magic, dims = MNIST_HEADER[name]
        with open(path, "rb") as f:
            head = f.read(4 + 4 * len(dims))
        got_magic = int.from_bytes(head[:4], "big")
        got_dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(len(dims)))
        if got_magic != magic or got_dims != dims:
            raise DataError(f"MNIST file {path} has IDX header magic {got_magic:#06x}, shape {got_dims}; expected "
                            f"magic {magic:#06x}, shape {dims}: replace it")
        got = _sha256_once(path)
        if got != MNIST_SHA256[name]:
            raise DataError(f"MNIST file {path} has SHA-256 {got}; expected {MNIST_SHA256[name]} (the canonical "
                            "MNIST file): it is corrupted or modified, replace it")


def mnist(device: torch.device | str = "cpu", n_train: int | None = None, n_test: int | None = None,
          pad_to: int | None = None, root: Path | None = None) -> Dataset:
    """MNIST, normalised with mean 0.1307 / std 0.3081, shape (N, 1, 28, 28).

    ``n_train`` / ``n_test`` keep the first examples (smaller profiles); ``pad_to=32`` zero-pads
    the (normalised-background) image to 32×32 for the VGG16 setting.
    """
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else config.data_dir()
    raw = root / "MNIST" / "raw"
    if not all((raw / f).exists() for f in MNIST_FILES):
        try:
            MNIST(str(root), train=True, download=True)
            MNIST(str(root), train=False, download=True)
        except Exception as err:  # noqa: BLE001 - no internet or read-only directory
            try:
                _check_mnist(raw)
            except DataError as missing:
                raise DataError(f"{missing} (download failed: {err})") from None
    _check_mnist(raw)
    parts = []
    for train, n in ((True, n_train), (False, n_test)):
        ds = MNIST(str(root), train=train, download=False)
        x = ds.data[:n].to(device=device, dtype=torch.float32).div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
        x = x.unsqueeze(1)
        if pad_to is not None:
            p = (pad_to - 28) // 2
            x = torch.nn.functional.pad(x, (p, pad_to - 28 - p, p, pad_to - 28 - p), value=-MNIST_MEAN / MNIST_STD)
        parts += [x, ds.targets[:n].to(device)]
    source = f"MNIST raw IDX via torchvision.datasets.MNIST from {raw}"
    return Dataset("mnist", *parts, source=source)


CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_BATCHES = "cifar-10-batches-py"
CIFAR10_JPEG_DIR = "cifar10"
CIFAR10_JPEG_TAR = "cifar10-jpeg.tar"
CIFAR10_JPEG_PACK = "cifar10-jpeg.pack"
PACK_MAGIC = b"STARCONN-JPEG-PACK 1\n"
JPEG_NOTE = "JPEG quality 75, not bit-identical to CIFAR-10"
SHUFFLE_SEED = 0


def _jpeg_members(src: Path) -> list[tuple[str, str, str, object]]:
    """``(split, class, name, read)`` of every ``{train,test}/<class>/*.jpg`` in a folder, tar or pack."""
    out = []
    if src.suffix == ".pack":
        return _read_pack(src)
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
        raise DataError(f"{src} is truncated or not a tar file ({err}); expected an uncompressed tar of "
                        "train/<class>/*.jpg and test/<class>/*.jpg: replace it") from None
    return out


def _split_jpeg(blob: bytes) -> tuple[bytes, bytes]:
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
    members, scans, digest = [], [], hashlib.sha256()
    for split, cls, name, read in sorted(_jpeg_members(Path(src)), key=lambda m: m[:3]):
        blob = read()
        digest.update(blob)
        head, scan = _split_jpeg(blob)
        members.append([split, cls, name, headers.setdefault(head, len(headers)), len(scan)])
        scans.append(scan)
    index = json.dumps({"source": Path(src).name, "headers": [h.hex() for h in headers], "members": members,
                        "sha256": digest.hexdigest()}).encode()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(PACK_MAGIC + len(index).to_bytes(8, "little") + index)
            for scan in scans:
                f.write(scan)

    atomic_write(Path(dest), write)
    return {"images": len(members), "headers": len(headers), "bytes": Path(dest).stat().st_size}


def _read_pack(src: Path) -> list[tuple[str, str, str, object]]:
    raw = src.read_bytes()
    if not raw.startswith(PACK_MAGIC):
        raise DataError(f"{src} is not a starconn JPEG pack (made by starconn.data.pack_jpeg)")
    n = int.from_bytes(raw[len(PACK_MAGIC) : len(PACK_MAGIC) + 8], "little")
    start = len(PACK_MAGIC) + 8
    try:
        index = json.loads(raw[start : start + n])
    except ValueError:
        raise DataError(f"{src} is truncated or corrupted: its index is unreadable; repack it with "
                        "starconn.data.pack_jpeg") from None
    headers = [bytes.fromhex(h) for h in index["headers"]]
    out, pos, digest = [], start + n, hashlib.sha256()
    for split, cls, name, h, size in index["members"]:
        blob = headers[h] + raw[pos : pos + size]
        pos += size
        digest.update(blob)
        out.append((split, cls, name, lambda b=blob: b))
    if pos != len(raw) or digest.hexdigest() != index["sha256"]:
        raise DataError(f"{src} is truncated or corrupted: its images do not match the SHA-256 recorded "
                        f"when it was packed from {index['source']}; repack it with starconn.data.pack_jpeg")
    return out


def _decode_jpeg(blob: bytes) -> torch.Tensor:
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(blob)).convert("RGB")
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def _decode_imagefolder(src: Path) -> dict:
    """Decode an ImageFolder JPEG copy into uint8 tensors; labels = index of the sorted class folders."""
    members = _jpeg_members(src)
    classes = sorted({c for split, c, _, _ in members if split == "train"})
    if not classes or not any(split == "test" for split, *_ in members):
        raise DataError(f"{src} holds no train/<class>/*.jpg and test/<class>/*.jpg images")
    out = {"classes": classes}
    for split in ("train", "test"):
        items = sorted((c, n, r) for sp, c, n, r in members if sp == split)
        unknown = {c for c, _, _ in items} - set(classes)
        if unknown:
            raise DataError(f"{src}: test classes {sorted(unknown)} are not among the train classes {classes}")
        xs = []
        for c, n, read in tqdm(items, desc=f"decoding {split} JPEGs", file=sys.stderr, mininterval=2):
            try:
                x = _decode_jpeg(read())
            except Exception as err:  # noqa: BLE001 - PIL raises many kinds
                raise DataError(f"{src}: {split}/{c}/{n} is not a readable JPEG ({err}): replace the copy") from None
            if x.shape != (3, 32, 32):
                raise DataError(f"{src}: {split}/{c}/{n} is {tuple(x.shape[1:])}, expected 32×32")
            xs.append(x)
        y = torch.tensor([classes.index(c) for c, _, _ in items], dtype=torch.int64)
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(SHUFFLE_SEED))
        out[f"{split}_x"], out[f"{split}_y"] = torch.stack(xs)[perm], y[perm]
    return out


def _cached_imagefolder(src: Path) -> dict:
    st = src.stat()
    tag = hashlib.sha256(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    path = config.cache_dir() / "datasets" / f"cifar10-jpeg-{tag}.pt"
    if path.exists():
        try:
            d = torch.load(path)
            n_train, n_test = len(d["train_y"]), len(d["test_y"])
            if (d["train_x"].shape != (n_train, 3, 32, 32) or d["test_x"].shape != (n_test, 3, 32, 32)
                    or d["train_x"].dtype != torch.uint8 or d["test_x"].dtype != torch.uint8):
                raise ValueError("unexpected shapes or dtypes")
            return d
        except Exception as err:  # noqa: BLE001 - an unreadable cache is decoded again
            import warnings

            warnings.warn(f"decoded CIFAR-10 cache {path} is unreadable ({err}); decoding {src} again", stacklevel=2)
    check_listed_checksum(src, src.parent)
    t0 = time.perf_counter()
    out = _decode_imagefolder(src)
    out["decode_s"] = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(out, tmp))
    return out


def cifar10(device: torch.device | str = "cpu", n_train: int | None = None, n_test: int | None = None,
            root: Path | None = None) -> Dataset:
    """CIFAR-10 normalised per channel (CIFAR-10 mean/std), shape (N, 3, 32, 32).

    Sources, in order: torchvision's ``cifar-10-batches-py/`` in the data directory (downloaded
    there when missing and the directory is writable); else a local ImageFolder JPEG copy, the
    folder ``cifar10/{train,test}/<class>/*.jpg`` or the tar ``cifar10-jpeg.tar`` (decoded once,
    cached under ``STARCONN_CACHE/datasets/``; its examples are put in a fixed order shuffled with
    seed 0, so that the first ``n`` are a class-mixed subset). ``n_train`` / ``n_test`` keep the
    first examples.
    """
    from torchvision.datasets import CIFAR10

    root = Path(root) if root is not None else config.data_dir()
    batches_dir = root / CIFAR10_BATCHES
    folder, tar, pack = root / CIFAR10_JPEG_DIR, root / CIFAR10_JPEG_TAR, root / CIFAR10_JPEG_PACK
    local = [p for p in (folder, tar, pack) if (p / "train").is_dir() or p.is_file()]
    download_err = None
    if not batches_dir.is_dir() and not local and root.is_dir() and os.access(root, os.W_OK):
        try:
            CIFAR10(str(root), train=True, download=True)
            CIFAR10(str(root), train=False, download=True)
        except Exception as err:  # noqa: BLE001 - no internet
            download_err = err
    if batches_dir.is_dir():
        from torchvision.datasets.utils import check_integrity

        for name, md5 in CIFAR10.train_list + CIFAR10.test_list:
            if not check_integrity(str(batches_dir / name), md5):
                raise DataError(f"CIFAR-10 file {batches_dir / name} is missing or corrupted: expected MD5 {md5} "
                                "(torchvision's cifar-10-python.tar.gz); replace it")
        parts = []
        for train in (True, False):
            ds = CIFAR10(str(root), train=train, download=False)
            parts += [torch.from_numpy(ds.data).permute(0, 3, 1, 2), torch.tensor(ds.targets, dtype=torch.int64)]
        source = f"CIFAR-10 python batches via torchvision.datasets.CIFAR10 from {batches_dir}"
    elif local:
        src = local[0]
        d = _cached_imagefolder(src)
        parts = [d["train_x"], d["train_y"], d["test_x"], d["test_y"]]
        source = (f"CIFAR-10 JPEG ImageFolder copy {src} ({JPEG_NOTE}); decoded once and cached, "
                  f"examples in a fixed order shuffled with seed {SHUFFLE_SEED}")
    else:
        raise DataError(
            f"CIFAR-10 not found in {root}: expected torchvision's {batches_dir}/ (data_batch_1..5, test_batch), "
            f"or an ImageFolder JPEG copy {folder}/{{train,test}}/<class>/*.jpg, the tar {tar} or its pack {pack}; "
            "set STARCONN_DATA "
            "to a directory holding one of them, or allow the download (internet access, writable directory)"
            + (f" (download failed: {download_err})" if download_err else "") + ".")
    mean = torch.tensor(CIFAR10_MEAN, device=device).reshape(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).reshape(1, 3, 1, 1)
    out = []
    for x, y, n in ((parts[0], parts[1], n_train), (parts[2], parts[3], n_test)):
        out += [x[:n].to(device=device, dtype=torch.float32).div_(255).sub_(mean).div_(std), y[:n].to(device)]
    return Dataset("cifar10", *out, source=source)


def batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
            ) -> Iterator[torch.Tensor]:
    """One epoch of minibatch indices: a seeded permutation of ``range(n)`` cut into batches."""
    perm = torch.randperm(n, generator=generator).to(device)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]
