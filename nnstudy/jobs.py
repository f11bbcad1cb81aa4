"""Glue between a Snakemake `script:` job and the functions of this package."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path


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


def train(snakemake, log) -> None:
    """A training job (rules/training.smk): its runs, engine and manifest (params.job) and how it runs."""
    spec = snakemake.params.job
    if spec["engine"] == "allocation":
        from nnstudy.study import packs

        packs.train_allocation(
            snakefile=Path(snakemake.scriptdir).parent.resolve() / "Snakefile",
            config=snakemake.config,
            runs=[run["folder"] for run in spec["runs"]],
            cores=snakemake.threads,
            log=log,
        )
        return
    from nnstudy.train import job

    inputs = {name: path for name, path in snakemake.input.items() if name != "changed"}
    job.train(runs=spec["runs"], inputs=inputs, options=training_options(snakemake), log=log)


def training_options(snakemake) -> dict:
    """How a training job runs, from the config (resolved once, by rules/common.smk, presets applied) and not
    from params: GPU placement, the checkpoint cadence or TensorBoard change no number."""
    training = snakemake.config["training"]
    options = {key: training[key] for key in ("checkpoint_seconds", "tensorboard", "resume_dir", "gpu")}
    options |= {key: training[key] for key in ("chunk_epochs", "deadline")}
    return options | {"threads": snakemake.threads, "manifest": snakemake.params.job.get("manifest")}
