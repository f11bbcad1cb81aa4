"""B5's running times like for like: seconds per epoch of its eight models on one machine.

The published B5 times cannot be compared with each other, let alone with
the reference report's: they ran two jobs at a time on a shared CPU, the CNNs
on TensorFlow and the GRUs on JAX. This bench trains all eight B5 models
(char / word × CNN / GRU × without / with dropout) in one invocation, on one
backend and one thread count, at paper settings on the full data (or the first
--limit documents, for a quick check), each training a fresh process through
the workflow's own job function (bench/speed.py's engine worker:
experiments.train_text, training.fit). The models take turns, in reverse
order every other repeat, so that a disturbance of the machine or a slow drift
falls on all of them alike. It prints each model's median and best seconds
per epoch (epoch-end intervals, the compiling first epoch left out; on a
shared machine the best is the least disturbed) and the CNN / RNN and
with / without dropout time ratios beside the reference report's, whose
figures are whole trainings (data/reference/part_b.csv): their ratios are
per-epoch ratios if every model ran the same epochs.

    python bench/b5_times.py [--backend tensorflow|jax] [--threads 1] [--epochs 4] [--repeats 3]
                             [--limit N] [--json times.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # the benchmark next door: its engine worker, paper settings and data preparation

# B5's models as bench/speed.py names them, then "+dropout" at the paper's rate.
MODELS = [
    f"{level}-{arch}{dropout}" for level in ("char", "word") for arch in ("cnn", "gru") for dropout in ("", "+dropout")
]
# Our model -> the reference report's row (data/reference/part_b.csv: model, dropout yes / no).
REFERENCE_ROWS = {
    f"{level}-{arch}{dropout}": (f"{level.title()} {name}", "yes" if dropout else "no")
    for level in ("char", "word")
    for arch, name in (("cnn", "CNN"), ("gru", "RNN"))
    for dropout in ("", "+dropout")
}
# (numerator, denominator) of each ratio shown.
RATIOS = [(f"{level}-cnn{d}", f"{level}-gru{d}") for d in ("", "+dropout") for level in ("char", "word")]
RATIOS += [(f"{level}-{arch}+dropout", f"{level}-{arch}") for level in ("char", "word") for arch in ("cnn", "gru")]


def reference_seconds() -> dict[str, float]:
    """The reference report's B5 training times, by our model name."""
    table = pd.read_csv(speed.REPO / "data/reference/part_b.csv")
    seconds = {(row.model, row.dropout): float(row.train_seconds) for row in table.itertuples()}
    return {model: seconds[row] for model, row in REFERENCE_ROWS.items()}


def worker(model: str, args, data_dir: Path) -> dict:
    """One training of `model` in this process: its steady seconds per epoch and the device."""
    dropout = speed.paper_settings()["part_b"]["dropout"] if model.endswith("+dropout") else 0.0
    return speed.run_engine(model.removesuffix("+dropout"), args, data_dir, dropout=dropout, limit=args.limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["tensorflow", "jax"], default="tensorflow")
    parser.add_argument("--threads", type=int, default=1, help="threads per training (the paper run's: 1)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per training (at least 2: the first is left out)")
    parser.add_argument("--repeats", type=int, default=3, help="trainings per model, the models taking turns")
    parser.add_argument("--limit", type=int, help="the first N training and test documents only (a quick check)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "DATA_DIR"), help=argparse.SUPPRESS)
    # The paper's float32 and config.yaml's deterministic ops, for every model alike.
    parser.set_defaults(precision="float32", deterministic=True)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is left out)")
    if args.worker:
        print(json.dumps(worker(args.worker[0], args, Path(args.worker[1]))))
        return

    forwarded = ["--backend", args.backend, "--threads", str(args.threads), "--epochs", str(args.epochs)]
    forwarded += ["--limit", str(args.limit)] if args.limit else []
    documents = f"the first {args.limit} documents" if args.limit else "all documents"
    print(
        f"B5 on {args.backend}, {args.threads} thread(s), float32, deterministic; {documents}; seconds per epoch "
        f"after the first of {args.epochs}; median and best of {args.repeats} turns",
        flush=True,
    )
    runs = {model: [] for model in MODELS}
    device = ""
    with tempfile.TemporaryDirectory() as data_dir:
        speed.prepare_text(Path(data_dir))
        for repeat in range(args.repeats):
            for model in MODELS if repeat % 2 == 0 else MODELS[::-1]:
                command = [sys.executable, __file__, *forwarded, "--worker", model, data_dir]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    sys.exit(f"{model} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                runs[model].append(result["epoch_s"])
                device = result["device"]
                print(f"  turn {repeat + 1}: {model:18s} {result['epoch_s']:8.3f} s/epoch", flush=True)

    results = {m: {"median_s": statistics.median(r), "best_s": min(r), "runs_s": r} for m, r in runs.items()}
    print(f"\n{'model':18s} {'median':>8s} {'best':>8s}")
    for model, row in results.items():
        print(f"{model:18s} {row['median_s']:8.3f} {row['best_s']:8.3f}")
    reference = reference_seconds()
    ratios = [
        {
            "ratio": f"{top} / {bottom}",
            "median": results[top]["median_s"] / results[bottom]["median_s"],
            "best": results[top]["best_s"] / results[bottom]["best_s"],
            "reference": reference[top] / reference[bottom],
        }
        for top, bottom in RATIOS
    ]
    print(f"\n{'time ratio':36s} {'median':>7s} {'best':>7s} {'reference':>9s}")
    for row in ratios:
        print(f"{row['ratio']:36s} {row['median']:7.3f} {row['best']:7.3f} {row['reference']:9.3f}")
    print(f"device: {device}")
    if args.json:
        settings = {key: getattr(args, key) for key in ("backend", "threads", "epochs", "repeats", "limit")}
        payload = {"settings": settings | {"device": device}, "results": results, "ratios": ratios}
        args.json.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
