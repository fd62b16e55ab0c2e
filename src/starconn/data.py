"""Datasets held whole as tensors on the device, normalised, with a seeded minibatch iterator.

MNIST is read through ``torchvision.datasets.MNIST`` from the data directory
(``STARCONN_DATA``, torchvision's layout ``MNIST/raw/``) and downloaded there if it is missing
and the directory is writable; otherwise a clear error says which files to put where.

CIFAR-10 is read from torchvision's layout (``cifar-10-batches-py/``, downloaded when missing and
the data directory is writable), else from a local ImageFolder JPEG copy (``cifar10/{train,test}/``,
the tar ``cifar10-jpeg.tar``, or its lossless repack ``cifar10-jpeg.pack``; ``starconn.jpegs``),
decoded once and cached under ``STARCONN_CACHE/datasets/``.

Every dataset carries its identity (:attr:`Dataset.identity`): where its examples come from and a
digest of the examples used, by which the store keys everything computed from it.
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torchvision.datasets import CIFAR10, MNIST
from torchvision.datasets.utils import check_integrity

from . import config
from .config import shown
from .integrity import DataError, check_listed_checksum, examples_digest, sha256_once, tensor_digest
from .jpegs import SHUFFLE_SEED, decode_imagefolder
from .store import atomic_write

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


@dataclass
class Dataset:
    """A classification dataset as device tensors: ``x`` float (N, C, H, W), ``y`` int64 (N,)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str  # what the examples are and where they were read (paths relative to $STARCONN_DATA)
    num_classes: int = 10
    origin: str = ""  # what the examples are, in the store keys ("": ``source``)
    digests: dict[str, str] = field(default_factory=dict)  # {"train", "test"}: examples_digest of the examples read

    @property
    def n_train(self) -> int:
        return len(self.train_y)

    @property
    def identity(self) -> dict:
        """What identifies the training examples used, in every store key computed from them: the
        data set, where its examples come from, their number and a digest of them as read (uint8
        images and labels; of the tensors held where the loader gave no digest)."""
        return {"dataset": self.name, "origin": self.origin or self.source, "n_train": self.n_train,
                "sha256": self.digests.get("train") or tensor_digest(self.train_x, self.train_y)}

    @property
    def test_identity(self) -> dict:
        """What identifies the test examples used (test metrics are recomputed when it changes)."""
        return {"n_test": len(self.test_y), "sha256": self.digests.get("test") or tensor_digest(self.test_x, self.test_y)}


def _check_mnist(raw: Path) -> None:
    """Each raw MNIST file: present, exact size, IDX header (magic and shape), canonical SHA-256."""
    for name, size in MNIST_FILES.items():
        path = raw / name
        if not path.exists():
            raise DataError(
                f"MNIST file missing: {shown(path)}. Put the four raw IDX files "
                f"({', '.join(MNIST_FILES)}) in {shown(raw)}/ (torchvision's layout), or set STARCONN_DATA "
                "to a directory that has MNIST/raw/, or allow the download (internet access)."
            )
        if path.stat().st_size != size:
            raise DataError(f"MNIST file {shown(path)} has {path.stat().st_size} bytes; expected {size} "
                            "(truncated or not the raw, uncompressed IDX file): replace it")
        magic, dims = MNIST_HEADER[name]
        with open(path, "rb") as f:
            head = f.read(4 + 4 * len(dims))
        got_magic = int.from_bytes(head[:4], "big")
        got_dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(len(dims)))
        if got_magic != magic or got_dims != dims:
            raise DataError(f"MNIST file {shown(path)} has IDX header magic {got_magic:#06x}, shape {got_dims}; expected "
                            f"magic {magic:#06x}, shape {dims}: replace it")
        got = sha256_once(path)
        if got != MNIST_SHA256[name]:
            raise DataError(f"MNIST file {shown(path)} has SHA-256 {got}; expected {MNIST_SHA256[name]} (the canonical "
                            "MNIST file): it is corrupted or modified, replace it")


def mnist(device: torch.device | str = "cpu", n_train: int | None = None, n_test: int | None = None,
          pad_to: int | None = None, root: Path | None = None) -> Dataset:
    """MNIST, normalised with mean 0.1307 / std 0.3081, shape (N, 1, 28, 28).

    ``n_train`` / ``n_test`` keep the first examples (smaller profiles); ``pad_to=32`` zero-pads
    the (normalised-background) image to 32×32 for the VGG16 setting.
    """
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
    parts, digests = [], {}
    for split, n in (("train", n_train), ("test", n_test)):
        ds = MNIST(str(root), train=split == "train", download=False)
        digests[split] = examples_digest(("mnist-idx", split, n), ds.data[:n], ds.targets[:n])  # canonical files
        x = ds.data[:n].to(device=device, dtype=torch.float32).div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)
        x = x.unsqueeze(1)
        if pad_to is not None:
            p = (pad_to - 28) // 2
            x = torch.nn.functional.pad(x, (p, pad_to - 28 - p, p, pad_to - 28 - p), value=-MNIST_MEAN / MNIST_STD)
        parts += [x, ds.targets[:n].to(device)]
    source = f"MNIST raw IDX files via torchvision.datasets.MNIST ({shown(raw)})"
    origin = "MNIST raw IDX" + (f", zero-padded to {pad_to}×{pad_to}" if pad_to is not None else "")
    return Dataset("mnist", *parts, source=source, origin=origin, digests=digests)


CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_BATCHES = "cifar-10-batches-py"
CIFAR10_JPEG_DIR = "cifar10"
CIFAR10_JPEG_TAR = "cifar10-jpeg.tar"
CIFAR10_JPEG_PACK = "cifar10-jpeg.pack"
JPEG_NOTE = "JPEG quality 75, not bit-identical to CIFAR-10"


def _cached_imagefolder(src: Path) -> dict:
    """The decoded ImageFolder JPEG copy ``src`` (``jpegs.decode_imagefolder``), from the cache
    when it holds a readable decoding of this file; ``tag`` identifies the file."""
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
            return {**d, "tag": tag}
        except Exception as err:  # noqa: BLE001 - an unreadable cache is decoded again
            warnings.warn(f"decoded CIFAR-10 cache {shown(path)} is unreadable ({err}); decoding {shown(src)} again",
                          stacklevel=2)
    check_listed_checksum(src, src.parent)
    t0 = time.perf_counter()
    out = decode_imagefolder(src)
    out["decode_s"] = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(out, tmp))
    return {**out, "tag": tag}


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
        for name, md5 in CIFAR10.train_list + CIFAR10.test_list:
            if not check_integrity(str(batches_dir / name), md5):
                raise DataError(f"CIFAR-10 file {shown(batches_dir / name)} is missing or corrupted: expected MD5 {md5} "
                                "(torchvision's cifar-10-python.tar.gz); replace it")
        parts = []
        for train in (True, False):
            ds = CIFAR10(str(root), train=train, download=False)
            parts += [torch.from_numpy(ds.data).permute(0, 3, 1, 2), torch.tensor(ds.targets, dtype=torch.int64)]
        source = f"CIFAR-10 python batches via torchvision.datasets.CIFAR10 ({shown(batches_dir)})"
        origin, tag = "CIFAR-10 python batches", "cifar10-batches"  # MD5-checked: the canonical files
    elif local:
        src = local[0]
        d = _cached_imagefolder(src)
        parts = [d["train_x"], d["train_y"], d["test_x"], d["test_y"]]
        source = (f"CIFAR-10 JPEG ImageFolder copy {shown(src)} ({JPEG_NOTE}); decoded once and cached, "
                  f"examples in a fixed order shuffled with seed {SHUFFLE_SEED}")
        origin, tag = f"CIFAR-10 JPEG copy ({JPEG_NOTE}), shuffled with seed {SHUFFLE_SEED}", d["tag"]
    else:
        raise DataError(
            f"CIFAR-10 not found in {shown(root)}: expected torchvision's {shown(batches_dir)}/ (data_batch_1..5, "
            f"test_batch), or an ImageFolder JPEG copy {shown(folder)}/{{train,test}}/<class>/*.jpg, the tar "
            f"{shown(tar)} or its pack {shown(pack)}; "
            "set STARCONN_DATA "
            "to a directory holding one of them, or allow the download (internet access, writable directory)"
            + (f" (download failed: {download_err})" if download_err else "") + ".")
    mean = torch.tensor(CIFAR10_MEAN, device=device).reshape(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).reshape(1, 3, 1, 1)
    out, digests = [], {}
    for split, x, y, n in (("train", parts[0], parts[1], n_train), ("test", parts[2], parts[3], n_test)):
        digests[split] = examples_digest((tag, split, n), x[:n], y[:n])
        out += [x[:n].to(device=device, dtype=torch.float32).div_(255).sub_(mean).div_(std), y[:n].to(device)]
    return Dataset("cifar10", *out, source=source, origin=origin, digests=digests)


def batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
            ) -> Iterator[torch.Tensor]:
    """One epoch of minibatch indices: a seeded permutation of ``range(n)`` cut into batches."""
    perm = torch.randperm(n, generator=generator).to(device)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]
