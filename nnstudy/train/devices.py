"""Give each concurrent training job its own GPU.

Snakemake's `gpu` resource caps how many training jobs run at once but never says which GPU a job gets
(snakemake issue 281), so all would land on GPU 0.  Before TensorFlow starts, a job takes a free slot, an
exclusive `flock` on a file per (GPU, k), and sets CUDA_VISIBLE_DEVICES to its GPU (unless SLURM or the
user set it); the kernel drops the lock when the process ends, however it ends.  With `jobs_per_gpu` = k,
k small jobs share a GPU.

The lock folder, by default /tmp/nnstudy-gpu-slots-<uid>, is a fixed path (every job of the user must find
it; SLURM gives each job its own TMPDIR and logind removes XDG_RUNTIME_DIR at logout).  So that no one else
can block, redirect or share a slot, it must be the user's, no symbolic link and writable by no one else,
and lock files are opened without following links.  A job waits at most `wait_minutes`, then fails naming
the holders (each writes its pid into its lock file).  A holder puts back its lock file if it is deleted;
waiters leave a missing file to its holder for a few seconds before creating it, which is why a new lock
folder is created whole, every slot file in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from nnstudy.errors import StudyError

WAIT_MINUTES = 120  # the schema's default too
_GUARD_SECONDS = 1.0  # how often a holder checks that its lock file is still in place
_MISSING_GRACE_SECONDS = 5.0  # how long a waiter leaves a missing lock file to its holder to put back
_REPORT_SECONDS = 300.0  # how often a waiting job says it still waits
_SLOT_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC


def visible_gpus() -> list[str]:
    """Indices of the machine's NVIDIA GPUs, asked of nvidia-smi (no TensorFlow); none without nvidia-smi."""
    command = ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout.split()
    except (subprocess.SubprocessError, OSError):
        return []


def default_lock_dir() -> Path:
    """The user's own slot folder, the same for every job of the user (see the module docstring)."""
    return Path(f"/tmp/nnstudy-gpu-slots-{os.getuid()}")


def _create(lock_dir: Path, names: list[str]) -> None:
    """Create the lock folder whole, all slot files in it, so that a missing file always means a deleted one."""
    if os.path.lexists(lock_dir):
        return
    lock_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{lock_dir.name}.", dir=lock_dir.parent))  # mode 0o700
    for name in names:
        os.close(os.open(staging / name, _SLOT_FLAGS | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        os.rename(staging, lock_dir)
    except OSError:  # another job created it first
        shutil.rmtree(staging)


def open_lock_dir(lock_dir: Path, names: list[str]) -> int:
    """Open (creating it if need be) a lock folder that only this user controls; return its descriptor.
    Refused, in the user's words: a folder in which another user could plant, delete or lock slot files."""
    try:
        _create(lock_dir, names)
        dir_fd = os.open(lock_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if os.path.islink(lock_dir):
            problem = "is a symbolic link; set training.gpu.lock_dir to a real folder"
        elif isinstance(err, (FileExistsError, NotADirectoryError)):
            found = next(path for path in (lock_dir, *lock_dir.parents) if os.path.lexists(path))
            problem = f"is not usable: {found} is not a folder"
        else:
            problem = f"is not usable ({err.strerror})"
        raise StudyError(f"training.gpu.lock_dir: {lock_dir} {problem}") from None
    info = os.fstat(dir_fd)
    if info.st_uid != os.getuid():
        problem = f"belongs to uid {info.st_uid}, not to you (uid {os.getuid()}); set training.gpu.lock_dir elsewhere"
    elif info.st_mode & 0o022:
        problem = f"is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); chmod go-w it"
    else:
        return dir_fd
    os.close(dir_fd)
    raise StudyError(f"training.gpu.lock_dir: {lock_dir} {problem}")


def _on_path(fd: int, dir_fd: int, name: str) -> bool:
    """Whether the locked file is still the one named `name`: a lock on a deleted file guards nothing."""
    try:
        named = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _locked(fd: int) -> int | None:
    """`fd`, exclusively locked; None (and `fd` closed) if another process holds the lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _take(dir_fd: int, lock_dir: Path, name: str, missing_since: dict, now: float) -> int | None:
    """Lock the slot file now on the path, following no link; None if it is busy, or missing for less time
    than a live holder takes to put it back (`missing_since` remembers since when)."""
    while True:
        create = now - missing_since.get(name, now) >= _MISSING_GRACE_SECONDS
        try:
            fd = os.open(name, _SLOT_FLAGS | (os.O_CREAT if create else 0), 0o600, dir_fd=dir_fd)
        except FileNotFoundError:
            missing_since.setdefault(name, now)
            return None
        except OSError as err:
            link = os.path.islink(lock_dir / name)
            problem = "is a symbolic link, not a lock file; remove it" if link else f"is not usable ({err.strerror})"
            raise StudyError(f"training.gpu.lock_dir: {lock_dir / name} {problem}") from None
        missing_since.pop(name, None)
        if _locked(fd) is None:
            return None
        if _on_path(fd, dir_fd, name):
            return fd
        os.close(fd)  # it was deleted or replaced meanwhile: try the file on the path now


def _claim(fd: int) -> None:
    """Write the holder's pid into its lock file, for the wait-limit message and for people.

    The lock holds without it: on a full disk (/tmp, most often) the pid is left out, not the job.
    """
    os.ftruncate(fd, 0)
    with contextlib.suppress(OSError):
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _guard(fd: int, dir_fd: int, path: Path, gpu: str, log) -> None:
    """Keep this job's lock file on its path for the life of the process, so that no waiter takes the slot."""
    while True:
        time.sleep(_GUARD_SECONDS)
        if _on_path(fd, dir_fd, path.name):
            continue
        try:  # put the deleted file back, locked, unless another job got there first
            new_fd = _locked(os.open(path.name, _SLOT_FLAGS | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd))
        except OSError:
            new_fd = None
        if new_fd is None:
            log(f"warning: {path} was deleted while this job held it; another job may now share GPU {gpu}")
            return
        _claim(new_fd)
        os.close(fd)
        fd = new_fd


def _holders(dir_fd: int, slots: list[tuple[str, str]]) -> str:
    """Who holds the slots, as each holder wrote it in its lock file."""
    found = []
    for _, name in slots:
        try:
            with os.fdopen(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd), "rb") as file:
                pid = file.read(32).decode(errors="replace").strip()
            found.append(f"{name} by pid {pid if pid.isdigit() else '?'}")
        except OSError:
            found.append(f"{name} (missing)")
    return ", ".join(found)


def _wait(dir_fd: int, lock_dir: Path, slots: list, wait_minutes: float, poll_seconds: float, log) -> tuple:
    """(fd, gpu, file name) of the first slot to come free, polled for and said so now and then; give up after
    wait_minutes."""
    started = time.monotonic()
    deadline, next_report, missing_since = started + 60 * wait_minutes, started, {}
    while True:
        now = time.monotonic()
        for gpu, name in slots:
            fd = _take(dir_fd, lock_dir, name, missing_since, now)
            if fd is not None:
                return fd, gpu, name
        if now >= deadline:
            raise StudyError(
                f"training.gpu.wait_minutes: no GPU slot in {lock_dir} came free in {wait_minutes:g} min "
                f"(held: {_holders(dir_fd, slots)}); end those jobs or raise training.gpu.wait_minutes"
            )
        if now >= next_report:
            held = _holders(dir_fd, slots)
            if next_report == started:
                log(
                    f"all {len(slots)} GPU slots in {lock_dir} are busy ({held}); "
                    f"waiting up to {wait_minutes:g} min for one"
                )
            else:
                log(f"still waiting for a GPU slot after {(now - started) / 60:.0f} min ({held})")
            next_report = now + _REPORT_SECONDS
        time.sleep(max(0.0, min(poll_seconds, deadline - now)))


def acquire(
    gpus: list[str], lock_dir: Path, jobs_per_gpu=1, wait_minutes=WAIT_MINUTES, poll_seconds=0.5, log=print
) -> str:
    """Wait (at most wait_minutes) until a slot is free; hold it for this process's life; return its GPU.
    Slots fill breadth-first (one job on every GPU before a second on any)."""
    lock_dir = Path(lock_dir)
    slots = [(gpu, f"gpu{gpu}-slot{k}.lock") for k in range(jobs_per_gpu) for gpu in gpus]
    dir_fd = open_lock_dir(lock_dir, [name for _, name in slots])
    try:
        fd, gpu, name = _wait(dir_fd, lock_dir, slots, wait_minutes, poll_seconds, log)
    except BaseException:
        os.close(dir_fd)
        raise
    _claim(fd)
    threading.Thread(target=_guard, args=(fd, dir_fd, lock_dir / name, gpu, log), daemon=True).start()
    return gpu


def assign_gpu(lock_dir: str | Path, jobs_per_gpu: int = 1, log=print, wait_minutes: float = WAIT_MINUTES) -> None:
    """Set CUDA_VISIBLE_DEVICES for this job unless someone already has; an empty lock_dir is the default."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        log(f"using CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']} as given")
        return
    gpus = visible_gpus()
    if not gpus:
        return
    gpu = acquire(gpus, Path(lock_dir) if lock_dir else default_lock_dir(), jobs_per_gpu, wait_minutes, log=log)
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    log(f"took GPU {gpu} (of {len(gpus)}; {jobs_per_gpu} job(s) per GPU)")
