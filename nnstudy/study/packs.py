"""Packs of runs trained by one job, and what a training job asks a cluster scheduler for.

A pack is either a scan pack (`training.engine: scan`: Part A's runs of a seed's grid, or A3's four at the chosen
pair, trained in one compiled JAX program) or an allocation pack (`cluster.runs_per_allocation` K > 1: K runs in
one allocation with one GPU, in which Snakemake itself runs their ordinary training jobs side by side).

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
from dataclasses import dataclass
from pathlib import Path

import yaml

from nnstudy import faults
from nnstudy.errors import StudyError
from nnstudy.study import plan, questions

# Run folders of a pack train through these rules (rules/part_a.smk, part_b.smk).
TRAINING_RULES = ("train_cifar", "train_text")


@dataclass(frozen=True)
class Pack:
    """Runs one job trains: their folders (patterns, with the wildcards of a scan pack: {seed}, A3's {c1} and
    {c2}), `engine` scan or allocation, and its name, which places its log, benchmark and manifest."""

    name: str
    runs: tuple[str, ...]
    engine: str
    rule: str  # its training rule's name (rules/training.smk)

    @property
    def log(self) -> str:
        return f"logs/{self.name}.log"

    @property
    def benchmark(self) -> str:
        return f"benchmarks/{self.name}.tsv"

    def manifest(self, resume_dir: str) -> str:
        return f"{resume_dir}/{self.name}.json"


def study_packs(study: dict) -> list[Pack]:
    """The study's packs: scan packs for Part A on the scan engine, allocation packs of the other runs when
    cluster.runs_per_allocation > 1. The two scan packs hold every grid run (and A1) of a seed, and A3's runs at
    a pair. Allocation packs leave runs at the grid's optimum out unless it is pinned: the packs must not change
    once the grid has chosen (a rerun)."""
    found, part_a = [], study["part_a"]
    scan = study["training"]["engine"] == "scan"
    if scan and "part_a" in study["parts"]:
        pairs = [*plan.grid_pairs(part_a), (part_a["c1"], part_a["c2"])]
        layout = part_a["pixel_layout"]
        grid = dict.fromkeys(plan.part_a_run(c1, c2, pixel_layout=layout, seed="{seed}") for c1, c2 in pairs)
        a3 = [
            plan.part_a_run("{c1}", "{c2}", entry.settings.get("optimizer", "sgd"), entry.settings.get("dropout", 0.0),
                            layout, seed="{seed}")
            for entry in questions.entries("a3", part_a)
        ]  # fmt: skip
        found += [
            Pack("part_a/packs/grid_seed-{seed}", tuple(grid), "scan", "train_cifar_grid"),
            Pack("part_a/packs/a3_c1-{c1}_c2-{c2}_seed-{seed}", tuple(a3), "scan", "train_cifar_a3"),
        ]
    size = study["cluster"]["runs_per_allocation"]
    if size > 1:
        pinned = part_a["optimum"]
        runs = plan.training_runs(study, tuple(pinned) if pinned else None)
        runs = [run for run in runs if not (scan and plan.run_wildcards(run)["part"] == "part_a")]
        allocations = packs(runs, lambda run: run_minutes(study, run), size)
        found += [
            Pack(f"packs/pack-{index}", tuple(pack), "allocation", f"train_pack_{index}")
            for index, pack in enumerate(allocations)
        ]
    return found


def data_share(part: str, train_limit: int | None, test_limit: int | None) -> float:
    """The larger of the shares of training and test data a preset keeps (an epoch evaluates both)."""
    train_size, test_size = plan.FULL_DATA[part]
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
        model, layers = "cifar_cnn", 1
    else:
        model, layers = f"{wildcards['level']}_{wildcards['architecture']}", int(wildcards["layers"])
    settings = study[part]
    return wall_minutes(
        study["cluster"],
        model=model,
        epochs=settings["epochs"],
        share=data_share(part, settings["train_limit"], settings["test_limit"]),
        layers=layers,
        runs_per_allocation=runs_per_allocation,
        attempt=attempt,
    )


def packs(runs: list[str], minutes, size: int) -> list[list[str]]:
    """The runs in packs of `size`, longest first, so that a pack's runs take about as long."""
    ordered = sorted(runs, key=lambda run: (-minutes(run), run))
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def pack_minutes(study: dict, pack: list[str], attempt: int = 1) -> int:
    """A pack asks for its longest run's time, times its size (see wall_minutes)."""
    return max(run_minutes(study, run, len(pack), attempt) for run in pack)


def train_allocation(*, snakefile, config: dict, runs: list[str], cores: int, log) -> None:
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
