"""Part A's call for a lent GPU machine (bench/gpu_part_a.sh), rehearsed on the CPU, and the way home.

The rehearsal runs the script as the device runs it, in a copy of the checkout with the CIFAR-10 files where
`prepare` puts them (.gpudata/), from this venv instead of carried wheels, at smoke sizes
(bench/gpu_part_a_rehearsal.yaml): JAX on the CPU trains the grid's pack and A3's through Snakemake with the
call's deadline, the summary is written and OUT filled within the limits of what comes back. `nnstudy
import` then puts the returned runs into a fresh study, which plans no training job for them and renders
Part A's tables, figures and report.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml
from conftest import CIFAR_DIR, REPO, copy_workflow, nnstudy, nnstudy_status, snakemake, status_rows

from nnstudy.study import handback, plan

GPU_CONFIG = REPO / "bench/gpu_part_a.yaml"
REHEARSAL = REPO / "bench/gpu_part_a_rehearsal.yaml"
# The study the rehearsal trains: A1 (4, 6) in a 1 × 2 grid, A3 (SGD with dropout alone) at the grid's pick.
GRID = ["c1-4_c2-6_sgd_dropout-0_seed-1", "c1-4_c2-10_sgd_dropout-0_seed-1"]
A1 = GRID[0]


def call(checkout, out, *args, gpu_only=False, stop_when=None) -> subprocess.CompletedProcess:
    """bash bench/gpu_part_a.sh ARGS as the device runs it, on the CPU (ALLOW_CPU) unless `gpu_only`; with
    `stop_when` (a file), what its hard stop does once the file is there: SIGTERM to Snakemake and its jobs."""
    env = os.environ | {"OUT": str(out), "PYTHON": sys.executable, "CONFIGFILE": str(REHEARSAL)}
    env.pop("ALLOW_CPU", None)
    env |= {} if gpu_only else {"ALLOW_CPU": "1"}
    command = ["bash", "bench/gpu_part_a.sh", *args]
    with subprocess.Popen(
        command, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        while stop_when and not stop_when.is_file() and process.poll() is None:
            time.sleep(0.05)
        if stop_when:
            os.killpg(
                next(pid for pid in descendants(process.pid) if b"snakemake" in command_line(pid)), signal.SIGTERM
            )
        stdout, stderr = process.communicate(timeout=900)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def descendants(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found += [child, *descendants(child)]
    return found


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def a3_runs(c1, c2) -> list[str]:
    return [f"c1-{c1}_c2-{c2}_sgd_dropout-0.5_seed-1"]


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    """The device's checkout after three calls, as on one warm machine: `all`, stopped as its hard stop stops
    it once the grid's pack has saved its first chunk; `all` again, which continues (the grid, then A3 at its
    pick); `a3 C1 C2` at that pick, which finds nothing left to train. Their outputs and OUT folders."""
    if not CIFAR_DIR.is_dir():
        pytest.skip(f"{CIFAR_DIR} not available")
    tmp = tmp_path_factory.mktemp("gpu")
    checkout = copy_workflow(tmp / "checkout")
    for name in ("nnstudy", "bench"):
        shutil.copytree(REPO / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / ".gpudata").mkdir()
    (checkout / ".gpudata/cifar10").symlink_to(CIFAR_DIR)
    outs = [tmp / "out-stopped", tmp / "out-all", tmp / "out-a3"]
    calls = [call(checkout, outs[0], "all", stop_when=checkout / "resume/part_a/packs/grid_seed-1.json")]
    calls.append(call(checkout, outs[1], "all"))
    pair = json.loads((checkout / plan.OPTIMUM_FILE).read_text())
    calls.append(call(checkout, outs[2], "a3", str(pair["c1"]), str(pair["c2"])))
    return {"checkout": checkout, "calls": calls, "outs": outs, "pair": (pair["c1"], pair["c2"])}


@pytest.mark.integration
def test_without_a_gpu_the_call_stops_at_once_with_one_line(rehearsal, tmp_path):
    result = call(rehearsal["checkout"], tmp_path / "out", "all", gpu_only=True)
    assert result.returncode == 3
    line = r"no GPU: JAX \S+ sees only \[CpuDevice\(id=0\)\]; stopping before the study\n"
    assert re.fullmatch(line, result.stdout) and result.stderr == ""  # the call's output goes to OUT/run.log too
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["run.log"]


@pytest.mark.integration
def test_a_call_stopped_before_its_packs_end_brings_back_how_far_its_runs_got(rehearsal):
    stopped, out = rehearsal["calls"][0], rehearsal["outs"][0]
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    summary = (out / "summary.txt").read_text()
    assert "call: all\n" in summary and "2 runs: 0 done, 2 interrupted." in summary
    assert summary.endswith(
        "not done: the runs' states stay on this machine; the same call at once, while it is warm, continues\n"
    )
    assert re.search(r"^phases: install \d+ s, check \d+ s, grid \d+ s, pack \d+ s, total \d+ s$", summary, re.M)
    assert sorted(path.name for path in out.iterdir()) == ["results.tgz", "run.log", "summary.txt"]  # no weights
    assert handback.check(out) == []
    with tarfile.open(out / "results.tgz") as archive:
        names = set(archive.getnames())
        for run in GRID:
            history = json.load(archive.extractfile(f"resume/results/part_a/runs/{run}/history.json"))["history"]
            assert len(history) in (1, 2)  # its state at the checkpoint before the stop
    assert "resume/part_a/packs/grid_seed-1.json" in names
    assert not [name for name in names if name.endswith((".keras", "metrics.json"))]


@pytest.mark.integration
def test_the_same_call_again_continues_and_trains_both_packs_by_the_deadline(rehearsal):
    again, out = rehearsal["calls"][1], rehearsal["outs"][1]
    assert again.returncode == 0, again.stdout + again.stderr
    c1, c2 = rehearsal["pair"]
    runs = [*GRID, *a3_runs(c1, c2)]
    summary = (out / "summary.txt").read_text()
    assert f"call: all ({c1}, {c2})\na3_pair: ({c1}, {c2}), the grid's pick\n" in summary
    assert f"{len(runs)} runs: {len(runs)} done." in summary
    phases = re.search(r"^phases: (.*)$", summary, re.M)[1]
    assert re.fullmatch(
        r"install \d+ s, check \d+ s, grid \d+ s, optimum \d+ s, a3 \d+ s, pack \d+ s, total \d+ s", phases
    )
    # The runs say how they were made: the requested TF32 runs as float32 on a CPU, without deterministic ops.
    made = json.loads(re.search(r"^made: (.*)$", summary, re.M)[1])
    assert [(m["matmul_precision"], m["deterministic"], m["runs"]) for m in made] == [("float32", False, len(runs))]
    checkout = rehearsal["checkout"]
    for run in GRID:
        log = (checkout / f"logs/results/part_a/runs/{run}.log").read_text()
        assert re.search(r"resuming after epoch 1 of 2|all 2 epochs are in the resume state", log), log
    # The deadline the call set reaches every pack's job through Snakemake's config.
    with tarfile.open(out / "results.tgz") as archive:
        deadline = yaml.safe_load(archive.extractfile(".gpu-part-a/call.yaml"))["training"]["deadline"]
    assert f"deadline: {deadline}\n" in summary
    for pack in ("grid_seed-1", f"a3_c1-{c1}_c2-{c2}_seed-1"):
        assert f"no chunk ending after {deadline}" in (checkout / f"logs/part_a/packs/{pack}.log").read_text()
    assert "OUT keeps its limits" in again.stdout and summary in again.stdout


@pytest.mark.integration
def test_out_holds_metrics_histories_and_weights_within_the_limits(rehearsal):
    c1, c2 = rehearsal["pair"]
    runs = [*GRID, *a3_runs(c1, c2)]
    out = rehearsal["outs"][1]
    assert sorted(path.name for path in out.iterdir()) == ["results.tgz", "run.log", "summary.txt", "weights-1.tar"]
    assert handback.check(out) == []
    with tarfile.open(out / "results.tgz") as archive:
        names = set(archive.getnames())
    for run in runs:
        folder = f"results/part_a/runs/{run}"
        assert {f"{folder}/metrics.json", f"{folder}/costs.png", f"{folder}/accuracies.png"} <= names
        assert f"logs/{folder}.log" in names
    assert {".gpu-part-a/call.yaml", ".gpu-part-a/summary.json", ".gpu-part-a/snakemake.log"} <= names
    assert not [name for name in names if name.endswith(".keras") or name.startswith("resume/results/")]
    with tarfile.open(out / "weights-1.tar") as archive:
        models = archive.getnames()
    assert models[0] == f"results/part_a/runs/{A1}/model.keras"  # for A1's feature maps, first
    assert sorted(models) == sorted(f"results/part_a/runs/{run}/model.keras" for run in runs)
    listed = re.findall(r"^  (\S+)  [\d.]+ MiB$", (out / "summary.txt").read_text(), re.M)
    assert listed == ["results.tgz", "weights-1.tar"] and "left out: nothing" in (out / "summary.txt").read_text()


@pytest.mark.integration
def test_weights_that_do_not_fit_stay_behind_and_say_why(rehearsal, tmp_path):
    """The packing under limits the rehearsal's small models meet, as a paper-scale `all` call's 59 MiB of
    weights meet the device's: A1's first, then the smallest, while bytes and files are left."""
    checkout = rehearsal["checkout"]
    models = {path.parent.name: path.stat().st_size for path in checkout.glob("results/part_a/runs/*/model.keras")}
    everything = handback.pack(checkout, tmp_path / "all", weights_first=[f"results/part_a/runs/{A1}"])
    assert everything.left_out == [] and len(models) == 3
    smallest = min((run for run in models if run != A1), key=lambda run: (models[run], run))
    room = everything.files[handback.RESULTS] + handback.TAR_BASE_BYTES
    room += sum(models[run] + handback.TAR_MEMBER_BYTES for run in (A1, smallest))
    limits = handback.Limits(files=8, file_bytes=handback.MIB, total_bytes=room, reserved_bytes=0)
    packed = handback.pack(checkout, tmp_path / "some", weights_first=[f"results/part_a/runs/{A1}"], limits=limits)
    with tarfile.open(tmp_path / "some/weights-1.tar") as archive:
        assert archive.getnames() == [f"results/part_a/runs/{run}/model.keras" for run in (A1, smallest)]
    over = f"{room / handback.MIB:g} MiB together"
    assert sorted(packed.left_out) == sorted(
        f"{run}'s weights (over {over})" for run in models if run not in (A1, smallest)
    )
    assert handback.check(tmp_path / "some", limits) == []
    none = handback.pack(checkout, tmp_path / "none", limits=handback.Limits(3, handback.MIB, handback.MIB, 0))
    assert list(none.files) == [handback.RESULTS] and len(none.left_out) == 3
    assert all(line.endswith("'s weights (no file left of 3)") for line in none.left_out)


@pytest.mark.integration
def test_the_a3_call_on_the_same_machine_finds_its_runs_done(rehearsal):
    """`a3 C1 C2` after `all`: nothing trains, and all the machine holds comes back."""
    a3, out = rehearsal["calls"][2], rehearsal["outs"][2]
    c1, c2 = rehearsal["pair"]
    assert a3.returncode == 0, a3.stdout + a3.stderr
    summary = (out / "summary.txt").read_text()
    assert f"call: a3 ({c1}, {c2})\na3_pair: ({c1}, {c2}), pinned by this call\n" in summary
    assert "1 runs: 1 done." in summary
    log = (rehearsal["checkout"] / ".gpu-part-a/snakemake.log").read_text().split("Building DAG of jobs")[-1]
    assert "Nothing to be done" in log


@pytest.mark.integration
def test_import_brings_the_runs_home_and_the_study_trains_none_of_them(rehearsal, tmp_path):
    """The way home: the calls' OUT folders into a fresh study, which then renders Part A without training."""
    study = copy_workflow(tmp_path / "study")
    config = ["--configfile", str(GPU_CONFIG), str(REHEARSAL), "--config", f"cifar10_dir={CIFAR_DIR}"]
    c1, c2 = rehearsal["pair"]
    runs = [*GRID, *a3_runs(c1, c2)]
    result = nnstudy(REPO, "import", *map(str, rehearsal["outs"]), str(study), *config)
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"{rehearsal['outs'][0]}: no finished runs",
            *(f"imported results/part_a/runs/{run}: metrics, curves, log, weights" for run in runs),
        ]
    )
    device = rehearsal["checkout"]
    for run in runs:
        metrics = f"results/part_a/runs/{run}/metrics.json"
        assert (study / metrics).read_bytes() == (device / metrics).read_bytes()  # code, precision, device as made
    planned = snakemake(study, "-n", *config)
    assert not re.search(r"^train_", planned.stdout, re.M), planned.stdout
    before = {run: (study / f"results/part_a/runs/{run}/metrics.json").stat().st_mtime_ns for run in runs}
    rendered = snakemake(study, "--cores", "2", *config)
    assert not re.search(r"^\s*(local)?rule train_", rendered.stderr + rendered.stdout, re.M)
    assert before == {run: (study / f"results/part_a/runs/{run}/metrics.json").stat().st_mtime_ns for run in runs}
    for output in ("report.html", "tables/a2.md", "tables/a4.md", "figures", "part_a/feature_maps/test_image_1.png"):
        assert (study / "results" / output).exists()
    assert f"optimal pair ({c1}, {c2})" in (study / "logs/part_a/select_optimum.log").read_text()
    statuses = status_rows(nnstudy_status(study, *config).stdout)
    assert {run: row[0] for run, row in statuses.items()} == dict.fromkeys(runs, "done")


@pytest.mark.integration
def test_import_refuses_runs_the_study_does_not_ask_for_and_leaves_it_alone(rehearsal, tmp_path):
    """A study asking for float32 products refuses every returned run, one line each; one with another grid
    refuses the runs it does not plan, and with its grid incomplete, A3's."""
    study = copy_workflow(tmp_path / "study")
    config = ["--configfile", str(GPU_CONFIG), str(REHEARSAL), "--config", f"cifar10_dir={CIFAR_DIR}"]
    out = str(rehearsal["outs"][1])
    c1, c2 = rehearsal["pair"]
    result = nnstudy(REPO, "import", out, str(study), *config, "training={matmul_precision: float32}", check=False)
    assert result.returncode == 1
    assert sorted(result.stdout.splitlines()) == sorted(
        f"refused results/part_a/runs/{run}: trained with other settings than the study's config asks for "
        "(matmul_precision tf32 → float32)"
        for run in [*GRID, *a3_runs(c1, c2)]
    )
    assert not (study / "results").exists()
    other_grid = "part_a={grid: {c1: [4], c2: [6, 20]}}"
    result = nnstudy(REPO, "import", out, str(study), *config, other_grid, check=False)
    assert result.returncode == 1
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"imported results/part_a/runs/{A1}: metrics, curves, log, weights",
            *(
                f"refused results/part_a/runs/{run}: not a run of the study's config (or one of A3's, which are "
                "known once the study holds its whole grid: import the grid first)"
                for run in [GRID[1], *a3_runs(c1, c2)]
            ),
        ]
    )
    assert sorted(path.name for path in (study / "results/part_a/runs").iterdir()) == [A1]
