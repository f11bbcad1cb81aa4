"""The per-run metrics document and its summary numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from nnstudy import faults
from nnstudy.errors import StudyError

# What every reader of a metrics.json relies on.
REQUIRED = ("run", "hyperparameters", "history", "summary")


def summarize(history: list[dict]) -> dict:
    """Final / max / mean test accuracy and the (1-based) epoch of the best."""
    accuracy = np.array([entry["test_accuracy"] for entry in history])
    seconds = np.array([entry["seconds"] for entry in history])
    best = int(np.argmax(accuracy))
    summary = {
        "final_test_accuracy": float(accuracy[-1]),
        "max_test_accuracy": float(accuracy[best]),
        "mean_test_accuracy": float(accuracy.mean()),
        "best_epoch": history[best]["epoch"],
        "final_train_loss": float(history[-1]["train_loss"]),
        "final_test_loss": float(history[-1]["test_loss"]),
        "train_seconds": float(seconds.sum()),
        "seconds_per_epoch": float(seconds.mean()),
    }
    if "clip_rate" in history[-1]:  # a clipping run: the share of all its updates (equal per epoch) the clip acted on
        summary["clip_rate"] = float(np.mean([entry.get("clip_rate", np.nan) for entry in history]))
    return summary


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
    """A run's metrics document (see read_all)."""
    return read_all([path])[0]


def read_all(paths) -> list[dict]:
    """The metrics documents of `paths`, or a StudyError naming every damaged one (cut short
    by a crash or a bad copy, or no metrics document) and the command that writes them anew:
    a finished run keeps its final resume state, so its job rewrites them in seconds."""
    documents, damaged = [], {}
    for path in paths:
        try:
            documents.append(json.loads(Path(path).read_text()))
            lacking = [key for key in REQUIRED if key not in documents[-1]]
            if lacking:
                damaged[str(path)] = f"no {', '.join(lacking)}"
        except (OSError, ValueError, TypeError) as err:  # TypeError: JSON that is no object
            damaged[str(path)] = str(err)
    if damaged:
        problems = "; ".join(f"{path}: {problem}" for path, problem in damaged.items())
        raise StudyError(
            f"damaged metrics ({problems}); to write them anew, run the study's snakemake command "
            f"with --forcerun {' '.join(damaged)}"
        )
    return documents
