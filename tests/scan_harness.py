"""Helpers of tests/test_scan*.py: the jobs of tests/scan_worker.py, run in a JAX process.

Keras fixes its backend when it is first imported, and this test suite runs
on TensorFlow (its modules import keras as pytest collects them), while the
packed engine needs JAX. So the tests of nnstudy.train.scan train in processes of
their own with KERAS_BACKEND=jax (tests/scan_worker.py). One worker process
runs all the jobs of a test module, so its imports and compilations are
paid once; a test that kills a worker kills a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("scan_worker.py")


def job(name: str, engine: str, runs: list, directory: Path, epochs: int, chunk: int = 1, **extra) -> dict:
    return {"engine": engine, "runs": runs, "directory": str(directory), "epochs": epochs, "chunk": chunk} | {
        "output": str(directory.parent / name),
        **extra,
    }


def worker(plan: Path, jobs: list[dict], **popen) -> subprocess.Popen:
    """A worker process running `jobs` on JAX's CPU backend, with this checkout's nnstudy first.

    Compiling is most of a worker's time, so workers compile with LLVM's
    optimisation level 1 (a quarter of the default's compile time, a third
    more run time) and share a compilation cache beside `plan`: a program
    that one job compiled, a later job with the same models reuses (XLA
    compiles deterministically: compiling again would give the same program).
    What the tests compare, they compare under the same settings.
    """
    plan.write_text(json.dumps(jobs))
    env = os.environ | {
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "JAX_COMPILATION_CACHE_DIR": str(plan.parent / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "XLA_FLAGS": "--xla_backend_optimization_level=1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(WORKER), str(plan)], env=env, text=True, **popen)


def start(plan: Path, jobs: list[dict]) -> subprocess.Popen:
    """A worker running `jobs`, its output (its runs' log lines and errors) kept for `finish`."""
    return worker(plan, jobs, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen) -> str:
    """The output of a worker that ran to its end."""
    output, _ = process.communicate(timeout=600)
    if process.returncode != 0:
        raise AssertionError(f"scan worker failed:\n{output[-5000:]}")
    return output


def result(path: Path) -> dict:
    """A job's output: {"histories": …, "weights": {member: [arrays]}} or {"error": …, "epoch": …}."""
    document = json.loads(path.with_suffix(".json").read_text())
    if "histories" in document:
        weights = {}
        with np.load(path.with_suffix(".npz")) as arrays:
            for key in sorted(arrays.files, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
                weights.setdefault(key.rsplit("/", 1)[0], []).append(arrays[key])
        document["weights"] = weights
    return document


def curves(history: list[dict]) -> np.ndarray:
    """A history's numbers (epoch, losses, accuracies), its seconds aside."""
    keys = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy")
    return np.array([[entry[key] for key in keys] for entry in history])
