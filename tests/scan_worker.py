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

A scan job trains its runs as one pack; a fit job trains each with `fit.fit`;
a pack job runs the workflow's job function, `pack_job.train_cifar_pack`, on
CIFAR-10 files made of the same data, and writes the runs' metrics documents.
"""

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from nnstudy.train import fit, models, pack_job, scan

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
    """{run: its metrics.json} after the workflow's pack job trained `job["runs"]`."""
    directory, data = Path(job["directory"]), split()
    directory.mkdir(parents=True, exist_ok=True)
    for part, (x, y) in {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test)}.items():
        pixels = np.round(x * 255).astype(np.uint8).transpose(0, 3, 1, 2).reshape(len(x), -1)
        (directory / part).write_bytes(pickle.dumps({b"data": pixels, b"labels": y.tolist()}))
    # As the scan jobs before: the same XLA flags and matmul precision, so the
    # compiled program of "straight" (the same models) is reused.
    shared = {"epochs": job["epochs"], "batch_size": BATCH_SIZE, "learning_rate": 0.001, "momentum": 0.1}
    shared |= {
        "train_limit": None,
        "test_limit": None,
        "deterministic": False,
        "backend": "jax",
        "pixel_layout": "images",
    }
    shared |= {"precision": "float32", "matmul_precision": "float32"}
    settings = {"threads": 2, "chunk_epochs": job["chunk"], "deadline": None}
    runs = []
    for c1, c2, optimizer, dropout, seed in job["runs"]:
        folder = directory / "results" / name([c1, c2, optimizer, dropout, seed])
        folder.mkdir(parents=True)
        files = {"metrics": "metrics.json", "model": "model.keras"} | {p: f"{p}.png" for p in ("costs", "accuracies")}
        run = {"c1": c1, "c2": c2, "optimizer": optimizer, "dropout": dropout, "seed": seed}
        runs.append(
            {"settings": shared | run, "outputs": {key: str(folder / file) for key, file in files.items()}}
            | {"state_dir": str(directory / "resume" / folder.name), "log": str(directory / f"{folder.name}.log")}
        )
    inputs = {"train": directory / "train", "test": directory / "test"}
    pack_job.train_cifar_pack(
        runs=runs, settings=settings, inputs=inputs, manifest=directory / "resume" / "pack.json", log=print
    )
    return {
        Path(r["outputs"]["metrics"]).parent.name: json.loads(Path(r["outputs"]["metrics"]).read_text()) for r in runs
    }


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
