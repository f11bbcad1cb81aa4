"""The quick study from a clean results folder: its wall time, its slowest jobs and what its models learnt.

    python bench/quick_study.py [--cores 2] [--cifar10-dir ../shared/data/cifar10] [--keep DIR] [-- --config …]

Copies the workflow into a fresh folder, runs `snakemake --cores N --config preset=quick …` there (words after
`--` are added), and prints the wall time, the ten slowest jobs (their Snakemake benchmarks) and every run's max
test accuracy beside the quick preset's aim: every Part A run at least 0.25, every Part B run at least twice
chance but the vanilla RNN's (it does not learn at the spec's settings either). Time it with nothing else running.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = ["Snakefile", "config.yaml", "rules", "scripts", "schemas", "report", "profiles", "data", "envs", "nnstudy"]
AIM = {"A": 0.25, "B": 2 / 14}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--cifar10-dir", default=str(REPO.parent / "shared/data/cifar10"))
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    parser.add_argument("extra", nargs="*", help="more snakemake arguments, after --")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="quick-study-"))
    folder.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    command = [str(Path(sys.executable).with_name("snakemake")), "--cores", str(args.cores), "--config",
               "preset=quick", f"cifar10_dir={args.cifar10_dir}", *args.extra]  # fmt: skip
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the quick study failed after {wall:.0f} s:\n{done.stderr[-3000:]}")
    print(f"wall time: {wall:.0f} s ({wall / 60:.1f} min) on {args.cores} cores")
    benchmarks = [
        (float(pd.read_csv(path, sep="\t")["s"].iloc[0]), str(path.relative_to(folder / "benchmarks")))
        for path in (folder / "benchmarks").rglob("*.tsv")
    ]
    print("slowest jobs (s):")
    for seconds, name in sorted(benchmarks, reverse=True)[:10]:
        print(f"  {seconds:7.1f}  {name.removesuffix('.tsv')}")
    runs = pd.read_csv(folder / "results/tables/all_runs.csv")
    runs["aim"] = runs["part"].map(AIM)
    runs["learnt"] = (runs["max_test_accuracy"] >= runs["aim"]) | (runs["architecture"] == "rnn")
    print(runs[["part", "run", "max_test_accuracy", "aim", "learnt"]].to_string(index=False))
    missed = runs[~runs["learnt"]]
    print(f"{len(runs) - len(missed)} of {len(runs)} runs reach their aim" + (f"; missed: {list(missed['run'])}"
                                                                              if len(missed) else ""))  # fmt: skip
    if args.keep is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
