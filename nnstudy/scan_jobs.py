"""The workflow's job for a pack of Part A runs on the scan engine (`training.engine: scan`).

One job trains several runs (the 25 grid pairs of a seed, or A3's four) as
one pack with `nnstudy.scan` and writes, for every run, the files that
`experiments.train_cifar` writes for it: model.keras, metrics.json (with
`"engine": "scan"` and the matmul precision among its hyper-parameters, so
that its resume state is never mistaken for fit's) and the two curve plots.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from nnstudy import experiments, runtime
from nnstudy.errors import StudyError


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


def train_cifar_pack(*, runs, settings, inputs, manifest, gpu=None, log=print):
    """Train Part A `runs` as one pack on the JAX backend; write each run's outputs.

    runs: [{c1, c2, optimizer, dropout, seed, outputs: {metrics, model, costs,
    accuracies}, state_dir, log (optional: the run's own log file)}].
    settings: those of `experiments.train_cifar`, plus `chunk_epochs`,
    `deadline` (see `deadline_time`) and `matmul_precision` (float32 or tf32).
    manifest: the pack's manifest file, under the resume folder.
    A pack stopped by its deadline raises `scan.DeadlineReached` (a
    StudyError: one line, "stopped at epoch N of M by the deadline; rerun to
    continue") with every run's state saved at the same epoch.
    """
    started, deadline = time.perf_counter(), deadline_time(settings.get("deadline"), time.time())
    if settings["backend"] != "jax":
        raise StudyError(f"training.engine scan runs on training.backend jax, not {settings['backend']}")
    runtime.prepare("jax", settings["threads"], settings["deterministic"], gpu, log)
    from nnstudy import scan

    split = experiments.load_cifar(inputs["train"], inputs["test"], settings["train_limit"], settings["test_limit"])
    device = runtime.configure(settings["threads"], settings["deterministic"], settings["precision"], log)
    precision = scan.matmul_precision(settings["matmul_precision"])
    records, members = [], []
    for spec in runs:
        run, build = experiments.cifar_run(
            spec["c1"], spec["c2"], spec["optimizer"], spec["dropout"], spec["seed"], settings, split
        )
        name = Path(spec["outputs"]["metrics"]).parent.name
        run = {"run": name, **run}
        run["hyperparameters"] |= {"engine": "scan", "matmul_precision": precision}
        fingerprint = {key: value for key, value in run["hyperparameters"].items() if key != "epochs"}
        member_log = _run_log(spec.get("log"), log, name)
        member_log(f"training {run['label']} on {len(split.y_train)} images, testing on {len(split.y_test)}")
        records.append(run)
        members.append(scan.Member(name, build, spec["seed"], Path(spec["state_dir"]), fingerprint, member_log))
    log(
        f"training {len(members)} runs as one pack in chunks of {settings['chunk_epochs']} epochs, "
        f"matmul precision {precision}"
    )
    trained = scan.train_pack(
        members,
        split,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        chunk_epochs=settings["chunk_epochs"],
        manifest=Path(manifest),
        deadline=deadline,
        matmul_precision=settings["matmul_precision"],
        log=log,
    )
    for (model, history), run, spec, member in zip(trained, records, runs, members):
        experiments.record(model, history, run, spec["outputs"], started, device, member.log)
