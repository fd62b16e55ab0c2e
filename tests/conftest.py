import pytest
import torch

from starconn.data import Dataset


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own store and results directory."""
    monkeypatch.setenv("STARCONN_CACHE", str(tmp_path / "store"))
    monkeypatch.setenv("STARCONN_OUT", str(tmp_path / "out"))
    torch.manual_seed(0)


def blobs(n: int = 600, d: int = 10, classes: int = 3, seed: int = 0) -> Dataset:
    """A small, separable classification problem: Gaussian clusters around random means."""
    g = torch.Generator().manual_seed(seed)
    means = 3 * torch.randn(classes, d, generator=g)
    y = torch.randint(classes, (2 * n,), generator=g)
    x = means[y] + torch.randn(2 * n, d, generator=g)
    return Dataset("blobs", x[:n], y[:n], x[n:], y[n:], source="synthetic blobs", num_classes=classes)


@pytest.fixture
def data() -> Dataset:
    return blobs()
