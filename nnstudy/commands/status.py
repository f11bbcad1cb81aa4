"""`nnstudy status`: how far each planned training run is, from files alone.

Run in the workflow directory with the study's --config / --configfile. It
reads metrics.json (finished runs), the resume state and the job logs
(running ones) and Snakemake's markers (.snakemake/incomplete, locks), so it
works on a cluster's login node while the jobs run elsewhere.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nnstudy import metrics
from nnstudy.analysis import formats
from nnstudy.errors import StudyError
from nnstudy.study import plan, settings
from nnstudy.train import identity

SILENT_AFTER_SECONDS = 300
STALE = "stale (code changed)"
DAMAGED = "damaged"  # a metrics.json that does not parse (cut short, a bad copy)
TRAINED = ("done", STALE, DAMAGED)  # no epoch left to train
_FAILURE = re.compile(r"^(\[[\d:]+\] error: |Traceback )", re.MULTILINE)


@dataclass
class RunStatus:
    run: plan.Run
    state: str  # done, STALE (done by code that computes otherwise), "stale (settings: …)" (trained again),
    # DAMAGED, running, interrupted, failed or waiting
    epochs_done: int
    last_accuracy: float | None = None
    best_accuracy: float | None = None
    seconds_per_epoch: float | None = None
    eta_seconds: float | None = None

    @property
    def epochs_total(self) -> int:
        return self.run.settings["epochs"]

    @property
    def kin(self) -> list[str]:
        """Runs that train alike, closest first (for the ETA of runs not started): the same model with another
        seed, the same network (CNN channels or text model), the same kind (convolutional or recurrent)."""
        settings, part = self.run.settings, self.run.part
        network = f"{settings['c1']}-{settings['c2']}" if part == "part_a" else settings["architecture"]
        kind = "cnn" if part == "part_a" or settings["architecture"] == "cnn" else "rnn"
        return [f"run {self.run.model}", f"model {part} {network}", f"kind {part} {kind}"]


def _incomplete(workdir: Path, path: str) -> bool:
    marker = base64.urlsafe_b64encode(path.encode()).decode()
    return (workdir / ".snakemake/incomplete" / marker).exists()


def _snakemake_running(workdir: Path) -> bool:
    return any((workdir / ".snakemake/locks").glob("*.lock"))


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_status(workdir: Path, run: plan.Run, resume_dir: str, snakemake_running: bool) -> RunStatus:
    metrics_path = run.metrics
    started = _incomplete(workdir, metrics_path)
    document, damaged = None, False
    if not started and (workdir / metrics_path).exists():
        try:
            document = metrics.read(workdir / metrics_path)
        except StudyError:
            damaged = True
    if document is not None:
        history = document["history"]
        changes = run.changes(plan.recorded_settings(document))
        if changes:
            state = f"stale (settings: {', '.join(changes)})"
        else:
            cache = workdir / resume_dir / "identity"
            changed = identity.finished_difference(
                document.get("code"), run.settings, cache, identity.workflow_package(workdir)
            )
            state = STALE if changed else "done"
        return RunStatus(
            run,
            state,
            len(history),
            last_accuracy=history[-1]["test_accuracy"] if history else None,
            best_accuracy=document["summary"]["max_test_accuracy"],
            seconds_per_epoch=document["summary"]["seconds_per_epoch"],
            # A run trained again with other settings: all its epochs, at the speed it had.
            eta_seconds=0.0 if state in TRAINED else run.settings["epochs"] * document["summary"]["seconds_per_epoch"],
        )
    saved = (_json(workdir / run.state_dir(resume_dir) / "history.json") or {}).get("history") or []
    log_path = workdir / run.log
    try:
        log, silent = log_path.read_text(errors="replace"), time.time() - log_path.stat().st_mtime
    except OSError:
        log, silent = "", float("inf")
    logged = [(e["epoch"], e["test_accuracy"], e["seconds"]) for e in metrics.logged_epochs(log)]
    # A job whose log has been silent for many epochs' time died with its
    # Snakemake (a SIGKILL leaves Snakemake's locks behind).
    typical = statistics.median(s for _, _, s in logged[-10:]) if logged else 0.0
    alive = silent < SILENT_AFTER_SECONDS + 10 * typical
    if started:
        status = "running" if snakemake_running and alive else "interrupted"
    elif damaged:
        status = DAMAGED
    elif _FAILURE.search(log):
        status = "failed"
    else:
        status = "interrupted" if saved else "waiting"
    # A running job's log is ahead of its last checkpoint; otherwise the
    # resume state says where the next attempt starts.
    if status == "running" and logged:
        done, last = logged[-1][0], logged[-1][1]
        best = max(a for _, a, _ in logged)
        if saved:
            best = max(best, *(entry["test_accuracy"] for entry in saved))
    else:
        done = len(saved)
        last = saved[-1]["test_accuracy"] if saved else None
        best = max(entry["test_accuracy"] for entry in saved) if saved else None
    seconds = [s for _, _, s in logged[-10:]] or [entry["seconds"] for entry in saved[-10:] if "seconds" in entry]
    per_epoch = statistics.median(seconds) if seconds else None
    eta = max(0, run.settings["epochs"] - done) * per_epoch if per_epoch else None
    return RunStatus(run, status, done, last, best, per_epoch, eta)


def study_status(workdir: Path, study: dict) -> tuple[list[RunStatus], list[str]]:
    """Every planned run's status, and the runs not yet known (A3 before its pair)."""
    folders, pending = plan.study_runs(study, workdir)
    snakemake_running = _snakemake_running(workdir)
    resume_dir = study["training"]["resume_dir"]
    statuses = [run_status(workdir, plan.run(study, folder), resume_dir, snakemake_running) for folder in folders]
    # Runs not started: the speed of their finished or running kin, if any.
    speeds = {}
    for s in statuses:
        if s.seconds_per_epoch:
            for key in s.kin:
                speeds.setdefault(key, []).append(s.seconds_per_epoch)
    for s in statuses:
        known = next((speeds[key] for key in s.kin if key in speeds), None)
        if s.eta_seconds is None and known:
            s.eta_seconds = max(0, s.epochs_total - s.epochs_done) * statistics.median(known)
    return statuses, pending


def _settings_changed(status: RunStatus) -> bool:
    return status.state.startswith("stale (settings")


def render(statuses: list[RunStatus], pending: list[str]) -> str:
    header = ("run", "state", "epochs", "last acc", "best acc", "s/epoch", "ETA")
    rows = [
        (
            s.run.name,
            s.state,
            f"{s.epochs_done}/{s.epochs_total}",
            formats.accuracy(s.last_accuracy),
            formats.accuracy(s.best_accuracy),
            formats.seconds(s.seconds_per_epoch),
            formats.MISSING if s.state in TRAINED else formats.duration(s.eta_seconds),
        )
        for s in statuses
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in [header, *rows]
    ]
    return "\n".join([*lines, "", summary(statuses, pending)])


def summary(statuses: list[RunStatus], pending: list[str]) -> str:
    counts = {
        state: sum(s.state == state for s in statuses)
        for state in (*TRAINED, "running", "interrupted", "failed", "waiting")
    }
    counts["stale (settings changed)"] = sum(map(_settings_changed, statuses))
    parts = [f"{n} {state}" for state, n in counts.items() if n or state == "done"]
    text = f"{len(statuses)} runs: " + ", ".join(parts)
    if pending:
        text += f"; {len(pending)} more ({', '.join(pending)}) once the grid picks the A3 pair"
    if counts["stale (settings changed)"]:
        text += "; this config's settings are not those the stale ones were trained with: `snakemake` trains them again"
    if counts[STALE]:
        text += "; --forcerun their targets to train them with today's code"
    if counts[DAMAGED]:
        targets = " ".join(s.run.metrics for s in statuses if s.state == DAMAGED)
        text += f"; to write the damaged anew, run the study's snakemake command with --forcerun {targets}"
    remaining = [s for s in statuses if s.state not in TRAINED]
    if remaining:
        unknown = sum(s.eta_seconds is None for s in remaining)
        if unknown == len(remaining):
            return text + ". Time left: known once a run has logged an epoch."
        parallel = max(1, counts["running"])
        left = sum(s.eta_seconds or 0.0 for s in remaining) / parallel
        text += f". About {formats.duration(left)} left at {parallel} job{'s' if parallel > 1 else ''} at a time"
        if unknown:
            text += f" (plus {unknown} run{'s' if unknown > 1 else ''} of unknown speed)"
    return text + "."


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="nnstudy status", description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", "-d", type=Path, default=Path("."), help="the workflow directory")
    parser.add_argument("--configfile", type=Path, nargs="+", default=[], help="as given to snakemake")
    parser.add_argument("--config", nargs="+", default=[], metavar="KEY=VALUE", help="as given to snakemake")
    parser.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=10.0,
        metavar="SECONDS",
        help="refresh every SECONDS (default 10) until Ctrl-C",
    )
    args = parser.parse_args(argv)
    try:
        study = settings.load(args.directory, args.configfile, args.config)
        while True:
            text = render(*study_status(args.directory, copy.deepcopy(study)))
            if args.watch and sys.stdout.isatty():
                sys.stdout.write("\033[H\033[2J")  # redraw in place
            elif args.watch:
                text = f"--- {time.strftime('%H:%M:%S')}\n{text}"
            print(text, flush=True)
            if not args.watch:
                return
            time.sleep(args.watch)
    except StudyError as err:
        sys.exit(f"error: {err}")
    except KeyboardInterrupt:
        pass
