"""Reliability (issue 7): interrupted runs resume, training failures are flagged, CPU runs are
deterministic, data files are checked, concurrent runs share a store, parameters are checked
before any work. Store corruption: ``test_store.py``; training flags: ``test_train.py``.

The interrupted-run tests run a tiny Part III pipeline (``practical.star``: 5 FNN minima trained
one at a time, their center, the paths) in child processes on synthetic MNIST-shaped data, kill
them with SIGKILL at a chosen point, and rerun them. The children checkpoint after every epoch
(``STARCONN_CHECKPOINT_S=0``), so a killed training or center search resumes from its last epoch.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import starconn
from starconn import cli, config, data, practical, results
from starconn.data import DataError, Dataset
from starconn.engine import TrainingDiverged
from starconn.params import ParamError
from starconn.store import Store

# ---------------------------------------------------------------- a tiny Part III run
OVERRIDES = dict(setting="fnn-mnist", width=0.02, n_train=200, n_test=100, epochs=3, batch_size=50, ensemble=1,
                 n_minima=5, center_epochs=3, n_points=3, seed=0)


def tiny_cfg(out=None, **kw):
    cfg = starconn.CHAPTERS["star-barriers"].resolve("smoke", **{**OVERRIDES, **kw})
    cfg["out"] = str(out) if out else None
    return cfg


def tiny_data(seed: int = 0) -> Dataset:
    """MNIST-shaped synthetic data: 200 training and 100 test images, 10 classes."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(300, 1, 28, 28, generator=g)
    y = torch.randint(10, (300,), generator=g)
    return Dataset("synthetic", x[:200], y[:200], x[200:], y[200:], source="synthetic MNIST-shaped noise")


def tiny_setup(store: Path, **kw) -> practical.Setup:
    return practical.Setup(tiny_cfg(**kw), tiny_data(), "fnn", torch.device("cpu"), Store(store))


# The child: a forked process (it inherits the imported, warmed-up torch: no import cost) that runs
# practical.star on the tiny setup, logging every training and center search; mode "kill-minimum"
# stalls in the 5th step of the 3rd minimum's training, "kill-center" in the 5th step of the center
# search, and says so in its log; the parent then sends SIGKILL.
FORK = multiprocessing.get_context("fork") if hasattr(os, "fork") else None


def _child(store: str, out: str, mode: str, log: str, err: str) -> None:
    fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = open(fd, "w", buffering=1)  # noqa: SIM115 - pytest's capture objects bypass fds 1, 2
    torch.set_num_threads(1)
    os.environ.update(STARCONN_CACHE=store, STARCONN_DEVICE="cpu", STARCONN_CHECKPOINT_S="0")

    def note(**kw):
        with open(log, "a") as f:
            f.write(json.dumps(kw) + "\n")

    def stall_after(n):
        calls = [0]

        def loss(o, y):
            calls[0] += 1
            if calls[0] > n:
                note(event="stalled")
                time.sleep(600)
            return F.cross_entropy(o, y)
        return loss

    train, center, n_train = practical.train_minima, practical.find_center, [0]

    def logged_train(make_model, seeds, data, tc, **kw):
        n_train[0] += 1
        note(event="train", seeds=list(seeds))
        if mode == "kill-minimum" and n_train[0] == 3:
            kw["loss_fn"] = stall_after(5)
        return train(make_model, seeds, data, tc, **kw)

    def logged_center(*a, **kw):
        note(event="center")
        if mode == "kill-center":
            kw["loss_fn"] = stall_after(5)
        return center(*a, **kw)

    practical.train_minima, practical.find_center = logged_train, logged_center
    s = tiny_setup(Path(store), out=out)
    st = practical.star(s, s.cfg.n_minima, s.cfg.lam)
    final = {f"min{i}.{k}": v for i, (p, _) in enumerate(st.minima) for k, v in p.items()}
    final.update({f"center.{k}": v for k, v in st.center.items()})
    save_file({k: v.contiguous() for k, v in final.items()}, out + "/final.safetensors")
    results.record(s.cfg, st.metrics(), {}, data_source=s.data.source)
    note(event="done")


class Child:
    def __init__(self, tmp: Path, store: Path, name: str, mode: str):
        self.out, self.log, self.err = tmp / name, tmp / f"{name}.log", tmp / f"{name}.err"
        self.out.mkdir()
        self.proc = FORK.Process(target=_child, args=(str(store), str(self.out), mode, str(self.log), str(self.err)))
        self.proc.start()

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def wait_for(self, event: str, timeout: float = 120) -> None:
        t0 = time.time()
        while not any(e["event"] == event for e in self.events()):
            if self.proc.exitcode is not None:
                raise AssertionError(f"child exited ({self.proc.exitcode}) before {event!r}: "
                                     + self.err.read_text()[-3000:])
            if time.time() - t0 > timeout:
                self.proc.kill()
                raise AssertionError(f"no {event!r} within {timeout} s")
            time.sleep(0.02)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.join(30)
        assert self.proc.exitcode == -signal.SIGKILL

    def finish(self) -> None:
        self.proc.join(180)
        assert self.proc.exitcode == 0, self.err.read_text()[-3000:]
        self.wait_for("done", 1)

    def trained(self) -> list[list[int]]:
        return [e["seeds"] for e in self.events() if e["event"] == "train"]

    def centers(self) -> int:
        return sum(e["event"] == "center" for e in self.events())

    def resumed(self) -> list[str]:
        """The child's 'resuming ...' lines (stderr)."""
        return [line[line.index("resuming"):] for line in self.err.read_text().splitlines() if "resuming " in line]


def checkpoints(store: Path) -> dict[str, int]:
    """``{kind/file stem: epoch}`` of the checkpoints in the store (damaged ones, *.corrupt, excluded)."""
    return {f"{j.parent.parent.name}/{j.stem}": json.loads(j.read_text())["meta"]["epoch"]
            for j in sorted(store.glob("*/checkpoints/*.ckpt.json"))}


def entries(store: Path, kind: str) -> dict[str, tuple[int, str]]:
    """``{key: (mtime_ns of the tensors file, recorded SHA-256)}`` of the whole entries of a kind."""
    out = {}
    for j in sorted((store / kind).glob("*.json")) if (store / kind).is_dir() else []:
        t = j.with_suffix(".safetensors")
        out[j.stem] = (t.stat().st_mtime_ns, json.loads(j.read_text())["sha256"])
    return out


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Reference run U (uninterrupted, own store) next to the interrupted chain on store R:
    A killed while training minimum 3, B resumed and killed in the center search, C resumed to the end."""
    if FORK is None:
        pytest.skip("needs os.fork")
    tmp = tmp_path_factory.mktemp("interrupted")
    practical.star(tiny_setup(tmp / "warm-up", n_minima=2), 2)  # warm torch.func up once, before forking
    ref_store, store = tmp / "store-ref", tmp / "store"
    children = []
    try:
        u = Child(tmp, ref_store, "U", "none")
        a = Child(tmp, store, "A", "kill-minimum")
        children += [u, a]
        a.wait_for("stalled")
        after_a = entries(store, "minimum")
        a.kill()
        leftover_a = sorted(p.name for p in (store / "minimum").iterdir() if not p.name.startswith("."))
        ckpt_a = checkpoints(store)
        b = Child(tmp, store, "B", "kill-center")
        children.append(b)
        b.wait_for("stalled")
        after_b = {"minimum": entries(store, "minimum"), "center": entries(store, "center")}
        b.kill()
        ckpt_b = checkpoints(store)
        c = Child(tmp, store, "C", "none")
        children.append(c)
        u.finish()
        c.finish()
    finally:
        for ch in children:  # a failed check must not leave a stalled child behind
            if ch.proc.is_alive():
                ch.proc.kill()
                ch.proc.join(10)
    return dict(tmp=tmp, store=store, ref_store=ref_store, u=u, a=a, b=b, c=c, after_a=after_a,
                leftover_a=leftover_a, after_b=after_b, ckpt_a=ckpt_a, ckpt_b=ckpt_b)


def test_kill_while_training_the_3rd_minimum_keeps_the_first_two(interrupted):
    r = interrupted
    assert r["a"].trained() == [[0], [1], [2]]  # killed in the 3rd training
    assert len(r["after_a"]) == 2  # minima 1-2 were in the store when it was killed
    assert len(r["leftover_a"]) == 5 and all(n.endswith((".json", ".safetensors")) for n in r["leftover_a"][:4])
    assert r["leftover_a"][4] == "checkpoints"
    # the rerun B loaded minima 1-2 (not retrained, files untouched) and trained only 3-5
    assert r["b"].trained() == [[2], [3], [4]]
    assert len(r["after_b"]["minimum"]) == 5
    for k, v in r["after_a"].items():
        assert r["after_b"]["minimum"][k] == v


def test_kill_in_the_center_search_keeps_every_minimum(interrupted):
    r = interrupted
    assert r["b"].centers() == 1 and r["after_b"]["center"] == {}  # killed mid-search: no center stored
    assert r["c"].trained() == [] and r["c"].centers() == 1  # C trained nothing, searched the center
    assert entries(r["store"], "minimum") == r["after_b"]["minimum"]  # minima files untouched by C
    assert len(entries(r["store"], "center")) == 1


def test_resumed_result_equals_the_uninterrupted_run_bit_for_bit(interrupted):
    r = interrupted
    # same store keys and same tensor bytes (SHA-256) for all five minima and the center
    for kind in ("minimum", "center"):
        got = {k: sha for k, (_, sha) in entries(r["store"], kind).items()}
        ref = {k: sha for k, (_, sha) in entries(r["ref_store"], kind).items()}
        assert got == ref, kind
    final, ref = load_file(str(r["c"].out / "final.safetensors")), load_file(str(r["u"].out / "final.safetensors"))
    assert final.keys() == ref.keys() and len(final) == 6 * 5 + 6
    for k in ref:
        assert torch.equal(final[k], ref[k]), k
    got = json.loads((r["c"].out / "star-barriers.json").read_text())
    want = json.loads((r["u"].out / "star-barriers.json").read_text())
    assert got["metrics"] == want["metrics"] and got["params"] == want["params"]
    assert strip_times(got) == strip_times(want)


def strip_times(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k != "wall_s"}
    out["env"] = {k: v for k, v in result["env"].items() if k != "date"}
    return out


# ---------------------------------------------------------------- determinism
def test_same_seed_and_config_give_identical_minima_and_results(tmp_path):
    runs = []
    for i in range(2):
        s = tiny_setup(tmp_path / f"store{i}", out=tmp_path / f"out{i}", n_minima=3)
        st = practical.star(s, 3, s.cfg.lam)
        runs.append((st, results.record(s.cfg, st.metrics(), {}, data_source=s.data.source)))
    (a, ra), (b, rb) = runs
    for (p, _), (q, _) in zip(a.minima, b.minima):
        assert all(torch.equal(p[k], q[k]) for k in p)
    assert all(torch.equal(a.center[k], b.center[k]) for k in a.center)
    assert strip_times(ra) == strip_times(rb)
    files = [json.loads((tmp_path / f"out{i}" / "star-barriers.json").read_text()) for i in range(2)]
    assert strip_times(files[0]) == strip_times(files[1])


# ---------------------------------------------------------------- failed training
def test_diverged_minimum_is_never_stored(tmp_path):
    s = tiny_setup(tmp_path / "store")
    s.data.train_x[7] = math.inf  # one bad example: the first minibatch holding it gives a NaN loss
    with pytest.raises(TrainingDiverged, match=r"seed 0 diverged: training loss (nan|inf) at step \d+ .*lr=") as err:
        practical.get_minima(s, [0])
    assert 1 <= err.value.step <= 4 and err.value.epoch == 1  # 4 steps per epoch: found in epoch 1
    assert entries(tmp_path / "store", "minimum") == {}


def test_diverged_center_search_is_never_stored(tmp_path):
    s = tiny_setup(tmp_path / "store", n_minima=2)
    minima = practical.get_minima(s, [0, 1])
    s.data.train_x[3] = math.nan
    with pytest.raises(TrainingDiverged, match=r"center search: seed 0 diverged: training loss nan at step \d+ "):
        practical.get_center(s, [p for p, _ in minima], [practical.minimum_key(s, sd) for sd in (0, 1)], 0.0)
    assert entries(tmp_path / "store", "center") == {} and len(entries(tmp_path / "store", "minimum")) == 2


def test_minimum_that_misses_its_target_is_flagged_in_the_store(tmp_path):
    s = tiny_setup(tmp_path / "store", target_loss=1e-3)  # random labels: 3 epochs cannot reach it
    with pytest.warns(UserWarning, match="flagged reached_target=False"):
        (p, info), = practical.get_minima(s, [0])
    assert info["reached_target"] is False and info["epochs"] == 3
    _, meta = Store(tmp_path / "store").load("minimum", practical.minimum_key(s, 0))
    assert meta["reached_target"] is False and meta["target_loss"] == 1e-3
    s2 = tiny_setup(tmp_path / "store2", target_loss=10.0)  # reached in the first epoch
    (_, info2), = practical.get_minima(s2, [0])
    assert info2["reached_target"] is True and info2["epochs"] == 1


# ---------------------------------------------------------------- store keys name the data
def with_data(s: practical.Setup, **change) -> practical.Setup:
    """``s`` with its dataset changed (``Dataset`` fields; ``n_train`` keeps the first examples)."""
    d = s.data
    n = change.pop("n_train", d.n_train)
    fields = dict(name=d.name, train_x=d.train_x[:n], train_y=d.train_y[:n], test_x=d.test_x, test_y=d.test_y,
                  source=d.source, origin=d.origin, digests=d.digests)
    cfg = starconn.CHAPTERS["star-barriers"].resolve("smoke", **{**OVERRIDES, "n_train": n})
    return practical.Setup(cfg, Dataset(**{**fields, **change}), s.model_name, s.device, s.store)


@pytest.mark.parametrize("change", ["source", "examples", "n_train"])
def test_a_stored_minimum_or_center_is_never_returned_for_other_data(tmp_path, change):
    s = tiny_setup(tmp_path / "store", n_minima=2)
    minima = practical.get_minima(s, [0, 1])
    practical.get_center(s, [p for p, _ in minima], [practical.minimum_key(s, sd) for sd in (0, 1)], 0.0)
    other = tiny_data(seed=1)
    t = {"source": dict(origin="the same examples from another copy"),  # e.g. CIFAR-10 batches vs the JPEG copy
         "examples": dict(train_x=other.train_x, train_y=other.train_y),  # same count, other examples
         "n_train": dict(n_train=100)}[change]
    s2 = with_data(s, **t)
    assert s2.data.identity != s.data.identity
    for sd in (0, 1):
        assert s.store.load("minimum", practical.minimum_key(s2, sd)) is None
    minima2 = practical.get_minima(s2, [0, 1])  # trained anew, on the other data
    assert len(entries(tmp_path / "store", "minimum")) == 4
    if change != "source":  # the same examples give the same minimum, but it was trained again
        assert not torch.equal(minima2[0][0]["net.1.weight"], minima[0][0]["net.1.weight"])
    practical.get_center(s2, [p for p, _ in minima2], [practical.minimum_key(s2, sd) for sd in (0, 1)], 0.0)
    assert len(entries(tmp_path / "store", "center")) == 2
    # and the original data still finds its own entries
    assert s.store.load("minimum", practical.minimum_key(s, 0)) is not None


def test_stored_test_metrics_are_measured_again_on_other_test_examples(tmp_path):
    s = tiny_setup(tmp_path / "store", n_minima=2)
    minima = practical.get_minima(s, [0, 1])
    center, cinfo = practical.get_center(s, [p for p, _ in minima], [practical.minimum_key(s, sd) for sd in (0, 1)], 0.0)
    assert minima[0][1]["test_data"]["n_test"] == cinfo["test_data"]["n_test"] == 100
    fewer = with_data(s, test_x=s.data.test_x[:40], test_y=s.data.test_y[:40])  # the key does not change
    assert practical.minimum_key(fewer, 0) == practical.minimum_key(s, 0)
    (p, info), _ = practical.get_minima(fewer, [0, 1])
    assert torch.equal(p["net.1.weight"], minima[0][0]["net.1.weight"])  # loaded, not trained again
    assert info["test_data"]["n_test"] == 40 and info["test_acc"] == fewer.evaluator("test").single(p)[1]
    _, cinfo2 = practical.get_center(fewer, [p for p, _ in minima], [practical.minimum_key(s, sd) for sd in (0, 1)], 0.0)
    assert cinfo2["test_acc"] == fewer.evaluator("test").single(center)[1] and cinfo2["test_data"]["n_test"] == 40
    assert len(entries(tmp_path / "store", "center")) == 1  # the same center
    # back on the full test set: the stored metrics again
    (_, again), _ = practical.get_minima(s, [0, 1])
    assert again["test_acc"] == minima[0][1]["test_acc"]


# ---------------------------------------------------------------- concurrent runs on one store
def _writer(root: str, tag: float, ready, go, err: str) -> None:
    fd = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    warnings.simplefilter("error")  # a 'corrupt entry' warning fails the writer
    st = Store(root)
    ready.set()
    go.wait(60)
    for i in range(ROUNDS):
        t, meta = st.get_or_compute("minimum", {"fresh": i}, lambda: ({"w": torch.full((20000,), tag)}, {"tag": tag}))
        assert bool((t["w"] == meta["tag"]).all()), (i, meta)  # tensors and metadata of one writer
        st.save("minimum", {"shared": i % 3}, {"w": torch.full((20000,), tag)}, {"tag": tag})
        t, meta = st.load("minimum", {"shared": i % 3})
        assert bool((t["w"] == meta["tag"]).all()), (i, meta)


ROUNDS = 60


def run_concurrent(tmp_path: Path) -> list[tuple[int, str]]:
    root = tmp_path / "store"
    go = FORK.Event()
    procs = []
    for tag in (1.0, 2.0):
        ready = FORK.Event()
        p = FORK.Process(target=_writer, args=(str(root), tag, ready, go, str(tmp_path / f"w{tag}.err")))
        p.start()
        ready.wait(60)
        procs.append(p)
    go.set()
    for p in procs:
        p.join(120)
    return [(p.exitcode, (tmp_path / f"w{t}.err").read_text()) for p, t in zip(procs, (1.0, 2.0))]


@pytest.mark.skipif(FORK is None, reason="needs os.fork")
def test_two_processes_writing_the_same_entries_do_not_corrupt_the_store(tmp_path):
    outs = run_concurrent(tmp_path)
    for code, text in outs:
        assert code == 0, text[-2000:]
    st, root = Store(tmp_path / "store"), tmp_path / "store"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for cfg in [{"fresh": i} for i in range(ROUNDS)] + [{"shared": i} for i in range(3)]:
            t, meta = st.load("minimum", cfg)
            assert meta["tag"] in (1.0, 2.0) and bool((t["w"] == meta["tag"]).all())
    assert not list(root.rglob("*.corrupt")) and not list(root.rglob("*.tmp"))


# ---------------------------------------------------------------- data files
def real_mnist_raw() -> Path:
    for root in (os.environ.get("STARCONN_DATA"), config.REPO_ROOT.parent / "shared" / "data"):
        if root and all((Path(root) / "MNIST" / "raw" / f).is_file() for f in data.MNIST_FILES):
            return Path(root) / "MNIST" / "raw"
    pytest.skip("real MNIST not available (set STARCONN_DATA)")


def mnist_copy(tmp_path: Path, change: str | None = None, how=None) -> Path:
    """A data root whose MNIST/raw links to the real files, with file ``change`` replaced by ``how(bytes)``."""
    src = real_mnist_raw()
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        if name == change:
            if how is not None:
                (raw / name).write_bytes(how((src / name).read_bytes()))
        else:
            (raw / name).symlink_to(src / name)
    return tmp_path / "data"


def flip(offset):
    def f(b: bytes) -> bytes:
        b = bytearray(b)
        b[offset] ^= 0x01
        return bytes(b)
    return f


@pytest.mark.parametrize("how, words", [
    (lambda b: b[:-100], ["59908 bytes", "expected 60008"]),                       # truncated
    (flip(3), ["IDX header magic 0x0800", "expected magic 0x0801, shape (60000,)"]),  # wrong header
    (lambda b: b[:4] + (59999).to_bytes(4, "big") + b[8:], ["shape (59999,)", "shape (60000,)"]),  # wrong shape
    (flip(100), ["SHA-256", data.MNIST_SHA256["train-labels-idx1-ubyte"]]),          # one label changed
    (None, ["MNIST file missing"]),                                                 # missing
])
def test_bad_mnist_file_names_the_file_and_what_was_expected(tmp_path, how, words):
    root = mnist_copy(tmp_path, "train-labels-idx1-ubyte", how)
    with pytest.raises(DataError) as err:
        data._check_mnist(root / "MNIST" / "raw")
    msg = str(err.value)
    assert str(root / "MNIST" / "raw" / "train-labels-idx1-ubyte") in msg
    for w in words:
        assert w in msg, msg


def test_printed_paths_name_no_directory_of_the_building_machine(tmp_path, monkeypatch):
    root = mnist_copy(tmp_path)
    monkeypatch.setenv("STARCONN_DATA", str(root))
    ds = data.mnist(n_train=100, n_test=100)
    assert ds.source == "MNIST raw IDX files via torchvision.datasets.MNIST ($STARCONN_DATA/MNIST/raw)"
    assert config.shown(config.cache_dir() / "center" / "k.json") == "$STARCONN_CACHE/center/k.json"
    assert config.shown(config.REPO_ROOT / "book" / "intro.md") == "book/intro.md"
    assert config.shown("/elsewhere/f") == "/elsewhere/f"  # outside every known directory: as it is
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"MNIST file missing: \$STARCONN_DATA/MNIST/raw/t10k-labels-idx1-ubyte\."):
        data._check_mnist(root / "MNIST" / "raw")  # (the loader would try a download first)


def test_mnist_loader_checks_and_only_reads_the_data_directory(tmp_path):
    bad = mnist_copy(tmp_path / "bad", "t10k-labels-idx1-ubyte", flip(50))
    good = mnist_copy(tmp_path / "good")
    dirs = [d for root in (bad, good) for d in (root, root / "MNIST", root / "MNIST" / "raw")]
    snapshot = lambda: sorted((str(p), p.lstat().st_mtime_ns) for root in (bad, good) for p in root.rglob("*"))
    before = snapshot()
    for d in dirs:
        d.chmod(0o555)
    try:
        with pytest.raises(DataError, match="t10k-labels-idx1-ubyte has SHA-256"):
            data.mnist(root=bad, n_train=100, n_test=100)
        ds = data.mnist(root=good, n_train=100, n_test=100)
    finally:
        for d in dirs:
            d.chmod(0o755)
    assert ds.train_x.shape == (100, 1, 28, 28) and ds.train_y[:4].tolist() == [5, 0, 4, 1]
    assert snapshot() == before  # nothing written to either data directory


def test_truncated_cifar_tar_and_checksum_list(tmp_path):
    from test_cifar import make_tar

    root = make_tar(tmp_path / "data")
    tar = root / data.CIFAR10_JPEG_TAR
    good = tar.read_bytes()
    tar.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=f"{tar} is truncated or not a tar file"):
        data.cifar10(root=root)
    tar.write_bytes(good)
    (root / "SHA256SUMS").write_text(f"{'0' * 64}  {data.CIFAR10_JPEG_TAR}\n")
    with pytest.raises(DataError) as err:
        data.cifar10(root=root)
    assert f"data file {tar} has SHA-256" in str(err.value) and "0" * 64 in str(err.value)
    import hashlib
    (root / "SHA256SUMS").write_text(f"{hashlib.sha256(good).hexdigest()}  {data.CIFAR10_JPEG_TAR}\n")
    assert data.cifar10(root=root).train_x.shape == (6, 3, 32, 32)


def test_corrupt_jpeg_and_decoded_cache(tmp_path):
    from test_cifar import COLORS, jpeg

    root = tmp_path / "data"
    for split in ("train", "test"):
        for cls, color in COLORS.items():
            (root / "cifar10" / split / cls).mkdir(parents=True)
            (root / "cifar10" / split / cls / "0000.jpg").write_bytes(jpeg(color, 0))
    bad = root / "cifar10" / "test" / "cat" / "0000.jpg"
    good = bad.read_bytes()
    bad.write_bytes(good[:40])
    with pytest.raises(DataError, match="test/cat/0000.jpg is not a readable JPEG"):
        data.cifar10(root=root)
    bad.write_bytes(good)
    ref = data.cifar10(root=root)
    cache = next((tmp_path / "store" / "datasets").glob("cifar10-jpeg-*.pt"))
    cache.write_bytes(cache.read_bytes()[:100])  # truncated cache: decoded again, with a warning
    with pytest.warns(UserWarning, match="unreadable"):
        again = data.cifar10(root=root)
    assert torch.equal(again.train_x, ref.train_x)


def test_corrupt_cifar_batches_name_the_file(tmp_path):
    d = tmp_path / "data" / data.CIFAR10_BATCHES
    d.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (d / name).write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=f"{d / 'data_batch_1'} is missing or corrupted: expected MD5"):
        data.cifar10(root=tmp_path / "data")


# ---------------------------------------------------------------- parameters before any work
@pytest.mark.parametrize("argv, words", [
    (["-p", "amp", "maybe"], ["'amp'", "true or false"]),
    (["-p", "lams", "[1e-3,"], ["'lams'", "a list of numbers"]),
    (["-p", "lr", "2"], ["'lr'", "[1e-06, 1.0]"]),
    (["-p", "epochs", "1.5"], ["'epochs'", "integer"]),
    (["-p", "center_init", "zero"], ["'center_init'", "mean, foot, fresh"]),
    (["-p", "lams", "[-1e-3]"], ["'lams'", ">= 0.0"]),
])
def test_more_bad_cli_values_exit_2_without_outputs(argv, words, capsys, tmp_path):
    out = tmp_path / "out"
    code = cli.main(["run", "ngd-practical", "--profile", "smoke", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    for w in words:
        assert w in err, err
    assert not out.exists() and not (tmp_path / "store").exists()


def test_values_that_do_not_fit_together_exit_2_before_any_work(capsys, tmp_path):
    """A joint constraint (starconn.constraints: a student narrower than the teacher) is checked when the
    configuration is resolved: one line naming the parameter and the rule, exit code 2, nothing written."""
    out = tmp_path / "out"
    code = cli.main(["run", "relu-manifold", "--profile", "smoke", "-p", "M", "4", "-p", "m", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "'m'" in err and "M = 4" in err, err
    assert not out.exists()


def test_papermill_parameters_are_checked_before_any_work(tmp_path):
    """A notebook's first call, configure(), rejects a bad injected parameter before anything is written."""
    out = tmp_path / "out"
    for ns, name in (({"epochs": 0}, "'epochs'"), ({"setting": "vgg99"}, "'setting'"), ({"profile": "huge"}, "'profile'"),
                     ({"lam": "small"}, "'lam'")):
        with pytest.raises(ParamError, match=name):
            starconn.configure("star-barriers", {"profile": "smoke", "out": str(out), **ns})
    assert not out.exists() and not (tmp_path / "store").exists()


def test_missed_target_is_surfaced_in_the_chapter_metrics(tmp_path):
    s = tiny_setup(tmp_path / "store", n_minima=2, target_loss=1e-3)
    with pytest.warns(UserWarning, match="reached_target=False"):
        m = practical.star(s, 2, s.cfg.lam).metrics()
    if "reached_target" not in m:
        pytest.skip("practical.Star.metrics does not list reached_target yet (diff sent to the lead)")
    assert m["reached_target"] == [False, False]


def test_killed_training_and_center_search_resume_from_their_last_epoch(interrupted):
    """A was killed in epoch 2 of the 3rd minimum's training, B in epoch 2 of the center search: each
    left a checkpoint after epoch 1, and the next run resumed from it (and said so)."""
    r = interrupted
    (ka, epoch_a), = r["ckpt_a"].items()  # the training of minimum 3 (seed 2), after its 1st epoch
    assert ka.startswith("minimum/") and epoch_a == 1
    assert r["b"].resumed(), r["b"].err.read_text()[-3000:]
    assert r["b"].resumed()[0].startswith("resuming training fnn-mnist minima [2] from epoch 1/3 (checkpoint ")
    (kb, epoch_b), = r["ckpt_b"].items()  # the minima's checkpoints were deleted once they were stored
    assert kb.startswith("center/") and epoch_b == 1
    assert r["c"].resumed() == [l for l in r["c"].resumed() if l.startswith("resuming center search from epoch 1/3 ")]
    assert len(r["c"].resumed()) == 1 and r["u"].resumed() == [] and len(r["b"].resumed()) == 1
    # every checkpoint is gone once its entry is stored; nothing was damaged
    assert checkpoints(r["store"]) == {} and checkpoints(r["ref_store"]) == {}
    assert not list(r["store"].rglob("*.corrupt")) and not list(r["store"].rglob("*.tmp"))
    # the stored wall time of the resumed center includes the killed run's epoch
    meta = json.loads(next((r["store"] / "center").glob("*.json")).read_text())["meta"]
    assert meta["resumed_after_epoch"] == 1 and meta["wall_s"] > 0
