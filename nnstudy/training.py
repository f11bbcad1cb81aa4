"""Resumable, reproducible training with a per-epoch history.

Every epoch starts from a seed derived from (run seed, epoch) and shuffles
with it, so a run that is killed and resumed from its last completed epoch
follows the same path as one that never stopped.  The resume state (model,
optimizer, history) lives outside the job's declared outputs, which Snakemake
deletes when a job fails.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

HISTORY_KEYS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def compile_model(model: keras.Model, optimizer) -> keras.Model:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


class ResumeState:
    """Model + optimizer + history after the last completed epoch.

    The model file is written first and the history last, each atomically,
    so the history always names a model file that exists in full.
    """

    def __init__(self, directory: Path, fingerprint: dict):
        self.directory = Path(directory)
        self.history_file = self.directory / "history.json"
        self.fingerprint = fingerprint

    def load(self, epochs: int, log=print):
        """(model, history), or (None, []) when there is nothing to resume.

        A state saved under other settings (data, model, optimizer, seed) or
        past the requested epochs is discarded rather than resumed.
        """
        if not self.history_file.is_file():
            return None, []
        saved = json.loads(self.history_file.read_text())
        if saved.get("fingerprint") != self.fingerprint or len(saved["history"]) > epochs:
            log(f"discarding resume state in {self.directory}: settings changed")
            self.clear()
            return None, []
        model = keras.models.load_model(self.directory / saved["model_file"])
        return model, saved["history"]

    def save(self, model: keras.Model, history: list[dict]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        model_file = f"epoch-{len(history):05d}.keras"
        partial = self.directory / f"{model_file}.part.keras"
        model.save(partial)
        os.replace(partial, self.directory / model_file)
        _write_json_atomically(
            self.history_file,
            {"fingerprint": self.fingerprint, "model_file": model_file, "history": history},
        )
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != model_file:
                old.unlink()

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _write_json_atomically(path: Path, payload) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(payload))
    os.replace(partial, path)


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] >> 1)


def _reseed(model: keras.Model, seed: int) -> None:
    """Seed the global RNGs and the model's own (dropout) seed generators.

    Keras does not save seed-generator state with a model, so a resumed run
    would draw other dropout masks unless every epoch sets them afresh.
    """
    keras.utils.set_random_seed(seed)
    states = [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]
    for index, state in enumerate(states):
        state.assign(np.array([(seed + index) % 2**31, 0], dtype=state.dtype))


def fit(
    build,
    data: Split,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    state_dir: Path,
    fingerprint: dict,
    log=print,
) -> tuple[keras.Model, list[dict]]:
    """Train for `epochs`, resuming from `state_dir` when it holds a state.

    `build()` returns a compiled model; it is only called for a fresh start.
    `fingerprint` (JSON-able settings of the run, epochs aside) guards
    against resuming a state saved under other settings.  Returns the
    trained model and one history entry per epoch.
    """
    state = ResumeState(state_dir, fingerprint)
    model, history = state.load(epochs, log)
    if model is None:
        keras.utils.set_random_seed(seed)
        model = build()
    else:
        log(f"resuming after epoch {len(history)} of {epochs} from {state_dir}")
    for epoch in range(len(history), epochs):
        _reseed(model, epoch_seed(seed, epoch))
        order = np.random.default_rng([seed, epoch]).permutation(len(data.y_train))
        started = time.perf_counter()
        result = model.fit(
            data.x_train[order],
            data.y_train[order],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            validation_data=(data.x_test, data.y_test),
            verbose=0,
        ).history
        seconds = time.perf_counter() - started
        entry = {
            "epoch": epoch + 1,
            "train_loss": result["loss"][0],
            "train_accuracy": result["accuracy"][0],
            "test_loss": result["val_loss"][0],
            "test_accuracy": result["val_accuracy"][0],
            "seconds": seconds,
        }
        history.append(entry)
        state.save(model, history)
        log(
            f"epoch {epoch + 1}/{epochs}  train loss {entry['train_loss']:.4f}  "
            f"acc {entry['train_accuracy']:.4f}  test loss {entry['test_loss']:.4f}  "
            f"acc {entry['test_accuracy']:.4f}  ({seconds:.1f} s)"
        )
    return model, history
