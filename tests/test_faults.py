"""Faults a long study meets, as a user meets them: stop signals."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, SNAKEMAKE, copy_workflow, nnstudy_status, smoke_config, snakemake
from conftest import status_rows as rows_of
from test_training import curves, run

from nnstudy import faults, metrics

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
