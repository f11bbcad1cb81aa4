"""What a long job does about the faults a cluster or a laptop produces.

Stop signals. SLURM ends a job (preemption, time limit, `scancel`) with
SIGTERM to every process of the job, then SIGKILL after a grace period (30 s
by default); Ctrl-C sends SIGINT to every process of the terminal's job.
Inside `stop_requests()` either signal only sets a flag, which a training
engine checks between steps (or chunks): it then saves the state of its
finished epochs and raises `Stopped`, which `jobs.run` turns into one log
line and the exit status of a process ended by that signal.

Files that later runs read back (a resume state, metrics.json, a model) are
written with `write_atomically`: a reader sees the old file or the whole new
one, and a failed write (a full disk) leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from pathlib import Path

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# A full disk, a quota or a read-only folder: the user's to fix, no bug of ours.
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


class Stopped(Exception):
    """A job that ended on a stop signal after saving what it had to: no failure of its own."""

    def __init__(self, signum: int, detail: str):
        super().__init__(f"stopped by {signal.Signals(signum).name} {detail}")
        self.exit_status = 128 + signum  # what a shell reports for a process ended by the signal


class StopRequest:
    """False until a stop signal arrives inside `stop_requests()`; then its number is `signum`."""

    signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_requests():
    """Within, SIGTERM and SIGINT set the yielded StopRequest instead of ending the
    process (the first one counts); on leaving, they end it again. The main thread
    must enter it: Python runs signal handlers there only."""
    request = StopRequest()

    def record(signum, frame):
        request.signum = request.signum or signum

    previous = {number: signal.signal(number, record) for number in STOP_SIGNALS}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def write_atomically(path, write) -> None:
    """`write(partial)` into a file beside `path`, then rename it to `path`; on any failure the partial file goes."""
    path = Path(path)
    partial = path.with_name(f"{path.name}.part{path.suffix}")  # Keras saves only to names ending in .keras
    try:
        write(partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def unwritable(err: BaseException, where: str) -> str | None:
    """A full disk, quota or read-only folder in one line naming the file (else `where`); None for other errors."""
    if isinstance(err, OSError) and err.errno in WRITE_ERRORS:
        return f"cannot write {err.filename or where}: {err.strerror}; free space (or make it writable) and run again"
    return None
