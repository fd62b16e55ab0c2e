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
