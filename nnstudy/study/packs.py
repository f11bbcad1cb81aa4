"""What a training job asks a cluster scheduler for, and packed allocations.

The wall-time request comes from measured seconds per epoch (config `cluster`), so that a job asks for
minutes where it needs minutes: a request far above the need waits longest in the queue and defeats backfill.

Packed mode (`cluster.runs_per_allocation` K > 1) puts K training runs into one job, one allocation with one
GPU, in which Snakemake itself runs their ordinary training jobs side by side. (Snakemake's own `group:`
cannot do this today: the SLURM executor runs a group's jobs one after another, and `--group-components`
merges groups again on every DAG update.)
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from nnstudy import faults
from nnstudy.errors import StudyError
from nnstudy.study import plan

# Run folders of a pack train through these rules (rules/part_a.smk, part_b.smk).
TRAINING_RULES = ("train_cifar", "train_text")

# Training and test examples of the full data, which seconds_per_epoch were measured on.
FULL_DATA = {"cifar": (10_000, 2_000), "text": (5_600, 700)}


def data_share(data: str, train_limit: int | None, test_limit: int | None) -> float:
    """The larger of the shares of training and test data a preset keeps (an epoch evaluates both)."""
    train_size, test_size = FULL_DATA[data]
    train = 1.0 if train_limit is None else min(train_limit, train_size) / train_size
    test = 1.0 if test_limit is None else min(test_limit, test_size) / test_size
    return max(train, test)


def wall_minutes(
    cluster: dict, *, model: str, epochs: int, share=1.0, layers=1, runs_per_allocation=1, attempt=1
) -> int:
    """Minutes of wall time for one training job; a retry (attempt 2, 3) asks for more.

    Each of a packed allocation's runs asks for `runs_per_allocation` times its own time: the allocation's
    request is its longest run's, and that covers the runs trained one after another as much as side by side
    on a GPU (k runs sharing a GPU each run at most k times slower; measured 1.05 to 3.15 times for 4 on an H100).
    """
    seconds = cluster["seconds_per_epoch"][cluster["device"]][model] * epochs * share * layers
    minutes = cluster["startup_minutes"] + cluster["safety_factor"] * seconds * runs_per_allocation / 60
    return math.ceil(minutes) * attempt


def run_minutes(study: dict, run: str, runs_per_allocation: int = 1, attempt: int = 1) -> int:
    """Wall-time request of one training run (a run folder of nnstudy.study.plan)."""
    wildcards = plan.run_wildcards(run)
    part = wildcards["part"]
    if part == "part_a":
        data, model, layers = "cifar", "cifar_cnn", 1
    else:
        data, model, layers = "text", f"{wildcards['level']}_{wildcards['arch']}", int(wildcards["layers"])
    settings = study[part]
    return wall_minutes(
        study["cluster"],
        model=model,
        epochs=settings["epochs"],
        share=data_share(data, settings["train_limit"], settings["test_limit"]),
        layers=layers,
        runs_per_allocation=runs_per_allocation,
        attempt=attempt,
    )


def packs(runs: list[str], minutes, size: int) -> list[list[str]]:
    """The runs in packs of `size`, longest first, so that a pack's runs take about as long."""
    ordered = sorted(runs, key=lambda run: (-minutes(run), run))
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def training_packs(study: dict) -> list[list[str]]:
    """The study's packs of cluster.runs_per_allocation runs; none when packing is off. Runs at the grid's
    optimum are left out unless it is pinned: the packs must not change once the grid has chosen (a rerun)."""
    size = study["cluster"]["runs_per_allocation"]
    if size == 1:
        return []
    pinned = study["part_a"]["optimum"]
    runs = plan.training_runs(study, tuple(pinned) if pinned else None)
    if study["training"]["engine"] == "scan":  # Part A trains in packs of its own
        runs = [run for run in runs if plan.run_wildcards(run)["part"] != "part_a"]
    return packs(runs, lambda run: run_minutes(study, run), size)


def pack_minutes(study: dict, pack: list[str], attempt: int = 1) -> int:
    """A pack asks for its longest run's time, times its size (see wall_minutes)."""
    return max(run_minutes(study, run, len(pack), attempt) for run in pack)


def train_pack(*, snakefile, config: dict, runs: list[str], cores: int, log) -> None:
    """Train a pack's runs side by side with Snakemake, here, inside the allocation.

    The inner Snakemake runs the runs' ordinary training jobs (their logs, benchmarks and resume states as
    ever) with packing off and a GPU slot for each; it keeps going when one fails, so the others finish, and
    a retried pack rewrites those from their final resume state in seconds. A stop signal reaches the inner
    Snakemake and its jobs too (SLURM and Ctrl-C signal every process of the job): the pack waits for them
    to save their states instead of ending first, which on SLURM would take their processes with it.
    """
    inner = copy.deepcopy(config)
    inner.setdefault("cluster", {})["runs_per_allocation"] = 1
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
        with faults.stop_requests() as stop:
            done = subprocess.run(command, stdout=sys.stdout, stderr=subprocess.STDOUT, check=False)
    failed = [run for run in runs if not Path(f"{run}/metrics.json").is_file()]
    if stop and failed:
        raise faults.Stopped(stop.signum, f"with {len(failed)} of {len(runs)} runs unfinished, their states saved")
    if done.returncode != 0 or failed:
        raise StudyError(f"{len(failed)} of {len(runs)} runs of the pack failed: {', '.join(failed)} (logs/<run>.log)")
