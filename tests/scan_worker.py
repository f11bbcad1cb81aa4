"""Runs training jobs for tests/test_scan*.py in a process of its own, on Keras' JAX backend.

    KERAS_BACKEND=jax python tests/scan_worker.py PLAN.json

PLAN.json is a list of jobs; each trains tiny CNNs on generated CIFAR-shaped
data (88 training images: 5 batches of 16 and a remainder of 8; 40 test
images: evaluation batches of 24 and 16) and writes `<output>.json` (the
histories, and the error of a pack stopped by its deadline) and
`<output>.npz` (the final weights, `<member>/<index>`):

    {"engine": "fit" | "scan", "runs": [[c1, c2, optimizer, dropout, seed], ...],
     "directory": resume states, "epochs": N, "chunk": C, "deadline": "past" | null,
     "after": a file to wait for first | null, "output": path without suffix}

A scan job trains its runs as one pack; a fit job trains each with `fit.train`;
a pack job runs the workflow's training job, `nnstudy.train.job.train`, on
CIFAR-10 files made of the same data, and writes the runs' metrics documents.
"""

import json
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from nnstudy.study import plan
from nnstudy.train import fit, models, scan
from nnstudy.train import job as train_job

BATCH_SIZE = 16
# Two evaluation batches from 40 test images, as the paper's 1,024 and 976 from 2,000.
fit.EVALUATION_BATCH_SIZE = 24


def split() -> fit.Split:
    rng = np.random.default_rng(0)
    x = rng.random((128, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, size=128)
    return fit.Split(x[:88], y[:88], x[88:], y[88:])


def builder(c1, c2, optimizer, dropout):
    def build():
        return fit.compile_model(models.cifar_cnn(c1, c2, dropout), models.optimizer(optimizer, 0.001, 0.1))

    return build


def name(run) -> str:
    return "_".join(str(part) for part in run)


def train(job: dict) -> dict:
    """{member name: (model, history)}, or the deadline's message."""
    directory, data = Path(job["directory"]), split()

    def log(message):
        print(message, flush=True)

    if job["engine"] == "fit":
        trained = {}
        for run in job["runs"]:
            *settings, seed = run
            trained[name(run)] = fit.train(
                builder(*settings),
                data,
                epochs=job["epochs"],
                batch_size=BATCH_SIZE,
                seed=seed,
                state_dir=directory / name(run),
                fingerprint={"run": name(run)},
                log=lambda message: None,
            )
        return trained
    members = [
        scan.Member(name(run), builder(*run[:4]), run[4], directory / name(run), {"run": name(run)}, log=log)
        for run in job["runs"]
    ]
    deadline = time.time() - 1 if job.get("deadline") == "past" else None
    results = scan.train_pack(
        members,
        data,
        epochs=job["epochs"],
        batch_size=BATCH_SIZE,
        chunk_epochs=job["chunk"],
        manifest=directory / "pack.json",
        deadline=deadline,
        log=log,
    )
    return {member.name: result for member, result in zip(members, results)}


def workflow_pack(job: dict) -> dict:
    """{run: its metrics.json} after the workflow's training job trained `job["runs"]` as a scan pack, in
    `job["directory"]` as in a workflow's folder."""
    directory, data = Path(job["directory"]), split()
    directory.mkdir(parents=True, exist_ok=True)
    os.chdir(directory)
    for part, (x, y) in {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}.items():
        pixels = np.round(x * 255).astype(np.uint8).transpose(0, 3, 1, 2).reshape(len(x), -1)
        Path(part).write_bytes(pickle.dumps({b"data": pixels, b"labels": y.tolist()}))
    # As the scan jobs before: the same XLA flags and matmul precision, so the
    # compiled program of "straight" (the same models) is reused.
    shared = {"epochs": job["epochs"], "batch_size": BATCH_SIZE, "learning_rate": 0.001, "train_limit": None}
    shared |= {"test_limit": None, "deterministic": False, "backend": "jax", "precision": "float32"}
    shared |= {"engine": "scan", "matmul_precision": "float32", "pixel_layout": "images"}
    runs = []
    for c1, c2, optimizer, dropout, seed in job["runs"]:
        named = {"c1": c1, "c2": c2, "optimizer": optimizer, "dropout": dropout, "seed": seed}
        named["momentum"] = 0.1 if optimizer == "momentum" else None
        runs.append({"folder": plan.part_a_run(c1, c2, optimizer, dropout, seed=seed), "settings": shared | named})
    options = {"threads": 2, "checkpoint_seconds": 60, "tensorboard": False, "resume_dir": "resume", "gpu": None}
    options |= {"chunk_epochs": job["chunk"], "deadline": None, "manifest": "resume/pack.json"}
    train_job.train(runs=runs, inputs={"train": "train", "test": "test"}, options=options, log=print)
    return {Path(run["folder"]).name: json.loads(Path(run["folder"], "metrics.json").read_text()) for run in runs}


def main(plan: Path) -> None:
    for job in json.loads(plan.read_text()):
        output = Path(job["output"])
        while job.get("after") and not Path(job["after"]).exists():
            time.sleep(0.1)
        print(f"job {output.name} starts at {time.perf_counter():.1f} s", flush=True)
        if job["engine"] == "pack":
            output.with_suffix(".json").write_text(json.dumps({"documents": workflow_pack(job)}))
            continue
        try:
            trained = train(job)
        except scan.DeadlineReached as stop:
            output.with_suffix(".json").write_text(json.dumps({"error": str(stop), "epoch": stop.epoch}))
            continue
        histories = {member: history for member, (_, history) in trained.items()}
        output.with_suffix(".json").write_text(json.dumps({"histories": histories}))
        weights = {
            f"{member}/{index}": variable.numpy()
            for member, (model, _) in trained.items()
            for index, variable in enumerate(model.trainable_variables)
        }
        np.savez(output.with_suffix(".npz"), **weights)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
