"""Seconds per epoch: a plain Keras loop vs the project's engine, at paper settings.

For each model, two fresh processes train on the full course data (10,000
CIFAR-10 images / 5,600 documents, the paper's batch size and optimizer):

- plain: one `model.fit` over all epochs on float32 numpy arrays with the
  test set as `validation_data` (Keras defaults: no op determinism, float32);
- engine: the workflow's training job function (`job.train_cifar` /
  `train_text`: seeded batch order, resume checkpoints, test evaluation,
  model, metrics and plots), with the backend, precision and determinism
  given here.

An epoch's time is the interval between two consecutive epoch ends (the
first, which traces and compiles, is left out), so it holds training,
evaluation and anything done between epochs, checkpoints included.

    python bench/speed.py [--backend tensorflow|jax] [--precision float32|mixed_bfloat16|mixed_float16]
                          [--no-deterministic] [--epochs 4] [--repeats 2] [--threads 2] [--models cnn-50-60 ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CIFAR = REPO.parent / "shared/data/cifar10"
MODELS = ["cnn-50-60", "cnn-90-100", "char-cnn", "word-cnn", "char-gru", "word-gru"]


def paper_settings() -> dict:
    """config.yaml at the paper preset, validated as the workflow does."""
    import yaml

    from nnstudy.study import settings

    config = yaml.safe_load((REPO / "config.yaml").read_text()) | {"preset": "paper"}
    return settings.resolve(config, REPO / "schemas/config.schema.yaml")


def steady_epoch_seconds(epoch_ends: list[float]) -> float:
    """Median interval between consecutive epoch ends, the first epoch left out."""
    return statistics.median(end - start for start, end in itertools.pairwise(epoch_ends))


def run_plain(model_name: str, args, data_dir: Path) -> dict:
    from nnstudy.train import runtime

    runtime.prepare(args.backend, args.threads, deterministic=False)
    runtime.configure(args.threads, deterministic=False, log=lambda message: None)
    import keras

    from nnstudy.study import plan
    from nnstudy.train import fit, job, models

    study = paper_settings()
    if model_name.startswith("cnn-"):
        c1, c2 = map(int, model_name.split("-")[1:])
        split = job.load_cifar(args.cifar10_dir / "data_batch_1", args.cifar10_dir / "test_batch_trim")
        model = models.cifar_cnn(c1, c2)
        optimizer = models.optimizer("sgd", plan.learning_rate(study["part_a"], "sgd"))
        batch_size = study["part_a"]["batch_size"]
    else:
        import numpy as np

        level, architecture = model_name.split("-")
        arrays = np.load(data_dir / f"{level}_ids.npz")
        info = json.loads((data_dir / "vocabulary.json").read_text())
        split = fit.Split(*(arrays[key] for key in ("x_train", "y_train", "x_test", "y_test")))
        vocab_size = len(info["vocabulary"]) if level == "word" else info["char_vocabulary_size"]
        mask = study["part_b"]["mask_padding"]
        model = models.text_classifier(
            level, architecture, info["num_classes"], vocab_size, info["length"], mask_padding=mask
        )
        optimizer = models.optimizer(study["part_b"]["optimizer"], study["part_b"]["learning_rate"])
        batch_size = study["part_b"]["batch_size"]
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    epoch_ends = []
    model.fit(
        split.x_train,
        split.y_train,
        batch_size=batch_size,
        epochs=args.epochs,
        shuffle=True,
        validation_data=(split.x_test, split.y_test),
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch_ends.append(time.perf_counter()))
        ],
    )
    return {"epoch_s": steady_epoch_seconds(epoch_ends)}


def run_engine(model_name: str, args, data_dir: Path, dropout: float = 0.0, limit: int | None = None) -> dict:
    """The engine's steady seconds per epoch; `dropout` and `limit` (the first
    `limit` training and test examples, for a quick check) serve bench/b5_times.py."""
    from nnstudy.study import plan
    from nnstudy.train import job

    study = paper_settings()
    if model_name.startswith("cnn-"):
        c1, c2 = map(int, model_name.split("-")[1:])
        run = plan.part_a_run(c1, c2, dropout=dropout, seed=1)
        train = job.train_cifar
        inputs = {"train": args.cifar10_dir / "data_batch_1", "test": args.cifar10_dir / "test_batch_trim"}
    else:
        level, architecture = model_name.split("-")
        run = plan.part_b_run(level, architecture, dropout=dropout, seed=1)
        train = job.train_text
        inputs = {"ids": data_dir / f"{level}_ids.npz", "vocabulary": data_dir / "vocabulary.json"}
    settings = plan.run_settings(study, run) | {
        "backend": args.backend,
        "precision": args.precision,
        "deterministic": args.deterministic,
        "epochs": args.epochs,
        "threads": args.threads,
        "checkpoint_seconds": study["training"]["checkpoint_seconds"],
        "tensorboard_dir": None,
    }
    if limit:
        settings |= {"train_limit": limit, "test_limit": limit}
    epoch_ends = []

    def log(message: str) -> None:
        if message.startswith("epoch "):
            epoch_ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        outputs = {name: str(scratch / f"{name}.png") for name in ("costs", "accuracies")}
        outputs |= {"metrics": str(scratch / "metrics.json"), "model": str(scratch / "model.keras")}
        train(settings=settings, inputs=inputs, outputs=outputs, state_dir=scratch / "resume", log=log)
        device = json.loads(Path(outputs["metrics"]).read_text())["device"]
    return {"epoch_s": steady_epoch_seconds(epoch_ends), "device": f"{device['type']} {device['name']}"}


def prepare_text(data_dir: Path) -> None:
    from nnstudy.train import job

    text = paper_settings()["text"]
    job.prepare_text(
        train_csv=REPO / text["train_csv"],
        test_csv=REPO / text["test_csv"],
        length=text["length"],
        min_count=text["min_word_count"],
        max_vocabulary=text["max_vocabulary"],
        log=lambda message: None,
        outputs={
            "char": data_dir / "char_ids.npz",
            "word": data_dir / "word_ids.npz",
            "vocabulary": data_dir / "vocabulary.json",
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["tensorflow", "jax"], default="tensorflow")
    parser.add_argument("--precision", choices=["float32", "mixed_bfloat16", "mixed_float16"], default="float32")
    parser.add_argument(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        help="the engine without deterministic ops (default: deterministic, as config.yaml)",
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs per measurement (at least 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cifar10-dir", type=Path, default=CIFAR)
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="plain and engine measured alternately this often; median and best are shown "
        "(on a shared machine the best is the least disturbed)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "MODEL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs must be at least 3 (the first epoch is left out)")

    if args.worker:
        mode, model_name, data_dir = args.worker
        run = run_plain if mode == "plain" else run_engine
        print(json.dumps(run(model_name, args, Path(data_dir))))
        return

    forwarded = [arg for arg in sys.argv[1:] if arg not in ("--json", str(args.json))]
    print(
        f"engine: backend {args.backend}, precision {args.precision}, deterministic {args.deterministic}; "
        f"threads {args.threads}; seconds per epoch after the first of {args.epochs}; "
        f"median and best of {args.repeats} alternating runs"
    )
    print(f"{'':12s} {'plain Keras':>16s} {'engine':>16s} {'engine/plain':>16s}")
    print(f"{'model':12s} {'median':>8s} {'best':>7s} {'median':>8s} {'best':>7s} {'median':>8s} {'best':>7s}")
    results = {}
    with tempfile.TemporaryDirectory() as data_dir:
        prepare_text(Path(data_dir))
        for model_name in args.models:
            measured = {"plain": [], "engine": []}
            for _ in range(args.repeats):
                for mode, runs in measured.items():
                    done = subprocess.run(
                        [sys.executable, __file__, *forwarded, "--worker", mode, model_name, data_dir],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    if done.returncode != 0:
                        sys.exit(f"{mode} {model_name} failed:\n{done.stderr[-3000:]}")
                    runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            runs = {mode: [run["epoch_s"] for run in measured[mode]] for mode in measured}
            summary = {
                f"{mode}_{name}_s": pick(runs[mode])
                for mode in runs
                for name, pick in (("median", statistics.median), ("best", min))
            }
            results[model_name] = summary | {
                "ratio_median": summary["engine_median_s"] / summary["plain_median_s"],
                "ratio_best": summary["engine_best_s"] / summary["plain_best_s"],
                "plain_runs_s": runs["plain"],
                "engine_runs_s": runs["engine"],
                "device": measured["engine"][0]["device"],
            }
            row = results[model_name]
            print(
                f"{model_name:12s} {row['plain_median_s']:8.3f} {row['plain_best_s']:7.3f} "
                f"{row['engine_median_s']:8.3f} {row['engine_best_s']:7.3f} "
                f"{row['ratio_median']:8.2f} {row['ratio_best']:7.2f}",
                flush=True,
            )
    print(f"device: {next(iter(results.values()))['device']}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "settings": vars(args) | {"cifar10_dir": str(args.cifar10_dir), "json": None, "worker": None},
                    "results": results,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
