"""Glue between a Snakemake `script:` job and the functions of this package."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

# One folder per run: `tensorboard --logdir logs/tensorboard` shows them all.
TENSORBOARD_DIR = "logs/tensorboard"


def run(snakemake, job) -> None:
    """Run `job(log)` with all output in the log file, TensorFlow's C++ chatter
    filtered out (nnstudy.logfilter).

    A problem the user can fix (`StudyError`, a full disk) ends the job with
    one line, repeated on the terminal, instead of a traceback; so does a stop
    signal the job honoured (`faults.Stopped`), with the exit status of a
    process that signal ended.
    """
    from nnstudy import faults
    from nnstudy.errors import StudyError

    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    try:
        open(snakemake.log[0], "w").close()
    except OSError as err:
        sys.exit(f"error in rule {snakemake.rule}: cannot write the log {snakemake.log[0]}: {err.strerror}")
    log_filter = subprocess.Popen([sys.executable, "-m", "nnstudy.logfilter", snakemake.log[0]], stdin=subprocess.PIPE)
    os.dup2(log_filter.stdin.fileno(), 1)
    os.dup2(log_filter.stdin.fileno(), 2)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    status, leave = 1, sys.exit
    try:
        job(log)
        status = 0
    except faults.Stopped as stop:
        log(str(stop))
        print(f"rule {snakemake.rule}: {stop}", file=terminal)
        # Nothing is left to write: leave without Python's teardown, which waits for the steps a backend
        # queued ahead (JAX on a CPU: the rest of a paper-scale epoch, 47 s) and takes TensorFlow 2.5 s.
        status, leave = stop.exit_status, os._exit
    except Exception as err:  # noqa: BLE001  any other failure: its traceback goes into the log, where Snakemake shows it
        problem = (
            str(err) if isinstance(err, StudyError) else faults.unwritable(err, os.path.commonpath(snakemake.output))
        )
        if problem is None:
            traceback.print_exc()
        else:
            log(f"error: {problem}")
            print(f"error in rule {snakemake.rule}: {problem}", file=terminal)
    finally:
        # Close every end of the pipe so the filter sees its end and has
        # written the whole log before Snakemake reads it.
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(terminal.fileno(), 1)
        os.dup2(terminal.fileno(), 2)
        log_filter.stdin.close()
        log_filter.wait(timeout=60)
    if status:
        leave(status)


def training_arguments(snakemake, log) -> dict:
    """A training job's arguments: its run's settings (params, nnstudy.study.plan.run_settings)
    and how the job runs, which comes from the config (resolved once, by
    rules/common.smk) and not from params: changing GPU placement, the
    checkpoint cadence or TensorBoard must not rerun finished training jobs.
    """
    training = snakemake.config["training"]
    run = Path(snakemake.output.metrics).parent.name
    return {
        "settings": snakemake.params.settings
        | {
            "threads": snakemake.threads,
            "checkpoint_seconds": training["checkpoint_seconds"],
            "tensorboard_dir": f"{TENSORBOARD_DIR}/{run}" if training["tensorboard"] else None,
        },
        "inputs": dict(snakemake.input.items()),
        "outputs": dict(snakemake.output.items()),
        "state_dir": snakemake.params.state_dir,
        "gpu": training["gpu"],
        "log": log,
    }
