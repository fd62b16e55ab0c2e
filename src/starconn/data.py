"""Datasets held whole as tensors on the device, normalised, with a seeded minibatch iterator.

MNIST is read through ``torchvision.datasets.MNIST`` from the data directory
(``STARCONN_DATA``, torchvision's layout ``MNIST/raw/``) and downloaded there if it is missing
and the directory is writable; otherwise a clear error says which files to put where.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from . import config

MNIST_FILES = {  # file -> exact size in bytes (IDX header + payload)
    "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


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


def _check_mnist(raw: Path) -> None:
    for name, size in MNIST_FILES.items():
        path = raw / name
        if not path.exists():
            raise DataError(
                f"MNIST file missing: {path}. Put the four raw IDX files "
                f"({', '.join(MNIST_FILES)}) in {raw}/ (torchvision's layout), or set STARCONN_DATA "
                "to a directory that has MNIST/raw/, or allow the download (internet access)."
            )
        if path.stat().st_size != size:
            raise DataError(f"MNIST file {path} has {path.stat().st_size} bytes; expected {size}")


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


def batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
            ) -> Iterator[torch.Tensor]:
    """One epoch of minibatch indices: a seeded permutation of ``range(n)`` cut into batches."""
    perm = torch.randperm(n, generator=generator).to(device)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]
