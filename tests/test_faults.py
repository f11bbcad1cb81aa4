"""Faults a long study meets, as a user meets them: stop signals, a full disk,
a damaged metrics.json, a failed publication, a full /tmp under the GPU slots."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, SNAKEMAKE, copy_workflow, nnstudy, nnstudy_status, smoke_config, snakemake
from conftest import status_rows as rows_of
from test_training import curves, run

from nnstudy import faults, metrics
from nnstudy.commands import publish
from nnstudy.errors import StudyError
from nnstudy.train import devices

RUN = "results/part_a/runs/c1-10_c2-20_sgd_dropout-0_seed-1"


class SignalAt(keras.callbacks.Callback):
    """Sends this process a real signal in the middle of an epoch (0-based), as SLURM or Ctrl-C would."""

    def __init__(self, signum, epoch):
        super().__init__()
        self.signum, self.epoch, self.current = signum, epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            os.kill(os.getpid(), self.signum)


def test_a_stop_signal_mid_epoch_saves_the_finished_epochs_and_the_rerun_ends_as_if_never_stopped(tmp_path):
    """No timed checkpoint falls in the run: all it keeps, the stop saved."""
    with pytest.raises(faults.Stopped, match=r"^stopped by SIGTERM after epoch 3; the state is saved$") as stopped:
        run(tmp_path, "stopped", 6, 0.5, checkpoint_seconds=3600, callbacks=(SignalAt(signal.SIGTERM, 3),))
    assert stopped.value.exit_status == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # outside a fit, SIGTERM ends the process again
    saved = json.loads((tmp_path / "stopped/history.json").read_text())
    assert [entry["epoch"] for entry in saved["history"]] == [1, 2, 3] and saved["model_file"] == "epoch-00003.keras"
    logs = []
    resumed = run(tmp_path, "stopped", 6, 0.5, logs=logs)
    assert f"resuming after epoch 3 of 6 from {tmp_path / 'stopped'}" in logs
    np.testing.assert_allclose(curves(resumed), curves(run(tmp_path, "straight", 6, 0.5)), rtol=1e-6)


def wait_for(predicate, process, what, seconds=300):
    deadline = time.time() + seconds
    while not predicate():
        assert process.poll() is None and time.time() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


@pytest.mark.integration
def test_stop_signals_to_every_process_of_a_training_job_save_it_and_the_rerun_resumes(tmp_path):
    """Ctrl-C (SIGINT to every process of the terminal's job), then, in the rerun, what
    SLURM sends at preemption or the time limit (SIGTERM to every process of the job):
    Snakemake, the training job and its log filter all get the signal."""
    workflow = copy_workflow(tmp_path / "workflow")
    shutil.copytree(REPO / "nnstudy", workflow / "nnstudy")
    longer = tmp_path / "longer.yaml"  # the default checkpoint_seconds (60): no timed checkpoint before a stop
    longer.write_text(yaml.safe_dump({"presets": {"smoke": {"part_a": {"epochs": 12, "train_limit": 512}}}}))
    config = ["--configfile", str(longer), *smoke_config()]
    log = workflow / "logs" / f"{RUN}.log"

    def stop_after(epoch, signum):
        job = subprocess.Popen(
            [str(SNAKEMAKE), "--cores", "1", f"{RUN}/metrics.json", *config],
            cwd=workflow,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        wait_for(lambda: log.is_file() and f"] epoch {epoch}/12" in log.read_text(), job, f"epoch {epoch}")
        sent = time.monotonic()
        os.killpg(job.pid, signum)
        terminal = job.communicate(timeout=120)[1]
        print(f"{signal.Signals(signum).name} to every process: Snakemake ended {time.monotonic() - sent:.2f} s later")
        done = int(re.findall(r"\] epoch (\d+)/12", log.read_text())[-1])
        stopped = f"stopped by {signal.Signals(signum).name} after epoch {done}; the state is saved"
        assert job.returncode != 0 and log.read_text().splitlines()[-1].endswith(f"] {stopped}")
        assert f"rule train_cifar: {stopped}" in terminal and "Traceback" not in terminal
        state = json.loads((workflow / "resume" / RUN / "history.json").read_text())
        assert len(state["history"]) == done and not (workflow / RUN / "metrics.json").exists()
        status = rows_of(nnstudy_status(workflow, *config).stdout)[RUN.rsplit("/", 1)[1]]
        assert status[:2] == ["interrupted", f"{done}/12"]
        return done

    first = stop_after(2, signal.SIGINT)
    second = stop_after(first + 2, signal.SIGTERM)
    assert f"resuming after epoch {first} of 12" in log.read_text() and second < 12
    snakemake(workflow, "--cores", "1", f"{RUN}/metrics.json", *config)
    assert f"resuming after epoch {second} of 12" in log.read_text()
    assert [entry["epoch"] for entry in metrics.read(workflow / RUN / "metrics.json")["history"]] == list(range(1, 13))


@pytest.fixture
def tmpfs():
    """mount(folder, size): a small tmpfs there, unmounted after the test."""
    mounted = []

    def mount(folder, size):
        folder.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (root only): {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(folder)], check=False)  # detached even if a process holds a file


def resize(folder, size):
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


def fill(folder):
    with (folder / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 4096)
    assert shutil.disk_usage(folder).free == 0


def test_a_full_tmp_costs_a_gpu_slot_its_pid_line_not_the_job(tmpfs, tmp_path):
    """A job takes its slot on a full /tmp (the lock needs no space); another then waits for it."""
    full = tmpfs(tmp_path / "tmp", "64k")
    fill(full)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from nnstudy.train import devices; print(devices.acquire(['0'], {str(full / 'slots')!r})); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline() == "0\n"
        with pytest.raises(StudyError, match=r"came free in 0 min \(held: gpu0-slot0.lock by pid \?\)"):
            devices.acquire(["0"], full / "slots", wait_minutes=0, log=lambda message: None)
    finally:
        holder.communicate("\n", timeout=30)


@pytest.mark.integration
def test_a_full_disk_ends_the_job_in_one_line_and_the_rerun_after_freeing_space_resumes(tmpfs, tmp_path):
    """Full in turn: the log folder (its lines go to the terminal), the resume folder
    (a state of one model fits, not two), the run's results folder."""
    workflow = copy_workflow(tmp_path / "workflow")
    shutil.copytree(REPO / "nnstudy", workflow / "nnstudy")
    config = [f"{RUN}/metrics.json", *smoke_config("training={checkpoint_seconds: 0}")]
    state, results = tmpfs(workflow / "resume" / RUN, "700k"), workflow / RUN
    fill(tmpfs((workflow / "logs" / RUN).parent, "64k"))
    first = snakemake(workflow, "--cores", "1", *config, check=False)
    log = f"logs/{RUN}.log"
    assert f"error: cannot write the log {log}: No space left on device; its lines follow here" in first.stderr
    assert re.search(r"^\[[\d:]+\] epoch 1/2 ", first.stderr, re.M)
    assert (
        f"error in rule train_cifar: cannot save the resume state in resume/{RUN}: No space left on device; "
        "free space (or make it writable) and run again: the job resumes from its last saved epoch"
    ) in first.stderr
    assert sorted(path.name for path in state.iterdir()) == ["epoch-00001.keras", "history.json"]
    assert json.loads((state / "history.json").read_text())["model_file"] == "epoch-00001.keras"

    (workflow / "logs" / RUN).parent.joinpath("filler").unlink()
    resize(state, "8m")
    tmpfs(results, "200k")
    second = snakemake(workflow, "--cores", "1", *config, check=False)
    assert f"error in rule train_cifar: cannot write {RUN}: No space left on device" in second.stderr
    assert "resuming after epoch 1 of 2" in (workflow / log).read_text() and not list(results.iterdir())

    resize(results, "8m")
    snakemake(workflow, "--cores", "1", *config)
    assert "all 2 epochs are in the resume state" in (workflow / log).read_text()
    assert len(metrics.read(results / "metrics.json")["history"]) == 2


@pytest.mark.integration
def test_a_damaged_metrics_file_is_named_with_the_command_that_writes_it_anew(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    shutil.copytree(REPO / "nnstudy", workflow / "nnstudy")
    config = smoke_config("questions=[a1]", "parts=[part_a]")
    run_dir = "results/part_a/runs/c1-50_c2-60_sgd_dropout-0_seed-1"
    snakemake(workflow, "--cores", "2", "results/tables/all_runs.csv", *config)
    document = workflow / run_dir / "metrics.json"
    document.write_bytes(document.read_bytes()[:500])  # a copy cut short
    status = nnstudy_status(workflow, *config).stdout
    assert rows_of(status)[run_dir.rsplit("/", 1)[1]][:2] == ["damaged", "2/2"]
    fix = f"to write the damaged anew, run the study's snakemake command with --forcerun {run_dir}/metrics.json"
    assert "1 runs: 0 done, 1 damaged" in status and fix in status

    failed = snakemake(workflow, "--cores", "2", "results/tables/all_runs.csv", *config, check=False)
    assert re.search(
        rf"error in rule all_runs_table: damaged metrics \({run_dir}/metrics.json: .*\); to write them anew, "
        rf"run the study's snakemake command with --forcerun {run_dir}/metrics.json\n",
        failed.stderr,
    )
    snakemake(workflow, "--cores", "2", "results/tables/all_runs.csv", "--forcerun", f"{run_dir}/metrics.json", *config)
    assert "all 2 epochs are in the resume state" in (workflow / "logs" / f"{run_dir}.log").read_text()
    assert rows_of(nnstudy_status(workflow, *config).stdout)[run_dir.rsplit("/", 1)[1]][0] == "done"


def test_publishing_is_all_or_nothing(tmp_path):
    """A workflow without a finished study publishes nothing, not even a folder; a
    republish that fails leaves the earlier publication and the project README as they were."""
    workflow = copy_workflow(tmp_path / "workflow")
    published = REPO / "docs/paper-results"
    (workflow / "run.log").write_text("[Thu Nov 26 11:42:48 2026]\nlocalrule x:\n[Thu Nov 26 13:05:10 2026]\n")
    args = ["--configfile", str(published / "config.yaml"), "--command", "snakemake", "--snakemake-log", "run.log"]
    empty = nnstudy(workflow, "publish", "docs/new", *args, check=False)
    assert empty.returncode == 1 and empty.stderr.startswith("error: results: no finished study to publish (no ")
    assert len(empty.stderr.splitlines()) == 1 and not (workflow / "docs/new").exists()

    for source, name in publish.COPIED:  # a finished study's results: the publication's own copies
        (workflow / "results" / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(published / name, workflow / "results" / source)
    for history in published.glob("histories.csv*"):
        shutil.copy(history, workflow / "results/tables" / history.name)
    shutil.copy(REPO / "README.md", workflow / "README.md")
    folder = workflow / "docs/paper-results"
    shutil.copytree(published, folder)
    nnstudy(workflow, "publish", "docs/paper-results", *args)
    assert json.loads((folder / "publication.json").read_text())["command"] == "snakemake"
    (folder / "explanations.yaml").write_text("{}\n")  # differences the README must explain, unexplained

    def files():
        return {path: path.read_bytes() for path in [workflow / "README.md", *folder.iterdir()]}

    before = files()
    failed = nnstudy(workflow, "publish", "docs/paper-results", *args, check=False)
    assert failed.returncode == 1 and "explanations.yaml: no explanation for b" in failed.stderr
    assert files() == before and [path.name for path in (workflow / "docs").iterdir()] == ["paper-results"]
