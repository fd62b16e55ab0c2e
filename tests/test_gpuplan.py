"""The GPU plan (starconn.gpuplan): its output for the current profiles (a golden file: regenerate with
``STARCONN_UPDATE_GOLDEN=1 pytest tests/test_gpuplan.py`` when a profile or a measurement changes on
purpose), that the work follows the resolved configuration, that no command is handed out that does
not fit, that GPU benchmark rows replace the recorded figures, and the packing of what a command
brings back."""
import importlib.util
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from starconn import config, gpuplan, levers
from starconn.errors import ParamError

GOLDEN = Path(__file__).parent / "golden" / "gpu-plan.txt"
SMALL = {"n_train": 200, "n_test": 200, "epochs": 1, "center_epochs": 1, "n_points": 3}


@pytest.fixture(autouse=True)
def _no_levers(monkeypatch):
    for var in (*levers.CHOICES, *levers.INTEGERS):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def current():
    return gpuplan.plan()


def job_cost(p: gpuplan.Plan, job_id: str) -> gpuplan.Cost:
    return next(cost for c in p.commands for j, cost in zip(c.jobs, c.costs) if j.id == job_id)


def test_the_plan_of_the_current_profiles(current):
    text = gpuplan.report(current)
    if os.environ.get("STARCONN_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_every_command_handed_out_fits_and_every_refused_one_does_not(current):
    assert current.fitting and any(c.refused for c in current.commands)
    for c in current.commands:
        assert (c.s > gpuplan.FIT_S) == c.refused
    first = current.commands[0]
    assert [j.id for j in first.jobs] == ["star-vgg16-cifar10@vgg16-cifar10"] and not first.refused
    assert first.bench_s >= gpuplan.BENCH_S[0]  # the benchmarks go with the first command that has room
    assert "BENCH=1" in first.line({}) and "timeout_s=600" in first.call({})


def test_a_command_that_does_not_fit_is_refused(current, monkeypatch, capsys):
    n = next(i for i, c in enumerate(current.commands, 1) if c.refused)
    monkeypatch.setattr(gpuplan, "plan", lambda overrides=None: current)
    with pytest.raises(ParamError, match=f"--command {n}: .* more than the 540 s a command may: not handed out"):
        gpuplan.main(gpuplan_args(["--command", str(n)]))
    assert gpuplan.main(gpuplan_args(["--next"])) == 0
    assert capsys.readouterr().out.startswith('run(command="BENCH=1')


def gpuplan_args(argv):
    import argparse

    ap = argparse.ArgumentParser()
    gpuplan.add_arguments(ap)
    return ap.parse_args(argv)


def test_the_work_follows_the_resolved_configuration(current):
    """More epochs for the minima: Fig 5's minima cost grows in proportion, and the plan changes."""
    more = gpuplan.plan({"epochs": 50})
    train = lambda p: next(s for label, s in job_cost(p, "star-vgg16-cifar10@vgg16-cifar10").items if "minima" in label)
    assert train(more) == pytest.approx(2 * train(current))
    assert gpuplan.report(more) != gpuplan.report(current)
    # the FNN's runs were recorded with 40 epochs: with 50 they must run again
    assert not any(j.setting == "fnn-mnist" for j, _ in more.skipped)
    assert any(j.setting == "fnn-mnist" for c in more.commands for j in c.jobs)


def test_small_runs_fit_and_share_commands():
    """At reduced data every job fits; jobs share commands, and a later job reuses the minima of an
    earlier one in its command (Table 1 after Fig 5 trains 2 more minima, not 5)."""
    p = gpuplan.plan(SMALL)
    assert not any(c.refused for c in p.commands) and len(p.commands) < len(gpuplan.part_iii())
    t1 = job_cost(p, "star-barriers@vgg16-cifar10")
    assert any(label.startswith("2 minima") for label, _ in t1.items)
    assert "OVERRIDES='-p n_train 200" in p.commands[0].line(p.overrides)


def test_the_sweep_is_split_when_it_does_not_fit_whole(current):
    parts = [j for c in current.commands for j in c.jobs
             if j.setting == "vgg16-cifar10" and j.chapter == "ngd-practical"]
    assert [j.id for j in parts][0] == "ngd-practical-lam1e-05@vgg16-cifar10"
    assert parts[0].stem == "ngd-practical"  # the reported λ: what the chapter shows
    assert {j.stem for j in parts[1:]} == {f"ngd-practical-lam{x}" for x in ("1e-07", "1e-06", "0.0001")}
    assert dict(parts[1].given)["lams"] == [dict(parts[1].given)["lam"]]


@pytest.mark.parametrize("bad", ["star-barriers", "star-barriers@mnist", "bezier@fnn-mnist",
                                 "ngd-practical-lamx@fnn-mnist"])
def test_a_bad_job_is_a_clear_error(bad):
    with pytest.raises(ParamError, match="job"):
        gpuplan.job(bad)


def test_recorded_runs_are_skipped_only_with_the_same_parameters(tmp_path):
    j = gpuplan.job("star-barriers@fnn-mnist")
    params = {k: v for k, v in gpuplan.resolve(j).items() if k not in ("chapter", "profile", "out")}
    (tmp_path / "fnn-mnist").mkdir()
    rec = {"profile": "paper", "params": params, "env": {"card": "X", "date": "D"}}
    (tmp_path / "fnn-mnist" / "star-barriers.json").write_text(json.dumps(rec))
    assert gpuplan.recorded(j, root=tmp_path) == rec
    rec["params"] = {**params, "center_epochs": 8}
    (tmp_path / "fnn-mnist" / "star-barriers.json").write_text(json.dumps(rec))
    assert gpuplan.recorded(j, root=tmp_path) is None


def bench_json(root: Path, rows: list[dict]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "benchmarks-NVIDIA-H200.json").write_text(json.dumps({"device": "cuda", "rows": rows}))


def vgg_row(t: float, lever: dict, speedup: float = 1.0) -> dict:
    meta = {"network": "vgg16", "dataset": "cifar10", "width": 1.0, "step": "train", "examples": 600,
            "lever": lever, "base": {}, "first_call_s": 40.0, "base_first_call_s": 5.0}
    return {"t_straight": t, "speedup": speedup, "meta": meta}


def test_gpu_benchmark_rows_replace_the_recorded_figures_and_count_levers_where_measured(tmp_path, monkeypatch):
    for f in config.PAPER_RESULTS.glob("*"):  # the recorded runs, without any benchmark JSON
        if f.is_dir():
            shutil.copytree(f, tmp_path / f.name)
    bench_json(tmp_path, [vgg_row(0.0442, {"STARCONN_COMPILE": "graphs"}, speedup=2.0)])
    tp = gpuplan.Throughput(root=tmp_path)
    assert tp.rate("vgg16", "cifar10", "train").s == pytest.approx(0.0442 / 600)  # twice the recorded 22.1 ms
    jobs = [gpuplan.job("star-vgg16-cifar10@vgg16-cifar10")]
    train = lambda p: next(s for label, s in p.commands[0].costs[0].items if "minima" in label)
    base = train(gpuplan.plan(jobs=jobs, root=tmp_path, tp=tp))
    assert base == pytest.approx(25 * 250 * 0.0442)
    monkeypatch.setenv("STARCONN_COMPILE", "graphs")  # measured for training: counted, with its compilation
    p = gpuplan.plan(jobs=jobs, root=tmp_path, tp=tp)
    assert train(p) == pytest.approx(base / 2)
    assert ("compilation (train)", 35.0) in p.commands[0].costs[0].items
    assert "STARCONN_COMPILE=graphs bash scripts/device-run.sh" in p.commands[0].line({})
    assert "STARCONN_COMPILE=graphs on vgg16 center" in gpuplan.report(p)  # not measured for the center: no gain


def test_unmeasured_networks_are_costed_by_model_flops():
    tp = gpuplan.Throughput()
    vgg, resnet = tp.rate("vgg16", "cifar10", "center"), tp.rate("resnet34", "cifar10", "center")
    assert resnet.estimate and not vgg.estimate and 3 < resnet.s / vgg.s < 4.5  # 6.95 / 1.88 GFLOP per example


def test_run_jobs_names_the_results_by_the_job(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, stdout, stderr):
        calls.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        (out / f"{cmd[4]}.json").write_text("{}")
        (out / f"{cmd[4]}.ipynb").write_text("{}")
        return 0

    monkeypatch.setattr(gpuplan.subprocess, "call", fake_run)
    assert gpuplan.run_jobs(["star-barriers-lam0@fnn-mnist", "ngd-practical-lam1e-05@vgg16-cifar10"], {}, tmp_path) == 0
    assert sorted(p.name for p in (tmp_path / "fnn-mnist").iterdir()) == [
        "star-barriers-lam0.ipynb", "star-barriers-lam0.json", "star-barriers-lam0.log"]
    assert (tmp_path / "vgg16-cifar10" / "ngd-practical.json").exists()
    assert calls[0][4:calls[0].index("--out")] == ["star-barriers", "--profile", "paper", "-p", "setting", "fnn-mnist",
                                                   "-p", "lam", "0.0"]
    assert gpuplan.job_args(gpuplan.job("ngd-practical-lam1e-05@vgg16-cifar10"), {"n_train": 200}) == [
        "ngd-practical", "ngd-practical", "-p", "n_train", "200", "-p", "lam", "1e-05", "-p", "lams", "[1e-05]"]


def load_packer():
    spec = importlib.util.spec_from_file_location("pack_results", config.REPO_ROOT / "scripts" / "pack-results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_packing_brings_back_what_fits_and_says_what_does_not(tmp_path):
    packer = load_packer()
    MiB = packer.MiB
    res, store, out = tmp_path / "results", tmp_path / "store", tmp_path / "out"
    (res / "paper" / "fnn-mnist" / ".star-barriers").mkdir(parents=True)
    (res / "paper" / "fnn-mnist" / ".star-barriers" / ".star-barriers.abc.ipynb").write_text("{}")  # a stopped job
    sizes = {"minimum/small": 2, "minimum/big": 20} | {f"center/c{i}": 9 for i in range(12)}
    for name, mib in sizes.items():
        f = store / f"{name}.safetensors"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(os.urandom(mib * MiB))
        f.with_suffix(".json").write_text(json.dumps({"meta": name}))
    (store / "center" / "checkpoints").mkdir()
    (store / "center" / "checkpoints" / "k.ckpt.json").write_text("{}")
    (store / "center" / "checkpoints" / "k.ckpt.safetensors").write_bytes(b"x" * MiB)
    manifest = packer.pack(res, store, out)
    files = list(out.iterdir())
    assert len(files) <= packer.FILES_MAX and all(f.stat().st_size <= 16 * MiB for f in files)
    assert sum(f.stat().st_size for f in files) <= 64 * MiB
    with tarfile.open(out / "paper.tar") as t:
        assert "paper/fnn-mnist/.star-barriers/.star-barriers.abc.ipynb" in t.getnames()
    with tarfile.open(out / "store-meta.tar") as t:
        names = t.getnames()
        assert "MANIFEST.txt" in names and "center/checkpoints/k.ckpt.json" in names
        assert all(f"{n}.json" in names for n in sizes)  # every entry's metadata
    back = [line for line in manifest if line.startswith("brought back")]
    assert back[0].startswith("brought back: minimum/small.safetensors")
    assert any("minimum/big.safetensors" in line and "larger than a file" in line for line in manifest)
    assert any("left behind: center/" in line for line in manifest)  # 12 × 9 MiB cannot all come back
    inside = set()
    for f in out.glob("store-[0-9]*.tar"):
        with tarfile.open(f) as t:
            inside |= set(t.getnames())
    assert len(inside) == len(back) and not any("ckpt" in n for n in inside)
