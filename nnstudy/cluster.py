"""What a training job asks a cluster scheduler for, and packed allocations.

The wall-time request comes from measured seconds per epoch (config
`cluster`), so that a job asks for minutes where it needs minutes: a request
far above the need waits longest in the queue and defeats backfill.

Packed mode (`cluster.jobs_per_gpu` K > 1) puts K training runs into one job,
one allocation with one GPU, in which Snakemake itself runs their ordinary
training jobs side by side. (Snakemake's own `group:` cannot do this today:
the SLURM executor runs a group's jobs one after another, and
`--group-components` merges groups again on every DAG update.)
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from nnstudy.errors import StudyError

# Run folders of a pack train through these rules (rules/part_a.smk, part_b.smk).
TRAINING_RULES = ("train_cifar", "train_text")

# Training and test examples of the full data, which seconds_per_epoch were measured on.
FULL_DATA = {"cifar": (10_000, 2_000), "text": (5_600, 700)}


def model_name(level: str | None = None, architecture: str | None = None) -> str:
    """The key of seconds_per_epoch: cifar_cnn, or level_architecture (char_gru, word_cnn, ...)."""
    return "cifar_cnn" if level is None else f"{level}_{architecture}"


def data_share(data: str, train_limit: int | None, test_limit: int | None) -> float:
    """The larger of the shares of training and test data a preset keeps (an epoch evaluates both)."""
    train_size, test_size = FULL_DATA[data]
    train = 1.0 if train_limit is None else min(train_limit, train_size) / train_size
    test = 1.0 if test_limit is None else min(test_limit, test_size) / test_size
    return max(train, test)


def wall_minutes(
    cluster: dict,
    *,
    model: str,
    epochs: int,
    share: float = 1.0,
    layers: int = 1,
    jobs_per_allocation: int = 1,
    attempt: int = 1,
) -> int:
    """Minutes of wall time for one training job.

    Each of a packed allocation's jobs asks for `jobs_per_allocation` times
    its own time: the allocation's request is its longest job's, and that
    covers the jobs run one after another as much as side by side on a GPU
    (k jobs sharing a GPU each run at most k times slower; measured 1.05 to
    3.15 times for 4 on an H100). A retry (attempt 2, 3) asks for more.
    """
    seconds = cluster["seconds_per_epoch"][cluster["device"]][model] * epochs * share * layers
    minutes = cluster["startup_minutes"] + cluster["safety_factor"] * seconds * jobs_per_allocation / 60
    return math.ceil(minutes) * attempt


def packs(runs: list[str], minutes, jobs_per_gpu: int) -> list[list[str]]:
    """The runs in packs of `jobs_per_gpu`, longest first, so that a pack's runs take about as long."""
    ordered = sorted(runs, key=lambda run: (-minutes(run), run))
    return [ordered[start : start + jobs_per_gpu] for start in range(0, len(ordered), jobs_per_gpu)]


def train_pack(*, snakefile, config: dict, runs: list[str], cores: int, log) -> None:
    """Train a pack's runs side by side with Snakemake, here, inside the allocation.

    The inner Snakemake runs the runs' ordinary training jobs (their logs,
    benchmarks and resume states as ever) with packing off and a GPU slot for
    each; it keeps going when one fails, so the others finish, and a retried
    pack rewrites those from their final resume state in seconds.
    """
    inner = copy.deepcopy(config)
    inner.setdefault("cluster", {})["jobs_per_gpu"] = 1
    inner.setdefault("training", {}).setdefault("gpu", {})["jobs_per_gpu"] = len(runs)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="pack-config-", dir=".snakemake") as config_file:
        yaml.safe_dump(inner, config_file)
        config_file.flush()
        command = [
            sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--configfile", config_file.name,
            "--cores", str(cores), "--resources", f"gpu={len(runs)}", "--workflow-profile", "none",
            "--allowed-rules", *TRAINING_RULES, "--nolock", "--keep-going", "--rerun-incomplete",
            "--", *(f"{run}/metrics.json" for run in runs),
        ]  # fmt: skip
        log(f"training {len(runs)} runs side by side: {', '.join(Path(run).name for run in runs)}")
        done = subprocess.run(command, stdout=sys.stdout, stderr=subprocess.STDOUT, check=False)
    failed = [run for run in runs if not Path(f"{run}/metrics.json").is_file()]
    if done.returncode != 0 or failed:
        raise StudyError(f"{len(failed)} of {len(runs)} runs of the pack failed: {', '.join(failed)} (logs/<run>.log)")
