"""Publish a finished study run under docs/ (e.g. docs/paper-results/).

    python -m nnstudy.commands.publish docs/paper-results --results results \
        --snakemake-log .snakemake/log/<run>.snakemake.log --command "snakemake ..."

copies the workflow's own all_runs.csv, histories, study tables, verdicts and
report.html, records how the run was made (publication.json) and writes
README.md from the folder's README.md.j2 (nnstudy.report.readme). The run's
report shows the folder's explanations.yaml beside the rows they explain when
the run is made with the folder's config (`--configfile <folder>/config.yaml`).

All or nothing: the inputs are checked first, and the publication is put
together in a temporary folder beside the destination, which it replaces
once complete; a failure leaves the destination (an earlier publication
included) and the project README as they were.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path

from nnstudy import faults
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.report.readme import COMPARED, project_readme, render_readme
from nnstudy.study import settings
from nnstudy.train.identity import git_commit

# The published tables keep the names of the first publication.
TABLES = {"b5": "b5_models", "b6": "b6_rnn_variants", "masking": "b_masking"}
# What a publication takes from the results folder: (file under --results, name in the publication).
COPIED = [
    ("tables/all_runs.csv", "all_runs.csv"),
    ("report.html", "report.html"),
    *((f"tables/{question}.md", f"{name}.md") for question, name in TABLES.items()),
    *((f"tables/{question}_reference.csv", f"{question}_reference.csv") for question in COMPARED),
    ("tables/verdicts.csv", "verdicts.csv"),
]
# Every epoch of every run: histories.csv, or histories.csv.gz for a large study (nnstudy.analysis.stats).
HISTORIES = ("tables/histories.csv", "tables/histories.csv.gz")
# What the publication folder holds before its first publication, written by hand.
HANDWRITTEN = ("README.md.j2", "explanations.yaml")


def run_times(snakemake_log: Path) -> tuple[str, float]:
    """Start date and wall time of a Snakemake run, from its log's time stamps."""
    stamps = re.findall(r"^\[(\w{3} \w{3} +\d+ [\d:]{8} \d{4})\]$", snakemake_log.read_text(), re.MULTILINE)
    if not stamps:
        raise StudyError(f"{snakemake_log}: no time stamps (not a Snakemake log?)")
    times = [datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y") for stamp in stamps]
    return times[0].strftime("%Y-%m-%d %H:%M"), (times[-1] - times[0]).total_seconds()


def _machine() -> str:
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def publish(
    folder: Path,
    *,
    results: Path,
    config: dict,
    command: str,
    snakemake_logs: list[Path],
    readme: Path | None,
    note: str = "",
) -> None:
    """Copy the run's files into `folder`, record its making, write README.md; all or nothing (see the module)."""
    missing = [source for source, _ in COPIED if not (results / source).is_file()]
    histories = [results / name for name in HISTORIES if (results / name).is_file()]
    missing += [] if histories else [" or ".join(HISTORIES)]
    if missing:
        raise StudyError(f"{results}: no finished study to publish (no {', '.join(missing)}); run the study first")
    missing = [name for name in HANDWRITTEN if not (folder / name).is_file()]
    if missing:
        raise StudyError(f"{folder}: no {' or '.join(missing)} (a publication folder holds both before its first run)")
    study_runs.read_all_runs(results / "tables/all_runs.csv")  # a damaged table is named here, not in the copy
    times = [run_times(path) for path in snakemake_logs]
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        shutil.copytree(folder, staging, dirs_exist_ok=True)  # the hand-written files, and the folder's mode
        for source, name in COPIED:
            shutil.copy(results / source, staging / name)
        for old in staging.glob("histories.csv*"):  # a republished study may have changed size
            old.unlink()
        shutil.copy(histories[0], staging / histories[0].name)
        publication = {
            "command": command,
            "note": note,
            "config": config,
            # The checkout that ran the workflow (its results folder's), not this one.
            "commit": git_commit(results.resolve().parent),
            "machine": _machine(),
            "started": times[0][0],
            "wall_seconds": sum(seconds for _, seconds in times),
            "snakemake_invocations": len(times),
        }
        (staging / "publication.json").write_text(json.dumps(publication, indent=1) + "\n")
        try:
            (staging / "README.md").write_text(render_readme(staging))
        except StudyError as err:  # named by the folder the user gave, not the staging copy
            raise StudyError(str(err).replace(str(staging), str(folder))) from None
        if readme is not None:
            link = os.path.relpath(folder, readme.parent) + "/README.md"
            text = project_readme(readme, staging, link)
        _replace_folder(folder, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if readme is not None:
        faults.write_atomically(readme, lambda partial: partial.write_text(text))


def _replace_folder(folder: Path, new: Path) -> None:
    """Put the folder `new` in the place of `folder`; the old one goes once the new one is in place."""
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
    os.rename(folder, old / folder.name)
    try:
        os.rename(new, folder)
    except BaseException:
        os.rename(old / folder.name, folder)
        old.rmdir()
        raise
    shutil.rmtree(old)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="nnstudy publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to publish (holds README.md.j2 and explanations.yaml)")
    parser.add_argument("--results", type=Path, default=Path("results"), help="the finished run's results folder")
    parser.add_argument("--configfile", type=Path, required=True, help="the config the run used")
    parser.add_argument("--command", required=True, help="the command that made the run")
    parser.add_argument(
        "--snakemake-log",
        type=Path,
        action="append",
        required=True,
        help="Snakemake's log of the run (repeat for a run made in several invocations)",
    )
    parser.add_argument("--note", default="", help="how the run was made, beyond the command (one paragraph)")
    parser.add_argument("--readme", default="README.md", help="project README with the B5 block ('' leaves it alone)")
    args = parser.parse_args(argv)
    try:
        publish(
            args.folder, results=args.results, config=settings.load(Path("."), [args.configfile]),
            command=args.command, snakemake_logs=args.snakemake_log,
            readme=Path(args.readme) if args.readme else None, note=args.note,
        )  # fmt: skip
    except (StudyError, OSError) as err:
        sys.exit(f"error: {err}")
    print(f"published {args.folder}")


if __name__ == "__main__":
    main()
