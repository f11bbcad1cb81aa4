"""Give each concurrent training job its own GPU.

Snakemake's `gpu` resource only caps how many training jobs run at once; it
never tells a job which GPU to use (snakemake issue 281), so every job would
land on GPU 0.  Before TensorFlow starts, a job takes a free slot — an
exclusive `flock` on a file per (GPU, k) — and sets CUDA_VISIBLE_DEVICES to
that GPU.  The kernel drops the lock when the process ends, however it ends,
so a killed job never leaves a slot taken.  With `jobs_per_gpu` = k, k small
jobs share one GPU (TensorFlow's memory growth is on).  An existing
CUDA_VISIBLE_DEVICES (set by SLURM, or by the user) is left alone.

The lock files live in a folder of the user's own, by default
/tmp/nnstudy-gpu-slots-<uid>: a fixed path, not $TMPDIR or $XDG_RUNTIME_DIR,
because every job of the user must find the same folder, and SLURM gives each
job its own TMPDIR while logind removes XDG_RUNTIME_DIR at logout.  So that no
one else can block, redirect or share a slot, the folder must belong to the
user, be no symbolic link and be writable by no one else, and lock files are
opened without following symbolic links.  A job waits at most `wait_minutes`
for a slot, then fails naming who holds them (each holder writes its pid into
its lock file).  A held lock file that is deleted is put back by its holder;
waiters leave a missing file to its holder for a few seconds before they create
it, which is why a new lock folder is created whole, with every slot file in it.
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

DEFAULT_WAIT_MINUTES = 120
_GUARD_SECONDS = 1.0  # how often a holder checks that its lock file is still in place
_MISSING_GRACE_SECONDS = 5.0  # how long a waiter leaves a missing lock file to its holder to put back
_REPORT_SECONDS = 300.0  # how often a waiting job says it still waits
_SLOT_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC


def visible_gpus() -> list[str]:
    """Indices of the machine's NVIDIA GPUs, asked of nvidia-smi (no TensorFlow)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def default_lock_dir() -> Path:
    """The user's own slot folder, the same for every job of the user (see the module docstring)."""
    return Path(f"/tmp/nnstudy-gpu-slots-{os.getuid()}")


def _unusable(lock_dir: Path, problem: str) -> StudyError:
    return StudyError(f"training.gpu.lock_dir: {lock_dir} {problem}")


def _why(err: OSError, lock_dir: Path) -> str:
    """The user's words for why the lock folder cannot be created or opened."""
    if os.path.islink(lock_dir):
        return "is a symbolic link; set training.gpu.lock_dir to a real folder"
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        found = next(path for path in (lock_dir, *lock_dir.parents) if os.path.lexists(path))
        return f"is not usable: {found} is not a folder"
    return f"is not usable ({err.strerror})"


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


def _check_safe(dir_fd: int, lock_dir: Path) -> None:
    """Refuse a folder in which another user could plant, delete or lock slot files."""
    info = os.fstat(dir_fd)
    if info.st_uid != os.getuid():
        problem = f"belongs to uid {info.st_uid}, not to you (uid {os.getuid()}); set training.gpu.lock_dir elsewhere"
    elif info.st_mode & 0o022:
        problem = f"is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); chmod go-w it"
    else:
        return
    os.close(dir_fd)
    raise _unusable(lock_dir, problem)


def open_lock_dir(lock_dir: Path, names: list[str]) -> int:
    """Open (creating it if need be) a lock folder that only this user controls; return its descriptor."""
    try:
        _create(lock_dir, names)
        dir_fd = os.open(lock_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise _unusable(lock_dir, _why(err, lock_dir)) from None
    _check_safe(dir_fd, lock_dir)
    return dir_fd


def _on_path(fd: int, dir_fd: int, name: str) -> bool:
    """Whether the locked file is still the one named `name`: a lock on a deleted file guards nothing."""
    try:
        named = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _open_slot(dir_fd: int, lock_dir: Path, name: str, create: bool) -> int | None:
    """Open a slot's lock file without following a symbolic link; None if it is missing."""
    try:
        return os.open(name, _SLOT_FLAGS | (os.O_CREAT if create else 0), 0o600, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        if os.path.islink(lock_dir / name):
            raise StudyError(
                f"training.gpu.lock_dir: {lock_dir / name} is a symbolic link, not a lock file; remove it"
            ) from None
        raise StudyError(f"training.gpu.lock_dir: {lock_dir / name} is not usable ({err.strerror})") from None


def _locked(fd: int) -> int | None:
    """`fd`, exclusively locked; None (and `fd` closed) if another process holds the lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _take(dir_fd: int, lock_dir: Path, name: str, create: bool) -> int | None:
    """Lock the slot file now on the path; None if it is busy (or missing and not to be created)."""
    while True:
        fd = _open_slot(dir_fd, lock_dir, name, create)
        if fd is None or _locked(fd) is None:
            return None
        if _on_path(fd, dir_fd, name):
            return fd
        os.close(fd)  # it was deleted or replaced meanwhile: try the file on the path now


def _may_create(dir_fd: int, name: str, missing_since: dict, now: float) -> bool:
    """Whether a lock file has been missing longer than a live holder takes to put it back."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return now - missing_since.setdefault(name, now) >= _MISSING_GRACE_SECONDS
    missing_since.pop(name, None)
    return False


def _claim(fd: int) -> None:
    """Write the holder's pid into its lock file, for the wait-limit message and for people.

    The lock holds without it: on a full disk (/tmp, most often) the pid is left out, not the job.
    """
    os.ftruncate(fd, 0)
    with contextlib.suppress(OSError):
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _put_back(dir_fd: int, name: str) -> int | None:
    """Recreate and lock a deleted lock file of ours; None if another job got there first."""
    try:
        fd = os.open(name, _SLOT_FLAGS | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
    except OSError:
        return None
    if _locked(fd) is None:
        return None
    _claim(fd)
    return fd


def _guard(fd: int, dir_fd: int, path: Path, gpu: str, log) -> None:
    """Keep this job's lock file on its path for the life of the process, so that no waiter takes the slot."""
    while True:
        time.sleep(_GUARD_SECONDS)
        if _on_path(fd, dir_fd, path.name):
            continue
        new_fd = _put_back(dir_fd, path.name)
        if new_fd is None:
            log(f"warning: {path} was deleted while this job held it; another job may now share GPU {gpu}")
            return
        os.close(fd)
        fd = new_fd


def _holder(dir_fd: int, name: str) -> str:
    """Who holds a slot, as its holder wrote it in the lock file."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return f"{name} (missing)"
    try:
        pid = os.read(fd, 32).decode(errors="replace").strip()
    finally:
        os.close(fd)
    return f"{name} by pid {pid if pid.isdigit() else '?'}"


def _holders(dir_fd: int, slots: list[tuple[str, str]]) -> str:
    return ", ".join(_holder(dir_fd, name) for _, name in slots)


def _wait(
    dir_fd: int, lock_dir: Path, slots: list[tuple[str, str]], wait_minutes: float, poll_seconds: float, log
) -> tuple[int, str, str]:
    """Poll the slots until one is free, saying so now and then; give up after wait_minutes."""
    started = time.monotonic()
    deadline, next_report, missing_since = started + 60 * wait_minutes, started, {}
    while True:
        now = time.monotonic()
        for gpu, name in slots:
            fd = _take(dir_fd, lock_dir, name, _may_create(dir_fd, name, missing_since, now))
            if fd is not None:
                return fd, gpu, name
        if now >= deadline:
            raise StudyError(
                f"training.gpu.wait_minutes: no GPU slot in {lock_dir} came free in {wait_minutes:g} min "
                f"(held: {_holders(dir_fd, slots)}); end those jobs or raise training.gpu.wait_minutes"
            )
        if now >= next_report:
            if next_report == started:
                log(
                    f"all {len(slots)} GPU slots in {lock_dir} are busy ({_holders(dir_fd, slots)}); "
                    f"waiting up to {wait_minutes:g} min for one"
                )
            else:
                log(f"still waiting for a GPU slot after {(now - started) / 60:.0f} min ({_holders(dir_fd, slots)})")
            next_report = now + _REPORT_SECONDS
        time.sleep(max(0.0, min(poll_seconds, deadline - now)))


def acquire(
    gpus: list[str],
    lock_dir: Path,
    jobs_per_gpu: int = 1,
    wait_minutes: float = DEFAULT_WAIT_MINUTES,
    poll_seconds: float = 0.5,
    log=print,
) -> str:
    """Wait (at most wait_minutes) until a slot is free; hold it for this process's life; return its GPU.

    Slots fill breadth-first (one job on every GPU before a second on any).
    """
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


def assign_gpu(
    lock_dir: str | Path, jobs_per_gpu: int = 1, log=print, wait_minutes: float = DEFAULT_WAIT_MINUTES
) -> None:
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
