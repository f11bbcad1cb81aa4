"""The training job: one run on the fit engine, or a pack of Part A runs on the scan engine (training.engine).

Every training rule calls `train` (scripts/train.py). For each run it loads the data, builds the model the spec
describes, trains it resumably, and writes metrics.json (history, summary, settings, hyper-parameters, code, device,
versions), the two learning-curve plots and the model. Keras is imported inside the functions on purpose:
`runtime.prepare()` has to set the process environment before TensorFlow is first imported.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from nnstudy import faults, metrics
from nnstudy.data import cifar
from nnstudy.errors import StudyError
from nnstudy.study import plan
from nnstudy.train import identity, runtime

# What every run of a pack shares: its runs train in one program, on one copy of the data.
SHARED = ("epochs", "batch_size", "train_limit", "test_limit", "pixel_layout", "backend", "deterministic", "precision")
# A probe (identity.current) trains a run's kind for two epochs of two full batches and a remainder, on a small
# CNN where the run is one, and tests on 64 examples.
PROBE = {"seed": 1, "epochs": 2, "test_limit": 64}
PROBE_CHANNELS = {"c1": 4, "c2": 6}


@dataclass
class Data:
    """A run's training and test data (nnstudy.train.fit.Split) and, for text, what the model needs to know."""

    split: object
    info: dict


def train(*, runs: list[dict], inputs: dict, options: dict, log=print) -> None:
    """Train `runs` (nnstudy.study.plan.Run's fields: one run, or a scan pack) and write their outputs.

    options: how the job runs, none of which changes a number: threads, checkpoint_seconds, tensorboard (bool),
    resume_dir, gpu (training.gpu, or None), and for packs chunk_epochs, deadline and manifest.
    """
    runs = [plan.Run(**run) for run in runs]
    first = runs[0].settings
    if any({key: run.settings.get(key) for key in SHARED} != {key: first.get(key) for key in SHARED} for run in runs):
        raise StudyError(f"the runs of a pack must share {', '.join(SHARED)}")
    for run in runs:  # a folder name can ask for it
        level, architecture = run.settings.get("level"), run.settings.get("architecture")
        if run.settings.get("mask_padding") and not plan.can_mask(level, architecture):
            raise StudyError(f"padding can be masked for word-level recurrent models only, not {level} {architecture}")
    compiled = Path(options["resume_dir"]) / "compiled"
    runtime.prepare(first["backend"], options["threads"], first["deterministic"], options.get("gpu"), log, compiled)
    started = time.perf_counter()
    data = load(runs[0].part, first, inputs)
    device = runtime.configure(options["threads"], first["deterministic"], first["precision"], log)
    environment = identity.environment(first["backend"], device["type"])
    codes = {
        run.folder: identity.current(
            run.settings,
            environment,
            Path(options["resume_dir"]) / "identity",
            lambda run=run: probe(run.settings, inputs),
            log,
        )
        for run in runs
    }
    what = "images" if runs[0].part == "part_a" else "documents"
    sizes = f"on {len(data.split.y_train)} {what}, testing on {len(data.split.y_test)}"
    if first["engine"] == "scan":
        trained = _train_pack(runs, data, codes, options, log, sizes)
    else:
        trained = [_train_one(runs[0], data, codes[runs[0].folder], options, log, sizes)]
    commit = identity.git_commit(identity.PACKAGE)
    for run, (model, history, hyperparameters, run_log) in zip(runs, trained):
        code = codes[run.folder] | {"identity": codes[run.folder]["source"], "commit": commit}
        record(run, model, history, hyperparameters, code, device, time.perf_counter() - started, run_log)


# ---- data and models -----------------------------------------------------------------


def load(part: str, settings: dict, inputs: dict) -> Data:
    """The data of a run with `settings` (its limits and layout) from the job's input files."""
    from nnstudy.train.fit import Split

    train_limit, test_limit = settings["train_limit"], settings["test_limit"]
    if part == "part_a":
        x_train, y_train = cifar.load_batch(inputs["train"])
        x_test, y_test = cifar.load_batch(inputs["test"])
        layout = settings["pixel_layout"]
        return Data(
            Split(
                cifar.to_float(cifar.arrange(x_train[:train_limit], layout)),
                y_train[:train_limit],
                cifar.to_float(cifar.arrange(x_test[:test_limit], layout)),
                y_test[:test_limit],
            ),
            {},
        )
    arrays = np.load(inputs["ids"])
    vocabulary = json.loads(Path(inputs["vocabulary"]).read_text())
    word = settings["level"] == "word"
    info = {
        "num_classes": vocabulary["num_classes"],
        "vocabulary_size": len(vocabulary["vocabulary"]) if word else vocabulary["char_vocabulary_size"],
        "length": vocabulary["length"],
    }
    split = Split(
        arrays["x_train"][:train_limit],
        arrays["y_train"][:train_limit],
        arrays["x_test"][:test_limit],
        arrays["y_test"][:test_limit],
    )
    return Data(split, info)


def build(settings: dict, info: dict):
    """The compiled model of a run with `settings`, as the spec describes it (nnstudy.train.models)."""
    from nnstudy.train import fit, models

    if "c1" in settings:
        model = models.cifar_cnn(settings["c1"], settings["c2"], settings["dropout"])
        optimizer = models.optimizer(settings["optimizer"], settings["learning_rate"], settings["momentum"] or 0.0)
        return fit.compile_model(model, optimizer)
    model = models.text_classifier(
        settings["level"],
        settings["architecture"],
        info["num_classes"],
        info["vocabulary_size"],
        info["length"],
        settings["layers"],
        settings["dropout"],
        settings["mask_padding"],
    )
    optimizer = models.optimizer(
        settings["optimizer"], settings["learning_rate"], 0.0, settings["clip_mode"], settings["clip_threshold"]
    )
    return fit.compile_model(model, optimizer)


# The hyper-parameters metrics.json records (and, epochs aside, a resume state's fingerprint holds), per part.
HYPERPARAMETERS = {
    "part_a": ("c1", "c2", "optimizer", "dropout", "learning_rate", "momentum", "batch_size", "epochs"),
    "part_b": (
        "level", "architecture", "layers", "dropout", "clip_mode", "clip_threshold", "mask_padding", "optimizer",
        "learning_rate", "batch_size", "epochs",
    ),
}  # fmt: skip


def hyperparameters(settings: dict, data: Data, matmul_precision: str | None = None) -> dict:
    """A run's settings as the model trained with them: with the data's sizes; the pixel layout where not the
    default, and the engine and the matmul precision it ran at on the scan engine."""
    part = "part_a" if "c1" in settings else "part_b"
    found = {key: settings[key] for key in HYPERPARAMETERS[part]}
    if part == "part_b":
        found |= {"vocabulary_size": data.info["vocabulary_size"], "length": data.info["length"]}
    found |= {"train_size": len(data.split.y_train), "test_size": len(data.split.y_test)}
    found |= {"backend": settings["backend"], "precision": settings["precision"]}
    if part == "part_a" and settings["pixel_layout"] != plan.DEFAULT_LAYOUT:
        found["pixel_layout"] = settings["pixel_layout"]
    if settings["engine"] == "scan":
        found |= {"engine": "scan", "matmul_precision": matmul_precision}
    return found


def _fingerprint(hyperparameters: dict) -> dict:
    """What a resume state must have been made with: a run's hyper-parameters, epochs aside (more epochs resume)."""
    return {key: value for key, value in hyperparameters.items() if key != "epochs"}


# ---- the engines ----------------------------------------------------------------------


def _train_one(run: plan.Run, data: Data, code: dict, options: dict, log, sizes: str):
    """A run on the fit engine: (model, history, hyper-parameters, log)."""
    from nnstudy.train import fit

    log(f"training {run.label} {sizes}")
    settings = run.settings
    found = hyperparameters(settings, data)
    callbacks = []
    if options.get("tensorboard"):
        import keras

        if importlib.util.find_spec("tensorboard") is None:
            raise StudyError("training.tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'")
        folder = f"logs/tensorboard/{run.name}"
        # Epoch scalars only: graphs and profiles would cost time on every run.
        callbacks.append(keras.callbacks.TensorBoard(folder, write_graph=False, profile_batch=0))
        log(f"TensorBoard scalars in {folder}")
    model, history = fit.train(
        lambda: build(settings, data.info),
        data.split,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        seed=run.seed,
        state_dir=run.state_dir(options["resume_dir"]),
        fingerprint=_fingerprint(found),
        code=code,
        checkpoint_seconds=options["checkpoint_seconds"],
        callbacks=callbacks,
        log=log,
    )
    return model, history, found, log


def _train_pack(runs: list[plan.Run], data: Data, codes: dict, options: dict, log, sizes: str):
    """Part A runs on the scan engine, in one compiled program per chunk of epochs: for each run (model,
    history, hyper-parameters, its log). A pack stopped by its deadline raises scan.DeadlineReached (one line,
    "stopped at epoch N of M by the deadline; rerun to continue") with every run's state saved at one epoch."""
    from nnstudy.train import scan

    first = runs[0].settings
    precision = scan.matmul_precision(first["matmul_precision"])
    members, found = [], []
    for run in runs:
        found.append(hyperparameters(run.settings, data, precision))
        member_log = _run_log(run.log, log, run.name)
        member_log(f"training {run.label} {sizes}")
        members.append(
            scan.Member(
                run.name,
                lambda settings=run.settings: build(settings, data.info),
                run.seed,
                Path(run.state_dir(options["resume_dir"])),
                _fingerprint(found[-1]),
                member_log,
                code=codes[run.folder],
            )
        )
    deadline = deadline_time(options.get("deadline"), time.time())
    until = ""
    if deadline is not None:
        until = f", no chunk ending after {datetime.fromtimestamp(deadline).astimezone().isoformat(timespec='seconds')}"
    log(f"training {len(members)} runs as one pack in chunks of {options['chunk_epochs']} epochs, "
        f"matmul precision {precision}{until}")  # fmt: skip
    trained = scan.train_pack(
        members,
        data.split,
        epochs=first["epochs"],
        batch_size=first["batch_size"],
        chunk_epochs=options["chunk_epochs"],
        # A pack's own, or a run's when the scan engine trains it alone (outside the packs: an ablation's run)
        manifest=Path(options.get("manifest") or f"{options['resume_dir']}/{runs[0].folder}.manifest.json"),
        deadline=deadline,
        matmul_precision=first["matmul_precision"],
        log=log,
    )
    return [(model, history, hyper, member.log) for (model, history), hyper, member in zip(trained, found, members)]


def deadline_time(value, now: float) -> float | None:
    """`training.deadline` (checked by nnstudy.study.settings) as a `time.time()` value: none, minutes after
    `now`, or an ISO 8601 wall-clock time."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return now + 60.0 * value
    return datetime.fromisoformat(str(value)).timestamp()


def _run_log(path, pack_log, name: str):
    """A pack run's own log (a file, emptied at the start of the job, in the job log's format), or the pack's."""
    if path is None:
        return lambda message: pack_log(f"{name}: {message}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")

    def log(message: str) -> None:
        with path.open("a") as handle:
            handle.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")

    return log


def probe(settings: dict, inputs: dict) -> list[float]:
    """What today's code computes for a run's kind (nnstudy.train.identity): its train and test losses and the
    sum of |w| of each variable after PROBE's epochs on a few examples of the run's data, on the run's engine."""
    from nnstudy.train import fit, scan

    small = settings | PROBE | {"train_limit": 2 * settings["batch_size"] + 3}
    small |= PROBE_CHANNELS if "c1" in settings else {}
    data = load("part_a" if "c1" in settings else "part_b", small, inputs)
    quiet = lambda message: None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="nnstudy-probe-") as folder:
        found = _fingerprint(hyperparameters(small, data, small["matmul_precision"]))
        if small["engine"] == "scan":
            member = scan.Member("probe", lambda: build(small, data.info), small["seed"], Path(folder), found, quiet)
            common = {"epochs": small["epochs"], "batch_size": small["batch_size"], "chunk_epochs": small["epochs"]}
            [(model, history)] = scan.train_pack(
                [member], data.split, **common, manifest=Path(folder) / "manifest.json",
                matmul_precision=small["matmul_precision"], log=quiet,
            )  # fmt: skip
        else:
            model, history = fit.train(
                lambda: build(small, data.info), data.split, epochs=small["epochs"],
                batch_size=small["batch_size"], seed=small["seed"], state_dir=folder, fingerprint=found, log=quiet,
            )  # fmt: skip
    import keras

    losses = [entry[key] for entry in history for key in ("train_loss", "test_loss")]
    return losses + [float(np.abs(keras.ops.convert_to_numpy(v)).sum()) for v in model.trainable_variables]


# ---- outputs -------------------------------------------------------------------------


def record(run: plan.Run, model, history, found: dict, code: dict, device: dict, job_seconds: float, log) -> None:
    """Write a trained run's model, metrics.json and the two curve plots."""
    from nnstudy import plots

    Path(run.folder).mkdir(parents=True, exist_ok=True)
    faults.write_atomically(run.model_file, model.save)  # a model file is whole or absent (a full disk)
    document = {
        "run": run.name,
        "part": "A" if run.part == "part_a" else "B",
        "label": run.label,
        "seed": run.seed,
        "settings": run.settings,
        "hyperparameters": found,
        "code": code,
        "history": history,
        "summary": metrics.summarize(history),
        "parameters": model.count_params(),
        "job_seconds": job_seconds,
        "device": device,
        "versions": runtime.versions(),
    }
    metrics.write(run.metrics, document)
    for plot, path in run.curves.items():
        plots.learning_curves(history, plot, f"{run.label}: {plot}", path)
    summary = document["summary"]
    log(
        f"done: max test accuracy {summary['max_test_accuracy']:.4f} "
        f"(epoch {summary['best_epoch']}), {summary['seconds_per_epoch']:.2f} s/epoch"
    )
