"""Give each concurrent training job its own GPU.

Snakemake's `gpu` resource only caps how many training jobs run at once; it
never tells a job which GPU to use (snakemake issue 281), so every job would
land on GPU 0.  Before TensorFlow starts, a job takes a free slot — an
exclusive `flock` on a file per (GPU, k) — and sets CUDA_VISIBLE_DEVICES to
that GPU.  The kernel drops the lock when the process ends, however it ends,
so a killed job never leaves a slot taken.  With `jobs_per_gpu` = k, k small
jobs share one GPU (TensorFlow's memory growth is on).  An existing
CUDA_VISIBLE_DEVICES (set by SLURM, or by the user) is left alone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

_held = []  # lock files stay open, and locked, for the life of the process


def visible_gpus() -> list[str]:
    """Indices of the machine's NVIDIA GPUs, asked of nvidia-smi (no TensorFlow)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def acquire(gpus: list[str], lock_dir: Path, jobs_per_gpu: int = 1, poll_seconds: float = 0.5, log=print) -> str:
    """Block until a slot is free; hold it for this process's life; return its GPU.

    Slots fill breadth-first (one job on every GPU before a second on any).
    """
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    slots = [(gpu, k) for k in range(jobs_per_gpu) for gpu in gpus]
    waited = False
    while True:
        for gpu, k in slots:
            handle = open(lock_dir / f"gpu{gpu}-slot{k}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _held.append(handle)
            return gpu
        if not waited:
            log(f"all {len(slots)} GPU slots busy; waiting for one")
            waited = True
        time.sleep(poll_seconds)


def assign_gpu(lock_dir: Path, jobs_per_gpu: int = 1, log=print) -> None:
    """Set CUDA_VISIBLE_DEVICES for this job unless someone already has."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        log(f"using CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']} as given")
        return
    gpus = visible_gpus()
    if not gpus:
        return
    gpu = acquire(gpus, lock_dir, jobs_per_gpu, log=log)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    log(f"took GPU {gpu} (of {len(gpus)}; {jobs_per_gpu} job(s) per GPU)")
