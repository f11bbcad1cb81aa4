"""Packs of runs trained in one compiled JAX program, a chunk of epochs at a time.

`fit.fit` trains one run per `model.fit`, and Keras dispatches every
step from Python: on a GPU that costs about 2 ms a step, most of a small
CNN's epoch. Here a *pack* of runs (Part A's 25 grid pairs, say, each its
own shape) trains in one `jax.jit` program per chunk of epochs: a `lax.scan`
over the chunk's epochs; in each epoch a `lax.scan` over the full batches of
all runs together, then the remainder batch, then the test set. The data
stay on the device; only the batch orders and the history travel.

Every step is Keras' own `model.train_step` (`model.test_step` for the test
set): the pure functions that `fit` compiles on JAX. So a run trains as it
would in `fit`:

- the model is built right after `keras.utils.set_random_seed(seed)`, as
  `fit` builds it, so it starts from the same weights;
- epoch `e` takes its batches in the order `fit.epoch_order(seed, e)`
  (what `EpochBatches` draws), full batches first and the remainder last;
  the host draws a chunk's orders and the device gathers the batches;
- each epoch starts by reseeding dropout as `fit._reseed` does;
- train loss and accuracy are Keras' own trackers over the epoch's batches
  (the loss weighted by batch size), test loss and accuracy those of
  `evaluate` in batches of `fit.EVALUATION_BATCH_SIZE`, as `fit`
  reports them for `validation_data`.

A history entry's `seconds` is its chunk's wall time split among its epochs, shared by the pack's runs.
Resume state: each run keeps `fit.ResumeState`'s layout (a model file
and `history.json`), which `nnstudy status` reads. At each chunk boundary
every run saves, then the pack's manifest, written last and atomically,
names each run's epoch and model file; a model file is deleted only once
the next manifest is written, so a pack killed while saving resumes from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnstudy import faults, metrics
from nnstudy.errors import StudyError
from nnstudy.train import fit
from nnstudy.train.state import ResumeState

# The config's names for the precision of float32 matrix products and
# convolutions, and JAX's. On recent NVIDIA GPUs JAX's default is TF32.
MATMUL_PRECISIONS = {"float32": "float32", "tf32": "tensorfloat32"}


class DeadlineReached(StudyError):
    """The pack stopped at a chunk boundary before its deadline; its resume state is saved."""

    def __init__(self, epoch: int, epochs: int):
        super().__init__(f"stopped at epoch {epoch} of {epochs} by the deadline; rerun to continue")
        self.epoch, self.epochs = epoch, epochs


@dataclass
class Member:
    """One run of a pack: what `fit.fit` takes for a run beside the pack's shared settings."""

    name: str
    build: Callable  # returns a compiled model; called for a fresh start only
    seed: int
    state_dir: Path
    fingerprint: dict  # JSON-able settings of the run, epochs aside
    log: Callable[[str], None] = print
    code: dict | None = None  # nnstudy.train.identity.current
    # Set by train_pack:
    state: ResumeState | None = None
    model: object = None
    history: list[dict] = field(default_factory=list)
    model_file: str | None = None
    values: tuple | None = None  # (trainable, non-trainable, optimizer, metrics) arrays


def matmul_precision(requested: str) -> str:
    """What float32 matrix products and convolutions run in here: "tf32" only on a GPU that has it."""
    import jax

    if requested not in MATMUL_PRECISIONS:
        raise StudyError(f"matmul precision {requested!r}: choose one of {sorted(MATMUL_PRECISIONS)}")
    device = jax.devices()[0]
    has_tf32 = device.platform == "gpu" and float(getattr(device, "compute_capability", 0)) >= 8
    return "tf32" if requested == "tf32" and has_tf32 else "float32"


def chunk_orders(seed: int, first: int, count: int, size: int) -> np.ndarray:
    """The batch orders of epochs first … first + count - 1, one row each."""
    return np.stack([fit.epoch_order(seed, e, size) for e in range(first, first + count)]).astype(np.int32)


def batch_rows(order, batch_size: int) -> tuple:
    """An epoch's order as its full batches (steps × batch_size) and the remainder, as EpochBatches yields them."""
    steps = len(order) // batch_size
    return order[: steps * batch_size].reshape(steps, batch_size), order[steps * batch_size :]


def _chunk_seeds(model, seed: int, first: int, count: int) -> list[np.ndarray]:
    """Per seed-generator state, its value at the start of each epoch of the chunk (count × 2)."""
    states = fit.seed_generator_states(model)
    per_epoch = [fit.seed_state_values(states, fit.epoch_seed(seed, e)) for e in range(first, first + count)]
    return [np.stack([values[index] for values in per_epoch]) for index in range(len(states))]


def _variables(model) -> tuple:
    """The model's state as the JAX trainer's steps take it: trainable, non-trainable, optimizer, metrics."""
    return model.trainable_variables, model.non_trainable_variables, model.optimizer.variables, model.metrics_variables


def _assign(model, values) -> None:
    for variables, arrays in zip(_variables(model)[:3], values):  # metrics restart every epoch
        for variable, array in zip(variables, arrays):
            variable.assign(array)


def _metrics(model, values) -> dict:
    """The model's metric results ({"loss": …, "accuracy": …}) for its metric variables' `values`."""
    import keras

    with keras.StatelessScope(state_mapping=list(zip(model.metrics_variables, values))):
        return model.get_metrics_result()


def _pack_program(models: list, train_size: int, test_size: int, batch_size: int):
    """chunk(states, orders, seeds, data) → (states, logs): the models' epochs of one chunk."""
    import jax
    from jax import lax

    evaluation = fit.EVALUATION_BATCH_SIZE
    fresh = [[v.value for v in model.metrics_variables] for model in models]  # after reset_metrics()
    seed_positions = []
    for model in models:
        states = fit.seed_generator_states(model)
        seed_positions.append([i for i, v in enumerate(model.non_trainable_variables) if any(v is s for s in states)])

    def chunk(states, orders, seeds, data):
        x_train, y_train, x_test, y_test = data

        def train_step(model, state, rows):
            return model.train_step(state, (x_train[rows], y_train[rows]))[1]

        def reseeded(state, positions, values, reset):
            trainable, non_trainable, optimizer, _ = state
            non_trainable = list(non_trainable)
            for position, value in zip(positions, values):
                non_trainable[position] = value
            return trainable, non_trainable, optimizer, reset

        def pack_step(states, rows):
            return [train_step(m, state, r) for m, state, r in zip(models, states, rows)], None

        def epoch(states, inputs):
            orders, seeds = inputs
            states = [reseeded(*args) for args in zip(states, seed_positions, seeds, fresh)]
            rows = [batch_rows(order, batch_size) for order in orders]
            states, _ = lax.scan(pack_step, states, [full for full, _ in rows])
            if train_size % batch_size:
                states = [train_step(m, state, rest) for m, state, (_, rest) in zip(models, states, rows)]
            ends, logs = [], []
            for model, (trainable, non_trainable, optimizer, tracked), reset in zip(models, states, fresh):
                test_state = (trainable, non_trainable, reset)
                for start in range(0, test_size, evaluation):
                    batch = (x_test[start : start + evaluation], y_test[start : start + evaluation])
                    test_state = model.test_step(test_state, batch)[1]
                test = _metrics(model, test_state[2])
                logs.append(_metrics(model, tracked) | {f"val_{name}": value for name, value in test.items()})
                ends.append((trainable, test_state[1], optimizer, test_state[2]))
            return ends, logs

        return lax.scan(epoch, states, (orders, seeds))

    return jax.jit(chunk)


def _checkpoint(trained: list[Member], members: list[Member], manifest: Path) -> None:
    """The state of every member just trained, then the manifest naming all, then old model files go."""
    for member in trained:
        _assign(member.model, member.values)
        member.model_file = member.state.write(member.model, member.history)
    entries = {m.name: {"epoch": len(m.history), "model_file": m.model_file} for m in members if m.model_file}
    manifest.parent.mkdir(parents=True, exist_ok=True)
    faults.write_atomically(manifest, lambda partial: partial.write_text(json.dumps({"members": entries})))
    for member in trained:
        member.state.prune(member.model_file)


def _start(members: list[Member], data: fit.Split, epochs: int, manifest: Path) -> None:
    """Each member resumed from the manifest (a member it does not name saved after the pack's last complete
    checkpoint: it starts afresh) or built afresh, ready for the stateless steps."""
    import keras

    try:
        saved = json.loads(manifest.read_text())["members"]
    except (OSError, ValueError, KeyError, TypeError):
        saved = {}
    digest = data.digest()
    for member in members:
        member.state = ResumeState(member.state_dir, member.fingerprint | {"data": digest}, member.code)
        entry = saved.get(member.name)
        if entry is None:
            member.model, member.history = member.state.discard("no pack manifest names it", member.log)
        else:
            member.model, member.history = member.state.load(epochs, member.log, at=entry)
        member.model_file = entry["model_file"] if member.model is not None else None
        if member.model is None:
            keras.utils.set_random_seed(member.seed)
            member.model = member.build()
        # Builds the compiled loss, metrics and optimizer, as fit does before its first step.
        member.model._symbolic_build(data_batch=(data.x_train[:1], data.y_train[:1]))
        member.model.reset_metrics()


def train_pack(
    members: list[Member],
    data: fit.Split,
    *,
    epochs: int,
    batch_size: int,
    chunk_epochs: int,
    manifest: Path,
    deadline: float | None = None,
    matmul_precision: str = "float32",
    log=print,
) -> list[tuple]:
    """Train every member for `epochs` on `data`, resuming from the last complete pack checkpoint.

    Members train together in chunks of `chunk_epochs`, saving after each. `deadline` (a `time.time()`
    value): no chunk starts that the last one's pace says would end after it; the pack then raises
    `DeadlineReached`, its state saved. Returns (model, history) per member.
    """
    import jax

    manifest = Path(manifest)
    _start(members, data, epochs, manifest)
    arrays = jax.device_put((data.x_train, data.y_train, data.x_test, data.y_test))
    programs, pace = {}, 0.0
    # A stop signal (SLURM, Ctrl-C) waits for the running chunk and its checkpoint.
    with jax.default_matmul_precision(MATMUL_PRECISIONS[matmul_precision]), faults.stop_requests() as stop:
        while active := [m for m in members if len(m.history) < epochs]:
            first = [len(m.history) for m in active]
            length = min(chunk_epochs, epochs - max(first))
            if deadline is not None and time.time() + pace * length > deadline:
                raise DeadlineReached(min(first), epochs)
            orders = [chunk_orders(m.seed, e, length, len(data.y_train)) for m, e in zip(active, first)]
            seeds = [_chunk_seeds(m.model, m.seed, e, length) for m, e in zip(active, first)]
            states = [m.values or tuple([v.value for v in vs] for vs in _variables(m.model)) for m in active]
            key = (tuple(m.name for m in active), length)
            if key not in programs:
                started = time.perf_counter()
                program = _pack_program([m.model for m in active], len(data.y_train), len(data.y_test), batch_size)
                programs[key] = program.lower(states, orders, seeds, arrays).compile()
                log(f"compiled {length} epochs of {len(active)} runs in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            states, logs = programs[key](states, orders, seeds, arrays)
            logs = jax.device_get(logs)
            seconds = (time.perf_counter() - started) / length
            for member, start, values, member_logs in zip(active, first, states, logs):
                member.values = values
                for index in range(length):
                    entry = fit.history_entry(start + index, {k: v[index] for k, v in member_logs.items()}, seconds)
                    member.history.append(entry)
                    member.log(metrics.epoch_line(entry, epochs))
            _checkpoint(active, members, manifest)
            if stop:
                raise faults.Stopped(stop.signum, f"after epoch {min(first) + length}; the state is saved")
            pace = (time.perf_counter() - started) / length
            log(f"epochs {min(first) + 1}–{min(first) + length} of {len(active)} runs: {seconds:.3f} s/epoch")
    return [(m.model, m.history) for m in members]
