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


# ---------------------------------------------------------------- checkpoints
def test_checkpoint_roundtrip_location_and_clear(tmp_path):
    from starconn.store import Checkpoint

    st = Store(tmp_path)
    ck = st.checkpoint("center", {"seed": 6}, every_s=0)
    assert isinstance(ck, Checkpoint) and ck.load() is None and ck.elapsed_s == 0
    assert ck.path == tmp_path / "center" / "checkpoints" / f"{key({'seed': 6})}.ckpt.safetensors"
    ck.save({"w": torch.arange(4.0), "g": torch.Generator().manual_seed(1).get_state()}, {"epoch": 2, "h": [0.1]})
    again = st.checkpoint("center", {"seed": 6})
    t, meta = again.load()
    assert torch.equal(t["w"], torch.arange(4.0)) and meta["epoch"] == 2 and meta["h"] == [0.1]
    assert torch.equal(t["g"], torch.Generator().manual_seed(1).get_state())
    assert again.resumed_epoch == 2 and again.elapsed_s == meta["elapsed_s"] >= 0
    # a checkpoint is not an entry of its kind: the final entry is absent, other code counting entries ignores it
    assert st.load("center", {"seed": 6}) is None and not list((tmp_path / "center").glob("*.json"))
    again.clear()
    assert not [p for p in (tmp_path / "center" / "checkpoints").iterdir() if not p.name.endswith(".lock")]
    assert st.checkpoint("center", {"seed": 6}).load() is None
    again.clear()  # clearing an absent checkpoint is fine


def test_checkpoint_interval(monkeypatch, tmp_path):
    st = Store(tmp_path)
    assert st.checkpoint("center", {}).every_s == 30  # the default
    assert not st.checkpoint("center", {}, every_s=3600).due() and st.checkpoint("center", {}, every_s=0).due()
    monkeypatch.setenv("STARCONN_CHECKPOINT_S", "0")
    assert st.checkpoint("center", {}).every_s == 0
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv("STARCONN_CHECKPOINT_S", bad)
        with pytest.raises(ValueError, match=f"STARCONN_CHECKPOINT_S must be a number of seconds >= 0; got '{bad}'"):
            st.checkpoint("center", {})


@pytest.mark.parametrize("damage", ["flip", "truncate-json", "delete-tensors"])
def test_damaged_checkpoint_is_reported_moved_aside_and_ignored(tmp_path, damage):
    st = Store(tmp_path)
    ck = st.checkpoint("minimum", {"seed": 7}, every_s=0)
    ck.save({"w": torch.ones(1000)}, {"epoch": 1})
    j = ck.path.with_suffix(".json")
    if damage == "flip":
        raw = bytearray(ck.path.read_bytes())
        raw[-3] ^= 0x10
        ck.path.write_bytes(bytes(raw))
    elif damage == "truncate-json":
        j.write_text(j.read_text()[:20])
    else:
        ck.path.unlink()
    ck = st.checkpoint("minimum", {"seed": 7}, every_s=0)
    with pytest.warns(UserWarning, match=r"corrupt checkpoint \w+\.ckpt in 'minimum/checkpoints'.*starting from scratch"):
        assert ck.load() is None
    assert ck.resumed_epoch == 0 and list(tmp_path.rglob("*.ckpt.json.corrupt")) and not j.exists()


def test_get_or_compute_with_a_checkpoint_deletes_it_once_the_entry_is_stored(tmp_path):
    st = Store(tmp_path)
    seen = []

    def compute(ck):
        seen.append(ck)
        ck.save({"w": torch.zeros(2)}, {"epoch": 1})  # a mid-run save
        assert ck.path.exists() and st.load("center", {"seed": 8}) is None
        return {"w": torch.ones(2)}, {"done": True}

    _, meta = st.get_or_compute("center", {"seed": 8}, compute, checkpointed=True)
    assert meta == {"done": True} and seen[0].cfg == {"seed": 8} and not seen[0].path.exists()
    assert torch.equal(st.load("center", {"seed": 8})[0]["w"], torch.ones(2))
    st.get_or_compute("center", {"seed": 8}, compute, checkpointed=True)  # stored: not computed again
    assert len(seen) == 1


def test_slow_saves_are_spaced_out(tmp_path, monkeypatch):
    """With every_s > 0, two saves are at least OVERHEAD times the last save's duration apart."""
    from starconn import store

    now = [100.0]
    monkeypatch.setattr(store, "_clock", lambda: now[0])
    ck = Store(tmp_path).checkpoint("center", {"seed": 9}, every_s=1e-6)
    now[0] += 1.0
    assert ck.due()
    real_save = Store._save

    def slow_save(self, *a):
        now[0] += 2.0  # a save that takes 2 s
        real_save(self, *a)
    monkeypatch.setattr(Store, "_save", slow_save)
    ck.save({"w": torch.ones(2)}, {"epoch": 1})
    assert ck.save_s == 2.0 and ck.save_total_s == 2.0 and ck.saves == 1
    now[0] += 39.0
    assert not ck.due()  # 39 s < 20 × 2 s
    now[0] += 1.0
    assert ck.due()
    ck.every_s = 0  # every epoch, whatever it costs
    now[0] -= 39.0
    assert ck.due()


def test_failed_checkpoint_write_is_reported_and_the_run_goes_on(tmp_path, monkeypatch):
    from starconn import store

    ck = Store(tmp_path).checkpoint("center", {"seed": 10}, every_s=0)

    def broken(tensors, path):
        raise OSError("disk full")

    monkeypatch.setattr(store, "save_file", broken)
    with pytest.warns(UserWarning, match="could not write checkpoint .*disk full.*continuing without checkpoints"):
        ck.save({"w": torch.ones(3)}, {"epoch": 1})
    assert ck.saves == 0 and not ck.due() and not ck.path.exists()


# ---------------------------------------------------------------- schema
def test_an_entry_of_an_older_schema_is_not_returned_and_is_reported(tmp_path, monkeypatch):
    import hashlib

    from starconn import store

    def key_v1(cfg):  # keys as schema 1 made them: the configuration alone
        blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    cfg = {"setting": "fnn-mnist", "seed": 0}
    with monkeypatch.context() as m:  # an entry as schema 1 wrote it (no "schema" in its record)
        m.setattr(store, "key", key_v1)
        Store(tmp_path).save("minimum", cfg, {"w": torch.ones(3)}, {"train_acc": 100.0})
    j = next((tmp_path / "minimum").glob("*.json"))
    record = json.loads(j.read_text())
    del record["schema"]
    j.write_text(json.dumps(record))
    with pytest.warns(UserWarning, match=r"1 entries in .*minimum were written under another schema \(1 of schema 1; "
                                         r"this is schema 2\) and are ignored"):
        assert Store(tmp_path).load("minimum", cfg) is None
    t, _ = Store(tmp_path).get_or_compute("minimum", cfg, lambda: ({"w": torch.zeros(3)}, {}))
    assert torch.equal(t["w"], torch.zeros(3))  # computed again, stored beside the old entry
    assert json.loads(next(p for p in (tmp_path / "minimum").glob("*.json") if p != j).read_text())["schema"] == 2
    # an entry of the current schema whose key happens to be asked for under another schema is not found either
    monkeypatch.setattr(store, "SCHEMA", 3)
    assert Store(tmp_path).load("minimum", cfg) is None
