"""Which code made a run, judged by what it computes, and the git commit.

A run's saved state is reused when its job runs again (a resumed run, a retried pack, `--forcerun`); that is only
right for code that computes what the code that saved it computed. A run's code identity has three parts:

- source: a hash of every module of the package, whatever it does (provenance: the code, to the byte);
- environment: the Keras backend, the versions of the libraries it computes with, and the kind of device;
- behaviour: what a probe of the run's kind computes with the code (nnstudy.train.job.probe): the losses and
  weight sums after two short epochs on a few hundred examples, through the real data path, model and engine.

Two identities are the same code when their environments are the same and their sources are, or their behaviours
agree to float32 round-off: a refactor, a comment, a moved or a new module change the source, not the numbers; a
changed model, data feed, engine or precision changes the behaviour. A probe takes seconds; it runs once per kind
of run, source and environment, and is kept in `{resume_dir}/identity/` for the jobs after it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import subprocess
import time
from importlib import metadata
from pathlib import Path

from nnstudy import faults

PACKAGE = Path(__file__).resolve().parents[1]
# Relative difference within which two probes count as the same computation (float32 round-off after two epochs,
# another thread count, a GPU's non-deterministic sums: below 1e-5).
TOLERANCE = 1e-4
# What a probe leaves out of a run's settings: it trains its kind at a small size, seed and data (the probe's).
PROBE_FREE = ("seed", "epochs", "train_limit", "test_limit", "c1", "c2", "engine", "matmul_precision")
# Identities of the code before behavioural identities (a hash of seven modules and the library versions), which
# bench/identity_equivalence.py measured to compute what today's code computes, run for run kind (docs/running.md).
EQUIVALENT_LEGACY = frozenset(
    {
        # f61cc14 (the Part B seed runs' checkout), TensorFlow and JAX: all 18 kinds the same to the last bit
        "5cc03f5d888747f8",
        "08256a1fa1d2b038",
        # beea9a9 (the ablation runs' checkout): 19 of 19 kinds and both global-norm clips the same
        "68298023d7b3ae20",
        "9b5f466924ee45c9",
    }
)


def source_digest(package: Path = PACKAGE) -> str:
    """16 hex digits naming every Python module of `package`, by path and content."""
    digest = hashlib.sha256()
    for path in sorted(Path(package).rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def library_version(module: str) -> str:
    """A library's installed version, without importing it (TensorFlow takes seconds)."""
    distributions = metadata.packages_distributions().get(module) or [module]
    try:
        return metadata.version(distributions[0])
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(backend: str, device: str) -> dict:
    """What a run computes with besides the code: its backend, their versions, the kind of device (CPU, GPU)."""
    libraries = ("keras", "numpy", *(("jax", "jaxlib") if backend == "jax" else ("tensorflow",)))
    return {"backend": backend, "libraries": {lib: library_version(lib) for lib in libraries}, "device": device}


def probe_kind(settings: dict) -> dict:
    """The settings a probe of a run trains with: the run's, but its size, seed and data."""
    return {key: value for key, value in settings.items() if key not in PROBE_FREE}


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def cache_file(cache_dir: Path, source: str, env: dict, settings: dict) -> Path:
    return Path(cache_dir) / f"{source}-{_digest(env)}" / f"{_digest(probe_kind(settings))}.json"


def current(settings: dict, env: dict, cache_dir: Path, probe, log=print) -> dict:
    """Today's identity for a run with `settings` in `env`; `probe()` returns the behaviour when none is cached."""
    source = source_digest()
    cached = cache_file(cache_dir, source, env, settings)
    try:
        behaviour = json.loads(cached.read_text())["behaviour"]
    except (OSError, ValueError, KeyError):
        started = time.perf_counter()
        behaviour = probe()
        cached.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"kind": probe_kind(settings), "behaviour": behaviour})
        faults.write_atomically(cached, lambda partial: partial.write_text(payload))
        log(f"probed what today's code computes for this kind of run in {time.perf_counter() - started:.1f} s")
    return {"source": source, "environment": env, "behaviour": behaviour}


def same_behaviour(a, b) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=1e-6) for x, y in zip(a, b))


def difference(saved, today: dict) -> str | None:
    """Why code identity `saved` is not today's (None: the same code)."""
    if saved is None or today is None:  # no identity given (a job's tests): the same only when neither has one
        return None if saved == today else "the training code changed"
    if isinstance(saved, str):  # before behavioural identities
        return None if saved in EQUIVALENT_LEGACY else "the training code changed"
    if saved.get("environment") != today["environment"]:
        return "the libraries or the device changed"
    if saved.get("source") == today["source"] or same_behaviour(saved.get("behaviour") or [], today["behaviour"]):
        return None
    return "the training code changed"


def finished_difference(saved, settings: dict, cache_dir: Path, package: Path = PACKAGE) -> str | None:
    """Why a finished run's code (its metrics.json's) is not today's, as far as files tell: by its source, or a
    probe of today's code for its kind that a job has kept in `cache_dir`; None when the same or not yet probed
    (`nnstudy status` imports no Keras: the next job that trains that kind probes it)."""
    if saved is None:  # made before code identities
        return None
    if isinstance(saved, str) or "source" not in saved:
        return difference(saved if isinstance(saved, str) else saved.get("identity"), {})
    source = source_digest(package)
    if saved["source"] == source:
        return None
    try:
        probed = json.loads(cache_file(cache_dir, source, saved["environment"], settings).read_text())["behaviour"]
    except (OSError, ValueError, KeyError):
        return None
    return None if same_behaviour(saved.get("behaviour") or [], probed) else "the training code changed"


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
