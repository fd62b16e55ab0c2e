import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from starconn import data, jpegs

COLORS = {"bird": (200, 30, 30), "cat": (30, 30, 200)}  # sorted: bird -> 0, cat -> 1


def jpeg(color, seed) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(color)[None, None] + rng.integers(-10, 10, (32, 32, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def make_tar(root, n_train=3, n_test=2):
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(root / "cifar10-jpeg.tar", "w") as tar:
        for split, n in (("train", n_train), ("test", n_test)):
            for cls, color in COLORS.items():
                for i in range(n):
                    blob = jpeg(color, hash((split, cls, i)) % 1000)
                    info = tarfile.TarInfo(f"{split}/{cls}/{i:04d}.jpg")
                    info.size = len(blob)
                    tar.addfile(info, io.BytesIO(blob))
    return root


def test_jpeg_tar_labels_shape_normalisation_and_cache(tmp_path, monkeypatch):
    root = make_tar(tmp_path / "data")
    root.chmod(0o555)  # read-only data directory: nothing is written there, no download is tried
    calls = []
    decode = jpegs.decode_jpeg
    monkeypatch.setattr(jpegs, "decode_jpeg", lambda b: calls.append(1) or decode(b))
    try:
        ds = data.cifar10(root=root)
        assert len(calls) == 10
        assert ds.train_x.shape == (6, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
        assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
        assert sorted(ds.train_y.tolist()) == [0, 0, 0, 1, 1, 1] and sorted(ds.test_y.tolist()) == [0, 0, 1, 1]
        # label 0 = "bird" (red), label 1 = "cat" (blue): red channel minus blue channel, un-normalised
        for x, y in ((ds.train_x, ds.train_y), (ds.test_x, ds.test_y)):
            mean, std = torch.tensor(data.CIFAR10_MEAN), torch.tensor(data.CIFAR10_STD)
            raw = (x * std.reshape(1, 3, 1, 1) + mean.reshape(1, 3, 1, 1)).mean((2, 3))
            assert torch.equal((raw[:, 0] < raw[:, 2]).long(), y)
        assert "JPEG quality 75, not bit-identical to CIFAR-10" in ds.source and "cifar10-jpeg.tar" in ds.source
        assert list((tmp_path / "store" / "datasets").glob("cifar10-jpeg-*.pt"))
        assert sorted(p.name for p in root.iterdir()) == ["cifar10-jpeg.tar"]
        # second call: from the cache, nothing decoded; subsets are the first examples
        small = data.cifar10(root=root, n_train=4, n_test=2)
        assert len(calls) == 10
        torch.testing.assert_close(small.train_x, ds.train_x[:4])
        assert torch.equal(small.test_y, ds.test_y[:2])
    finally:
        root.chmod(0o755)


def test_jpeg_folder_copy(tmp_path):
    root = tmp_path / "data"
    for split in ("train", "test"):
        for cls, color in COLORS.items():
            (root / "cifar10" / split / cls).mkdir(parents=True)
            (root / "cifar10" / split / cls / "0000.jpg").write_bytes(jpeg(color, 0))
    root.chmod(0o555)
    try:
        ds = data.cifar10(root=root)
    finally:
        root.chmod(0o755)
    assert ds.train_x.shape == (2, 3, 32, 32) and sorted(ds.train_y.tolist()) == [0, 1]
    assert "JPEG" in ds.source


def test_missing_cifar10_names_what_is_expected(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    root.chmod(0o555)  # not writable: no download is tried
    try:
        with pytest.raises(data.DataError) as err:
            data.cifar10(root=root)
    finally:
        root.chmod(0o755)
    msg = str(err.value)
    for part in ("cifar-10-batches-py", "cifar10/{train,test}/<class>/*.jpg", "cifar10-jpeg.tar", "STARCONN_DATA"):
        assert part in msg


def test_pack_is_lossless_compact_and_checked(tmp_path):
    tar_root = make_tar(tmp_path / "tar")
    pack_root = tmp_path / "pack"
    pack_root.mkdir()
    pack = pack_root / data.CIFAR10_JPEG_PACK
    info = jpegs.pack_jpeg(tar_root / data.CIFAR10_JPEG_TAR, pack)
    assert info["images"] == 10 and info["headers"] == 1  # one encoder: one shared header
    assert info["bytes"] < (tar_root / data.CIFAR10_JPEG_TAR).stat().st_size / 2
    a, b = data.cifar10(root=tar_root), data.cifar10(root=pack_root)
    for split in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a, split), getattr(b, split)), split
    assert data.CIFAR10_JPEG_PACK in b.source
    raw = bytearray(pack.read_bytes())
    raw[-5] ^= 0xFF  # one flipped byte in the last image's scan
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / data.CIFAR10_JPEG_PACK).write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="truncated or corrupted"):
        data.cifar10(root=broken)


def test_identity_names_the_examples_used(tmp_path):
    tar_root = make_tar(tmp_path / "tar")
    pack_root = tmp_path / "pack"
    pack_root.mkdir()
    jpegs.pack_jpeg(tar_root / data.CIFAR10_JPEG_TAR, pack_root / data.CIFAR10_JPEG_PACK)
    full, packed = data.cifar10(root=tar_root), data.cifar10(root=pack_root)
    assert full.identity == packed.identity  # the same pixels (a lossless repack): the same key
    assert full.identity["origin"].startswith("CIFAR-10 JPEG copy") and full.identity["n_train"] == 6
    assert data.cifar10(root=tar_root, n_train=4).identity != full.identity  # fewer examples
    assert data.cifar10(root=tar_root, n_test=2).identity == full.identity  # test examples: not in the key
    assert data.cifar10(root=tar_root, n_test=2).test_identity != full.test_identity
    other = make_tar(tmp_path / "other", n_train=4)  # other images, the same number used
    assert data.cifar10(root=other, n_train=6).identity["sha256"] != full.identity["sha256"]

