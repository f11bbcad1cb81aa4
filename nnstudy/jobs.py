"""Glue between a Snakemake `script:` job and the functions of this package."""

from __future__ import annotations

import copy
import os
import sys
import time


def run(snakemake, job) -> None:
    """Run `job(log)` with all output (TensorFlow's C++ logs too) in the log file.

    A problem the user can fix (`StudyError`) ends the job with one line,
    repeated on the terminal, instead of a traceback.
    """
    from nnstudy.errors import StudyError

    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    with open(snakemake.log[0], "w", buffering=1) as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)

        def log(message: str) -> None:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

        try:
            job(log)
        except StudyError as err:
            log(f"error: {err}")
            print(f"error in rule {snakemake.rule}: {err}", file=terminal)
            sys.exit(1)


def training_arguments(snakemake, log) -> dict:
    """What every training job passes on besides its model's wildcards.

    GPU placement and the checkpoint cadence come from the config (with its
    preset applied), not from params: changing them must not rerun finished
    training jobs.
    """
    from nnstudy import settings

    training = settings.resolve(copy.deepcopy(snakemake.config))["training"]
    return {
        "settings": snakemake.params.settings
        | {"threads": snakemake.threads, "checkpoint_seconds": training["checkpoint_seconds"]},
        "inputs": dict(snakemake.input.items()),
        "outputs": dict(snakemake.output.items()),
        "state_dir": snakemake.params.state_dir,
        "gpu": training["gpu"],
        "log": log,
    }
