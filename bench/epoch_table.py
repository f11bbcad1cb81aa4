"""Seconds per training epoch of each model, alone and with jobs sharing the device.

The figures behind `cluster.seconds_per_epoch` in config.yaml, from which a
SLURM job's wall-time request is computed. Each model trains through the
workflow's own job function (bench/speed.py's engine worker) at paper
settings, on the full data, first alone, then as --sharing copies started
together on the same device (as a packed SLURM allocation runs them):

    python bench/epoch_table.py [--backend tensorflow|jax] [--epochs 4] [--threads 2]
                                [--sharing 4] [--shared-models cnn-90-100 char-gru]
                                [--models ...] [--cifar10-dir DIR] [--json table.json]

A training job's epoch time is the median interval between its epoch ends,
the first (compiling) epoch left out. The CIFAR CNN is timed at the grid's
largest pair, (90, 100), so the figure bounds every Part A job.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # the benchmark next door: its engine worker and data preparation

# Table key (as in config.yaml) -> bench/speed.py model name.
MODELS = {
    "cifar_cnn": "cnn-90-100",
    "char_cnn": "char-cnn",
    "word_cnn": "word-cnn",
    "char_gru": "char-gru",
    "word_gru": "word-gru",
    "char_lstm": "char-lstm",
    "word_lstm": "word-lstm",
    "char_rnn": "char-rnn",
    "word_rnn": "word-rnn",
}


def engine_epoch_seconds(model: str, copies: int, args, data_dir: str) -> list[float]:
    """Start `copies` engine workers for `model` at once; each one's steady seconds per epoch."""
    command = [
        sys.executable,
        speed.__file__,
        "--backend",
        args.backend,
        "--epochs",
        str(args.epochs),
        "--threads",
        str(args.threads),
        "--cifar10-dir",
        str(args.cifar10_dir),
        "--worker",
        "engine",
        model,
        data_dir,
    ]

    def one(_: int) -> float:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{model} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])["epoch_s"]

    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(one, range(copies)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["tensorflow", "jax"], default="tensorflow")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per training (at least 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads per training job")
    parser.add_argument("--sharing", type=int, default=4, help="copies trained at once for the shared figure")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--shared-models",
        nargs="*",
        default=None,
        choices=list(MODELS),
        help="models also timed while sharing (default: all of --models; none: alone only)",
    )
    parser.add_argument("--cifar10-dir", type=Path, default=speed.CIFAR)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs must be at least 3 (the first epoch is left out)")
    shared = args.models if args.shared_models is None else args.shared_models

    print(
        f"backend {args.backend}, {args.threads} threads per job, seconds per epoch after the first of "
        f"{args.epochs}; shared: {args.sharing} copies at once (median of theirs)"
    )
    print(f"{'model':10s} {'alone':>8s} {'shared':>8s} {'slowdown':>9s}", flush=True)
    table = {}
    with tempfile.TemporaryDirectory() as data_dir:
        speed.prepare_text(Path(data_dir))
        for key in args.models:
            row = {"alone_s": engine_epoch_seconds(MODELS[key], 1, args, data_dir)[0]}
            if key in shared:
                runs = engine_epoch_seconds(MODELS[key], args.sharing, args, data_dir)
                row |= {"shared_s": statistics.median(runs), "shared_runs_s": runs}
                row["slowdown"] = row["shared_s"] / row["alone_s"]
            table[key] = row
            shared_text = (
                f"{row['shared_s']:8.3f} {row['slowdown']:9.2f}" if "shared_s" in row else f"{'–':>8s} {'–':>9s}"
            )
            print(f"{key:10s} {row['alone_s']:8.3f} {shared_text}", flush=True)
    print("cluster.seconds_per_epoch (alone, rounded up to 0.1 s):")
    print("  {" + ", ".join(f"{key}: {-(-row['alone_s'] * 10 // 1) / 10:g}" for key, row in table.items()) + "}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "json"}
                    | {"device": device_name()},
                    "results": table,
                },
                indent=1,
            )
        )


def device_name() -> str:
    """The GPUs nvidia-smi lists, else the CPU's model name and core count."""
    import os
    import platform

    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
            platform.machine(),
        )
        return f"{model}, {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
