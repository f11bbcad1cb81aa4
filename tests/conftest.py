"""Shared fixtures: paths, generated data, and a smoke run of the real workflow."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_DIR = SHARED_DATA / "cifar10"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
# What a copy of the workflow needs; results and caches stay behind.
WORKFLOW_FILES = [
    "Snakefile",
    "config.yaml",
    "rules",
    "scripts",
    "schemas",
    "report",
    "profiles",
    "data",
    "envs",
    "containers",
]


def copy_workflow(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)
    return target


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the real snakemake in `workdir`; output captured as text."""
    result = subprocess.run(  # noqa: PLW1510  the caller checks, with the output in the message
        [str(SNAKEMAKE), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def nnstudy(workdir: Path, command: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`nnstudy COMMAND` as the console script runs it, with this checkout's package
    (the installed one may be another checkout's), in `workdir`."""
    result = subprocess.run(  # noqa: PLW1510  the caller checks, with the output in the message
        [sys.executable, "-m", "nnstudy.cli", command, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"nnstudy {command} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def nnstudy_status(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return nnstudy(workdir, "status", *args, check=check)


def status_rows(output: str) -> dict[str, list[str]]:
    """run name → [state, epochs, last acc, best acc, s/epoch, ETA …] of a status table."""
    rows = {}
    for line in output.splitlines()[1:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())  # columns are two spaces apart; a state may hold one
        rows[cells[0]] = cells[1:]
    return rows


def smoke_config(*extra: str) -> list[str]:
    return ["--config", "preset=smoke", f"cifar10_dir={CIFAR_DIR}", *extra]


def smoke_run_config(*extra: str) -> list[str]:
    """The shared smoke study's own arguments (its engines beside the smoke preset)."""
    return ["--configfile", "study.yaml", *smoke_config(*extra)]


# The shared smoke study's settings beside the preset: its engines, and a 2 x 2 grid holding A1's pair
# (4 runs, not 25: each is one compilation of the scan engine, the study's critical path).
SMOKE_STUDY = {
    "training": {"backend": {"cifar_cnn": "jax", "text_rnn": "jax"}, "engine": "scan"},
    "part_a": {"grid": {"c1": [10, 50], "c2": [20, 60]}},
}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """A copy of the workflow after a complete smoke run, shared by the integration tests.
    One study serves the three engines: Part A on JAX's scan engine (a seed's grid in one
    packed job, A3's four in another once the grid has chosen), the text CNNs on
    TensorFlow's fit and the text RNNs on JAX's (Part A on TensorFlow's fit: the
    single-run tests, the container and SLURM studies)."""
    if not CIFAR_DIR.is_dir():
        pytest.skip(f"{CIFAR_DIR} not available")
    workdir = copy_workflow(tmp_path_factory.mktemp("smoke") / "workflow")
    (workdir / "study.yaml").write_text(yaml.safe_dump(SMOKE_STUDY))
    snakemake(workdir, "--cores", "2", *smoke_run_config())
    return workdir


@pytest.fixture(scope="session")
def curve_plots(tmp_path_factory) -> dict[str, Path]:
    """One real cost plot, accuracy plot and feature-map figure, copied into every generated run."""
    from generated_study import write_curve_plots

    return write_curve_plots(tmp_path_factory.mktemp("plots"))


@pytest.fixture(scope="session")
def generated_report(tmp_path_factory, curve_plots) -> dict:
    """A generated study (tests/generated_study.py) rendered with markup in a run's label and in a
    reference note; paths are relative to its root (the cwd of a job)."""
    from generated_study import build_study, render_study

    root = tmp_path_factory.mktemp("study")
    files = build_study(
        root, curve_plots, relabel={"c1-10_c2-20_sgd_dropout-0_seed-1": "<script>alert('label')</script>"}
    )
    reference = root / "reference"
    shutil.copytree(REPO / "data/reference", reference)
    part_b = pd.read_csv(reference / "part_b.csv", dtype={"note": str})
    part_b.loc[0, "note"] = "<img src=x onerror=alert(1)> & friends"
    part_b.to_csv(reference / "part_b.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the jobs run in the workflow directory: relative paths, as in Snakemake
        output = render_study(Path("."), files, reference_dir=Path("reference"))
    return {"root": root, "files": files, "html": (root / output).read_text(encoding="utf-8")}


def random_images(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count)
    return images, labels
