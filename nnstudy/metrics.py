"""The per-run metrics document and its summary numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from nnstudy import faults
from nnstudy.errors import StudyError


def summarize(history: list[dict]) -> dict:
    """Final / max / mean test accuracy and the (1-based) epoch of the best."""
    accuracy = np.array([entry["test_accuracy"] for entry in history])
    seconds = np.array([entry["seconds"] for entry in history])
    best = int(np.argmax(accuracy))
    return {
        "final_test_accuracy": float(accuracy[-1]),
        "max_test_accuracy": float(accuracy[best]),
        "mean_test_accuracy": float(accuracy.mean()),
        "best_epoch": history[best]["epoch"],
        "final_train_loss": float(history[-1]["train_loss"]),
        "final_test_loss": float(history[-1]["test_loss"]),
        "train_seconds": float(seconds.sum()),
        "seconds_per_epoch": float(seconds.mean()),
    }


# A training log's line per epoch: written by the training engine, read back by `nnstudy status`.
EPOCH_LINE = (
    "epoch {epoch}/{epochs}  train loss {train_loss:.4f}  acc {train_accuracy:.4f}  "
    "test loss {test_loss:.4f}  acc {test_accuracy:.4f}  ({seconds:.2f} s)"
)
_EPOCH_LINE = re.compile(
    r"epoch (?P<epoch>\d+)/(?P<epochs>\d+)  train loss \S+  acc \S+  "
    r"test loss \S+  acc (?P<test_accuracy>\S+)  \((?P<seconds>\S+) s\)"
)


def epoch_line(entry: dict, epochs: int) -> str:
    """The log line of one history entry."""
    return EPOCH_LINE.format(epochs=epochs, **entry)


def logged_epochs(log_text: str) -> list[dict]:
    """The epochs a training log reports: epoch, test accuracy and seconds of each line."""
    return [
        {"epoch": int(m["epoch"]), "test_accuracy": float(m["test_accuracy"]), "seconds": float(m["seconds"])}
        for m in _EPOCH_LINE.finditer(log_text)
    ]


def write(path: Path, document: dict) -> None:
    """Atomically (nnstudy.faults): a reader never sees a metrics.json cut short."""
    faults.write_atomically(path, lambda partial: partial.write_text(json.dumps(document, indent=1) + "\n"))


def read(path: Path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StudyError(f"{path}: unreadable metrics ({err})") from None
    for key in ("run", "hyperparameters", "history", "summary"):
        if key not in document:
            raise StudyError(f"{path}: metrics lack {key!r}")
    return document
