"""What a long job does about the faults a cluster or a laptop produces.

Stop signals. SLURM ends a job (preemption, time limit, `scancel`) with
SIGTERM to every process of the job, then SIGKILL after a grace period (30 s
by default); Ctrl-C sends SIGINT to every process of the terminal's job.
Inside `stop_requests()` either signal only sets a flag, which a training
engine checks between steps (or chunks): it then saves the state of its
finished epochs and raises `Stopped`, which `jobs.run` turns into one log
line and the exit status of a process ended by that signal.
"""

from __future__ import annotations

import contextlib
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
