"""The workflow's job for a pack of Part A runs on the scan engine (`training.engine: scan`).

One job trains several runs (the 25 grid pairs of a seed, or A3's four) as
one pack with `nnstudy.train.scan` and writes, for every run, the files that
`job.train_cifar` writes for it: model.keras, metrics.json (with
`"engine": "scan"` and the matmul precision among its hyper-parameters, so
that its resume state is never mistaken for fit's) and the two curve plots.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from nnstudy.errors import StudyError
from nnstudy.train import job, runtime


def deadline_time(value, now: float) -> float | None:
    """`training.deadline` as a `time.time()` value: none, minutes after `now`, or an ISO 8601 wall-clock time."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return now + 60.0 * value
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise StudyError(f"training.deadline: {value!r} is neither minutes nor an ISO 8601 time") from None


def _run_log(path, pack_log, name: str):
    """A run's own log (a file, emptied at the start of the job, in the job log's format), or the pack's."""
    if path is None:
        return lambda message: pack_log(f"{name}: {message}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")

    def log(message: str) -> None:
        with path.open("a") as handle:
            handle.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")

    return log


# What every run of a pack must share: they train in one program.
SHARED = ("epochs", "batch_size", "train_limit", "test_limit", "pixel_layout", "backend", "deterministic", "precision")


def train_cifar_pack(*, runs, settings, inputs, manifest, gpu=None, log=print):
    """Train Part A `runs` as one pack on the JAX backend; write each run's outputs.

    runs: [{settings (nnstudy.study.plan.run_settings of the run), outputs: {metrics,
    model, costs, accuracies}, state_dir, log (optional: the run's own log file)}].
    settings: how the job runs: threads, chunk_epochs, deadline (see
    `deadline_time`). manifest: the pack's manifest file, under the resume folder.
    A pack stopped by its deadline raises `scan.DeadlineReached` (a
    StudyError: one line, "stopped at epoch N of M by the deadline; rerun to
    continue") with every run's state saved at the same epoch.
    """
    started, deadline = time.perf_counter(), deadline_time(settings.get("deadline"), time.time())
    shared = {key: runs[0]["settings"][key] for key in SHARED}
    if any({key: spec["settings"][key] for key in SHARED} != shared for spec in runs):
        raise StudyError(f"the runs of a pack must share {', '.join(SHARED)}")
    if shared["backend"] != "jax":
        raise StudyError(f"training.engine scan runs on training.backend jax, not {shared['backend']}")
    runtime.prepare("jax", settings["threads"], shared["deterministic"], gpu, log)
    from nnstudy.train import scan

    split = job.load_cifar(
        inputs["train"], inputs["test"], shared["train_limit"], shared["test_limit"], shared["pixel_layout"]
    )
    device = runtime.configure(settings["threads"], shared["deterministic"], shared["precision"], log)
    requested = runs[0]["settings"]["matmul_precision"]
    precision = scan.matmul_precision(requested)
    code = job.code_record("jax")
    records, members = [], []
    for spec in runs:
        run, build = job.cifar_run(spec["settings"], split)
        name = Path(spec["outputs"]["metrics"]).parent.name
        run = {"run": name, **run, "code": code}
        run["hyperparameters"] |= {"engine": "scan", "matmul_precision": precision}
        fingerprint = {key: value for key, value in run["hyperparameters"].items() if key != "epochs"}
        member_log = _run_log(spec.get("log"), log, name)
        member_log(f"training {run['label']} on {len(split.y_train)} images, testing on {len(split.y_test)}")
        records.append(run)
        member = scan.Member(name, build, run["seed"], Path(spec["state_dir"]), fingerprint, member_log)
        members.append(member)
    log(
        f"training {len(members)} runs as one pack in chunks of {settings['chunk_epochs']} epochs, "
        f"matmul precision {precision}"
    )
    trained = scan.train_pack(
        members,
        split,
        epochs=shared["epochs"],
        batch_size=shared["batch_size"],
        chunk_epochs=settings["chunk_epochs"],
        manifest=Path(manifest),
        deadline=deadline,
        matmul_precision=requested,
        code=code["identity"],
        log=log,
    )
    for (model, history), run, spec, member in zip(trained, records, runs, members):
        job.record(model, history, run, spec["outputs"], started, device, member.log)
