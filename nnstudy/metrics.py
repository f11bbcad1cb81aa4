"""The per-run metrics document and its summary numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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


def write(path: Path, document: dict) -> None:
    Path(path).write_text(json.dumps(document, indent=1) + "\n")


def read(path: Path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StudyError(f"{path}: unreadable metrics ({err})") from None
    for key in ("run", "hyperparameters", "history", "summary"):
        if key not in document:
            raise StudyError(f"{path}: metrics lack {key!r}")
    return document
