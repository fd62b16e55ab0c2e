import pytest
import torch

from starconn.data import Dataset
from synthetic import blobs


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own store and results directory."""
    monkeypatch.setenv("STARCONN_CACHE", str(tmp_path / "store"))
    monkeypatch.setenv("STARCONN_OUT", str(tmp_path / "out"))
    torch.manual_seed(0)


@pytest.fixture
def data() -> Dataset:
    return blobs()
