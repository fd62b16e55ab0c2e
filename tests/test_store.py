import json

import pytest
import torch

from starconn.store import Store, key


def test_key_ignores_order_and_changes_with_content():
    assert key({"a": 1, "b": 2}) == key({"b": 2, "a": 1})
    assert key({"a": 1}) != key({"a": 2})


def test_roundtrip_and_resume(tmp_path):
    st = Store(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(6.0).reshape(2, 3)}, {"loss": 0.5}

    t1, m1 = st.get_or_compute("minimum", {"seed": 1}, compute)
    t2, m2 = st.get_or_compute("minimum", {"seed": 1}, compute)
    assert len(calls) == 1 and torch.equal(t1["w"], t2["w"]) and m2 == {"loss": 0.5}
    assert not list(tmp_path.rglob("*.tmp"))


def test_corrupt_entry_is_detected_and_recomputed(tmp_path):
    st = Store(tmp_path)
    st.save("minimum", {"seed": 1}, {"w": torch.ones(100)}, {})
    f = next(tmp_path.rglob("*.safetensors"))
    raw = bytearray(f.read_bytes())
    raw[-10] ^= 0xFF
    f.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="corrupt entry"):
        assert st.load("minimum", {"seed": 1}) is None
    t, _ = st.get_or_compute("minimum", {"seed": 1}, lambda: ({"w": torch.zeros(3)}, {}))
    assert torch.equal(t["w"], torch.zeros(3))
    meta = json.loads(next(tmp_path.rglob("*.json")).read_text())
    assert meta["config"] == {"seed": 1}


def _one(tmp_path, suffix):
    return next(p for p in tmp_path.rglob(f"*{suffix}") if not p.name.startswith("."))


@pytest.mark.parametrize("damage", ["truncate-tensors", "truncate-json", "delete-tensors", "garbage-json"])
def test_damaged_entry_is_reported_moved_aside_and_recomputed(tmp_path, damage):
    st = Store(tmp_path)
    st.save("center", {"seed": 2}, {"w": torch.ones(1000)}, {"loss": 1.0})
    t, j = _one(tmp_path, ".safetensors"), _one(tmp_path, ".json")
    if damage == "truncate-tensors":
        t.write_bytes(t.read_bytes()[:-50])
    elif damage == "truncate-json":
        j.write_text(j.read_text()[:30])
    elif damage == "delete-tensors":
        t.unlink()
    else:
        j.write_text("{}")
    with pytest.warns(UserWarning, match=f"corrupt entry {j.stem} in 'center'"):
        assert st.load("center", {"seed": 2}) is None
    assert list(tmp_path.rglob("*.corrupt"))  # kept for inspection, out of the way
    calls = []
    t2, m2 = st.get_or_compute("center", {"seed": 2}, lambda: calls.append(1) or ({"w": torch.zeros(4)}, {"n": 1}))
    assert calls == [1] and m2 == {"n": 1}
    assert torch.equal(st.load("center", {"seed": 2})[0]["w"], torch.zeros(4))


def test_write_killed_between_tensors_and_json_leaves_no_entry(tmp_path):
    """The JSON is renamed into place last: tensors without their JSON are not an entry."""
    st = Store(tmp_path)
    st.save("minimum", {"seed": 3}, {"w": torch.ones(5)}, {})
    _one(tmp_path, ".json").unlink()
    (tmp_path / "minimum" / ".x.safetensors.abc.tmp").write_bytes(b"half a file")  # a killed write's leftover
    assert st.load("minimum", {"seed": 3}) is None
    t, _ = st.get_or_compute("minimum", {"seed": 3}, lambda: ({"w": torch.full((5,), 2.0)}, {}))
    assert torch.equal(st.load("minimum", {"seed": 3})[0]["w"], t["w"])


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    import starconn.store as store

    st = Store(tmp_path)

    def broken(tensors, path):
        open(path, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(store, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        st.save("minimum", {"seed": 4}, {"w": torch.ones(3)}, {})
    left = [p.name for p in (tmp_path / "minimum").iterdir() if not p.name.endswith(".lock")]
    assert left == [] and st.load("minimum", {"seed": 4}) is None


def test_read_only_store_is_readable(tmp_path):
    st = Store(tmp_path)
    st.save("minimum", {"seed": 5}, {"w": torch.ones(3)}, {"a": 1})
    for p in tmp_path.rglob(".*.lock"):
        p.unlink()
    (tmp_path / "minimum").chmod(0o555)
    try:
        t, meta = Store(tmp_path).load("minimum", {"seed": 5})
    finally:
        (tmp_path / "minimum").chmod(0o755)
    assert torch.equal(t["w"], torch.ones(3)) and meta == {"a": 1}
