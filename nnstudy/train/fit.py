"""Resumable, reproducible training with a per-epoch history.

A run is one `model.fit` over all its epochs.  Each epoch starts from a seed
derived from (run seed, epoch) and draws its batch order from it, so a run
that is killed and resumed from its last checkpoint follows the same path as
one that never stopped.  The resume state (model, optimizer, history) is
written on a time cadence and at the end, outside the job's declared outputs,
which Snakemake deletes when a job fails. A stop signal (SIGTERM, SIGINT)
abandons the running epoch and saves the finished ones (nnstudy.faults).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from nnstudy import faults, metrics
from nnstudy.train import models
from nnstudy.train.state import ResumeState

# Evaluating the test set in large batches costs less per image; the metrics
# are sample-weighted means, so the batch size does not change them.
EVALUATION_BATCH_SIZE = 1024


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def digest(self) -> str:
        """SHA-256 of the four arrays: a resume state is only valid for the data it trained on."""
        sha = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            sha.update(str((array.dtype, array.shape)).encode())
            sha.update(np.ascontiguousarray(array).tobytes())
        return sha.hexdigest()


def compile_model(model: keras.Model, optimizer) -> keras.Model:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] >> 1)


def _reseed(model: keras.Model, seed: int) -> None:
    """Seed the model's own (dropout) seed generators.

    Keras does not save seed-generator state with a model, so a resumed run
    would draw other dropout masks unless every epoch sets them afresh.
    (The global RNGs are seeded once per `fit`: nothing in an epoch draws
    from them, and `keras.utils.set_random_seed` costs a quarter of a
    second on TensorFlow.)
    """
    states = seed_generator_states(model)
    for state, value in zip(states, seed_state_values(states, seed)):
        state.assign(value)


def seed_generator_states(model: keras.Model) -> list:
    """The model's own seed-generator state variables, in a fixed order."""
    return [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]


def seed_state_values(states: list, seed: int) -> list[np.ndarray]:
    """The values an epoch with `seed` starts `states` from."""
    return [np.array([(seed + index) % 2**31, 0], dtype=state.dtype) for index, state in enumerate(states)]


class EpochBatches(keras.utils.PyDataset):
    """Training mini-batches in an order drawn from (run seed, epoch).

    Keras' own shuffling draws from an RNG that lives as long as the `fit`
    call, so a resumed run would see other batches; here the order of epoch
    `e` depends on nothing but the seed and `e`.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.order = np.arange(len(y))

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def shuffle_for(self, epoch: int) -> None:
        self.order = epoch_order(self.seed, epoch, len(self.y))


def epoch_order(seed: int, epoch: int, size: int) -> np.ndarray:
    """The order of the `size` training examples in `epoch` (0-based) of a run with `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(size)


def history_entry(epoch: int, logs: dict, seconds: float) -> dict:
    """One epoch (0-based) of a run's history, from Keras' fit logs (`val_` for the test set)."""
    return {
        "epoch": epoch + 1,
        "train_loss": float(logs["loss"]),
        "train_accuracy": float(logs["accuracy"]),
        "test_loss": float(logs["val_loss"]),
        "test_accuracy": float(logs["val_accuracy"]),
        "seconds": seconds,
    }


def clip_counts(optimizer) -> tuple[int, int] | None:
    """(updates its clip acted on, updates) of a clipping optimizer (nnstudy.train.models.ClipCounting), else None."""
    if not isinstance(optimizer, models.ClipCounting):
        return None
    updates = int(keras.ops.convert_to_numpy(optimizer.iterations))
    if not optimizer.built:  # TensorFlow builds an optimizer at its first update
        return 0, updates
    return int(keras.ops.convert_to_numpy(optimizer.clipped_updates)), updates


class EpochBookkeeping(keras.callbacks.Callback):
    """Per-epoch seeding before, history, log line and checkpoint after; a stop request between steps."""

    def __init__(self, batches, seed, state, history, epochs, checkpoint_seconds, log, stop):
        super().__init__()
        self.batches, self.seed, self.state = batches, seed, state
        self.history, self.epochs = history, epochs
        self.checkpoint_seconds, self.log, self.stop = checkpoint_seconds, log, stop
        self.last_checkpoint = time.monotonic()
        self.saved, self.finished = len(history), None  # epochs in the state on disk; the last epoch's values

    def on_train_batch_begin(self, batch, logs=None):
        """Stop requested: abandon the running epoch, save the finished ones (fit's ending must fit
        SLURM's grace period; an epoch at paper settings may take 20 s on a CPU, a step a fraction of one)."""
        if not self.stop:
            return
        model = self.model  # on JAX, reading it brings the running epoch's values in: restore after
        if len(self.history) > self.saved:
            for variable, value in zip(_state_variables(model), self.finished):
                variable.assign(value)
            self.state.save(model, self.history)
        done = len(self.history)
        raise faults.Stopped(self.stop.signum, f"after epoch {done}; the state is saved" if done else "in epoch 1")

    def on_epoch_begin(self, epoch, logs=None):
        _reseed(self.model, epoch_seed(self.seed, epoch))
        self.batches.shuffle_for(epoch)
        self.clips_before = clip_counts(self.model.optimizer)
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        entry = history_entry(epoch, logs, time.perf_counter() - self.started)
        if self.clips_before is not None:  # the share of the epoch's updates that the clip acted on
            (clipped, updates), (clipped_before, updates_before) = clip_counts(self.model.optimizer), self.clips_before
            entry["clip_rate"] = (clipped - clipped_before) / max(updates - updates_before, 1)
        self.history.append(entry)
        self.log(metrics.epoch_line(entry, self.epochs))
        due = time.monotonic() - self.last_checkpoint >= self.checkpoint_seconds
        if due or epoch + 1 == self.epochs:
            self.state.save(self.model, self.history)
            self.saved, self.last_checkpoint = len(self.history), time.monotonic()
        else:  # kept in memory for a stop in the next epoch (copying even the largest model takes 2 ms)
            self.finished = [keras.ops.copy(variable) for variable in _state_variables(self.model)]


def _state_variables(model: keras.Model) -> list:
    """What a resume state saves: the model's variables and the optimizer's."""
    return [*model.variables, *model.optimizer.variables]


def train(
    build,
    data: Split,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    state_dir: Path,
    fingerprint: dict,
    code: dict | None = None,
    checkpoint_seconds: float = 60.0,
    callbacks: tuple[keras.callbacks.Callback, ...] = (),
    log=print,
) -> tuple[keras.Model, list[dict]]:
    """Train for `epochs`, resuming from `state_dir` when it holds a state; (model, one entry per epoch).

    `build()` returns a compiled model (for a fresh start only). `fingerprint` (JSON-able settings, epochs
    aside) and `code` (nnstudy.train.identity) guard against resuming a state of other settings or code. The state
    is saved when `checkpoint_seconds` have passed since the last save and after the last epoch: a killed run
    loses at most that, a run stopped by SIGTERM or SIGINT none of its finished epochs (it raises
    nnstudy.faults.Stopped). `callbacks` run after the bookkeeping (which has the epoch's history).
    """
    state = ResumeState(state_dir, fingerprint | {"data": data.digest()}, code)
    model, history = state.load(epochs, log)
    keras.utils.set_random_seed(seed)
    if model is None:
        model = build()
    batches = EpochBatches(data.x_train, data.y_train, batch_size, seed)
    with faults.stop_requests() as stop:
        bookkeeping = EpochBookkeeping(batches, seed, state, history, epochs, checkpoint_seconds, log, stop)
        model.fit(
            batches,
            initial_epoch=len(history),
            epochs=epochs,
            shuffle=False,  # the batches' order is EpochBatches' own
            validation_data=(data.x_test, data.y_test),
            validation_batch_size=EVALUATION_BATCH_SIZE,
            callbacks=[bookkeeping, *callbacks],
            verbose=0,
        )
    return model, history
