"""Which code made a run: a hash of the modules that decide its numbers, and the git commit.

A finished run's saved state is reused when its job runs again (a retried
pack, `--forcerun`); that is only right for the code that made it. The code
identity hashes the package modules that build, feed and train the models,
and the versions of the libraries they run on. Modules whose changes cannot
change a run's numbers do not count: the analysis, the report, status and
publish, the config loader, GPU slots, logging and plots (a metrics.json
and its plots are rewritten from the saved state by today's code anyway).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
NUMERIC_MODULES = ("data/cifar", "data/text", "train/models", "train/fit", "train/job", "train/runtime", "train/scan")


@functools.cache
def _library_version(module: str) -> str:
    """A library's installed version, without importing it (TensorFlow takes seconds)."""
    distributions = metadata.packages_distributions().get(module) or [module]
    try:
        return metadata.version(distributions[0])
    except metadata.PackageNotFoundError:
        return "not installed"


def code_identity(backend: str, package: Path = PACKAGE) -> str:
    """16 hex digits naming the numeric modules of `package` and the libraries of `backend`."""
    digest = hashlib.sha256()
    for name in NUMERIC_MODULES:
        path = Path(package) / f"{name}.py"
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    libraries = ("keras", "numpy", *(("jax", "jaxlib") if backend == "jax" else ("tensorflow",)))
    digest.update(" ".join(f"{lib}={_library_version(lib)}" for lib in libraries).encode())
    return digest.hexdigest()[:16]


def workflow_package(workdir: Path) -> Path:
    """The package a workflow's jobs import: the checkout's own (Snakefile puts it
    first on PYTHONPATH), else this installed one."""
    local = Path(workdir) / "nnstudy"
    return local if (local / "__init__.py").is_file() else PACKAGE


def git_commit(folder) -> str | None:
    """HEAD of the repository holding `folder` (+ "with local changes"), or None.

    Read-only: GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing the index.
    """
    env = os.environ | {"GIT_OPTIONAL_LOCKS": "0"}

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=20, check=False
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    if status.returncode == 0 and status.stdout.strip():
        commit += " (with uncommitted changes)"
    return commit
