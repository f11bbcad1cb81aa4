"""Keep TensorFlow's and XLA's C++ chatter out of job logs.

`jobs.run` pipes a job's stdout and stderr through this filter, `python -m nnstudy.logfilter LOG_FILE` (a
separate process, so that whatever a killed job wrote still reaches its log).  Dropped: absl INFO / WARNING
lines (I0000 …, W0000 …), absl's banner, and ERROR lines known to be harmless; every other line, C++ errors
and Python tracebacks included, is appended to LOG_FILE, or, once LOG_FILE cannot be written (a full disk),
to the terminal after one line saying so.

The filter ignores SIGTERM and SIGINT: SLURM and Ctrl-C send them to every process of a job, and the job's
last lines (a stopped training saying where it stopped) must still reach the log. It ends when the job's end
of the pipe closes, however the job ends.
"""

from __future__ import annotations

import re
import signal
import sys

_ABSL = re.compile(rb"^([IWE])\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# ERROR-level lines that TensorFlow prints on every healthy run.
_HARMLESS_ERRORS = re.compile(
    rb"NodeDef mentions attribute \w+ which is not in the op definition"
    rb"|Unable to register cu(DNN|FFT|BLAS) factory"
    rb"|computation placer already registered"
    rb"|oneDNN supports DT_\w+ only on platforms with"
)


def is_noise(line: bytes) -> bool:
    if line.rstrip(b"\r\n") == _BANNER:
        return True
    match = _ABSL.match(line)
    return match is not None and (match[1] in (b"I", b"W") or bool(_HARMLESS_ERRORS.search(line)))


def main() -> None:
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_IGN)
    with open(sys.argv[1], "ab", buffering=0) as log:
        out = log
        for line in sys.stdin.buffer:
            if is_noise(line):
                continue
            try:
                out.write(line)
            except OSError as err:
                print(
                    f"error: cannot write the log {sys.argv[1]}: {err.strerror}; its lines follow here", file=sys.stderr
                )
                out = sys.stderr.buffer
                out.write(line)


if __name__ == "__main__":
    main()
