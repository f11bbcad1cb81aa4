"""Publish a finished study run under docs/ (e.g. docs/paper-results/).

    python -m nnstudy.publish docs/paper-results --results results \
        --snakemake-log .snakemake/log/<run>.snakemake.log --command "snakemake ..."

copies the workflow's own all_runs.csv, study tables and report.html (`COPIED`),
records how the run was made (publication.json) and writes README.md from the
folder's README.md.j2. Every number in README.md comes from all_runs.csv and
the workflow's comparison tables (`render_readme`, which the tests repeat); differences from
the reference beyond `EXPLAIN_ABOVE` need a written explanation in
explanations.yaml, keyed "question: row".

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

import jinja2
import pandas as pd
import yaml

from nnstudy import faults, questions, settings
from nnstudy.analysis import reference, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.identity import git_commit

EXPLAIN_ABOVE = 0.03
# The published tables keep the names of the first publication.
TABLES = {"b5": "b5_models", "b6": "b6_rnn_variants", "masking": "b_masking"}
COMPARED = ("b5", "b6")
# What a publication takes from the results folder: (file under --results, name in the publication).
COPIED = [
    ("tables/all_runs.csv", "all_runs.csv"),
    ("report.html", "report.html"),
    *((f"tables/{question}.md", f"{name}.md") for question, name in TABLES.items()),
    *((f"tables/{question}_reference.csv", f"{question}_reference.csv") for question in COMPARED),
]
# What the publication folder holds before its first publication, written by hand.
HANDWRITTEN = ("README.md.j2", "explanations.yaml")
README_BLOCK = re.compile(r"(<!-- paper-results:b5 -->\n).*?(<!-- /paper-results:b5 -->)", re.DOTALL)


def comparison_rows(question: str, folder: Path) -> list[dict]:
    """Ours beside the reference for B5 or B6, from the workflow's comparison
    table (<question>_reference.csv) in the published folder: one dict per row,
    with a `key` ("Word CNN, without dropout") that explanations.yaml refers to."""
    table = reference.read_comparison(folder / f"{question}_reference.csv")
    names = questions.QUESTIONS[question].keys
    rows = []
    for _, row in table.iterrows():
        difference = row["difference_max_test_accuracy"]
        rows.append(
            {
                "key": ", ".join(str(row[n]) for n in names),
                "ours": row["max_test_accuracy"],
                "reference": row["reference_max_test_accuracy"],
                "difference": difference,
                "ours_mean": row["mean_test_accuracy"],
                "reference_mean": row["reference_mean_test_accuracy"],
                "explain": pd.notna(difference) and abs(difference) > EXPLAIN_ABOVE,
            }
        )
    return rows


def _markdown(rows: list[dict]) -> str:
    lines = [
        "| model | max test acc (ours) | reference | difference | mean test acc (ours) | reference |",
        "|:--|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        cells = [
            row["key"],
            _number(row["ours"]),
            _number(row["reference"]),
            _number(row["difference"], sign=True),
            _number(row["ours_mean"]),
            _number(row["reference_mean"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value, sign=False) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def readme_context(folder: Path) -> dict:
    """What README.md.j2 shows, from the folder's all_runs.csv, comparison tables and publication.json."""
    runs = study_runs.read_all_runs(folder / "all_runs.csv")
    publication = json.loads((folder / "publication.json").read_text())
    part_b = publication["config"]["part_b"]
    explanations = yaml.safe_load((folder / "explanations.yaml").read_text()) or {}
    comparisons = {q: comparison_rows(q, folder) for q in COMPARED}
    missing = [
        f"{q}: {row['key']}"
        for q, rows in comparisons.items()
        for row in rows
        if row["explain"] and f"{q}: {row['key']}" not in explanations
    ]
    if missing:
        raise StudyError(f"{folder / 'explanations.yaml'}: no explanation for {'; '.join(missing)}")
    masking = study_runs.question_runs("masking", runs, part_b)
    engines = runs.groupby(["architecture", "backend", "precision"]).size().reset_index(name="runs")
    return {
        "runs": runs,
        "publication": publication,
        "count": len(runs),
        "epochs": sorted(runs["epochs_run"].unique().tolist()),
        "train_sizes": sorted(runs["train_size"].unique().tolist()),
        "test_sizes": sorted(runs["test_size"].unique().tolist()),
        "seeds": sorted(runs["seed"].unique().tolist()),
        "masked_runs": int(runs["mask_padding"].astype(bool).sum()),
        "engines": engines.to_dict("records"),
        "job_hours": runs["job_seconds"].sum() / 3600,
        "b5": _markdown(comparisons["b5"]),
        "b6": _markdown(comparisons["b6"]),
        "masking": tables.masking_table(masking).to_markdown(index=False, disable_numparse=True),
        "gains": tables.masking_gains(masking),
        "explained": [
            row | {"question": q.upper(), "text": explanations[f"{q}: {row['key']}"].strip()}
            for q, rows in comparisons.items()
            for row in rows
            if row["explain"]
        ],
        "number": _number,
    }


def render_readme(folder: Path) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )
    return environment.get_template("README.md.j2").render(**readme_context(folder))


def readme_block(folder: Path, link: str) -> str:
    """The project README's glance at B5: ours beside the reference."""
    context = readme_context(folder)
    seeds, epochs = ", ".join(map(str, context["seeds"])), ", ".join(map(str, context["epochs"]))
    source = f"From [{link}]({link}) ({context['count']} runs, seed {seeds}, {epochs} epochs); details there."
    return f"{context['b5']}\n\n{source}\n"


def project_readme(readme: Path, folder: Path, link: str) -> str:
    """The project README's text with its B5 block filled from the publication in `folder`."""
    text = readme.read_text()
    if not README_BLOCK.search(text):
        raise StudyError(f"{readme}: no <!-- paper-results:b5 --> block to fill")
    return README_BLOCK.sub(lambda m: m[1] + readme_block(folder, link) + m[2], text)


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
        (staging / "README.md").write_text(render_readme(staging))
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
