"""Publish a finished study run under docs/ (e.g. docs/paper-results/).

    python -m nnstudy.publish docs/paper-results --results results \
        --snakemake-log .snakemake/log/<run>.snakemake.log --command "snakemake ..."

copies the workflow's own all_runs.csv, study tables, verdicts and report.html,
records how the run was made (publication.json) and writes README.md from the
folder's README.md.j2. Every number in README.md comes from all_runs.csv and
the workflow's comparison and verdict tables (`render_readme`, which the tests
repeat); a difference from the reference the workflow flags (beyond 0.03 and,
with several seeds, outside our seeds' range: nnstudy.analysis.stats) needs a
written explanation in explanations.yaml, keyed "question: row". The run's
report shows those explanations beside their rows when the run is made with
the folder's config (`--configfile <folder>/config.yaml`: rules/common.smk,
report_inputs).

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

from nnstudy import faults, questions, settings
from nnstudy.analysis import formats, reference, stats, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.identity import git_commit

# The published tables keep the names of the first publication.
TABLES = {"b5": "b5_models", "b6": "b6_rnn_variants", "masking": "b_masking"}
COMPARED = ("b5", "b6")
# What a publication takes from the results folder: (file under --results, name in the publication).
COPIED = [
    ("tables/all_runs.csv", "all_runs.csv"),
    ("report.html", "report.html"),
    *((f"tables/{question}.md", f"{name}.md") for question, name in TABLES.items()),
    *((f"tables/{question}_reference.csv", f"{question}_reference.csv") for question in COMPARED),
    ("tables/verdicts.csv", "verdicts.csv"),
]
# What the publication folder holds before its first publication, written by hand.
HANDWRITTEN = ("README.md.j2", "explanations.yaml")
README_BLOCK = re.compile(r"(<!-- paper-results:glance -->\n).*?(<!-- /paper-results:glance -->)", re.DOTALL)


def anchor(text: str) -> str:
    """The link target GitHub gives a Markdown heading: "B5: Word CNN, with dropout" → "b5-word-cnn-with-dropout"."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def comparison_rows(question: str, folder: Path, runs: pd.DataFrame, config: dict) -> list[dict]:
    """Ours beside the reference for B5 or B6: the reference, the difference
    and whether the workflow flagged it to explain from its comparison table
    (<question>_reference.csv) in the published folder, ours (max, final epoch
    and mean over epochs, with their intervals over seeds) from all_runs.csv
    (`runs`; config: the part's). One dict per row, with the key
    explanations.yaml names it by ("b5: Word CNN, with dropout")."""
    keys = questions.QUESTIONS[question].keys
    theirs = reference.read_comparison(folder / f"{question}_reference.csv")
    ours = tables.summary(study_runs.question_runs(question, runs, config), keys, list(tables.ACCURACIES))
    table = theirs.drop(columns=[c for c in ours if c in theirs and c not in keys]).merge(ours, on=keys, how="left")
    rows = []
    for _, row in table.iterrows():
        key = reference.row_key(question, row)
        name = key.split(": ", 1)[1]
        rows.append(
            {
                "key": name,
                "explanation_key": key,
                "anchor": anchor(f"{question.upper()}: {name}"),
                "ours": {statistic: _ours(row, statistic) for statistic in tables.ACCURACIES},
                "reference": formats.accuracy(row["reference_max_test_accuracy"]),
                "reference_mean": formats.accuracy(row["reference_mean_test_accuracy"]),
                "difference": formats.signed(row["difference_max_test_accuracy"]),
                "explain": str(row["explain_max_test_accuracy"]) == "True",
            }
        )
    return rows


def _ours(row, statistic: str) -> str:
    """Our mean over seeds, with its 95 % interval when there are several."""
    interval = formats.interval(row[f"{statistic}_ci_low"], row[f"{statistic}_ci_high"])
    return formats.accuracy(row[statistic]) + (f" ({interval})" if row["seeds"] > 1 else "")


def _markdown(rows: list[dict], link: str = "") -> str:
    """A comparison as Markdown: max over epochs (ours, the reference's, the
    difference), ours at the final epoch, mean over epochs (ours, the
    reference's), and a link to the explanation of a difference to explain."""
    lines = [
        "| model | max: ours | max: reference | difference | final epoch: ours | mean: ours | mean: reference | why |",
        "|:--|--:|--:|--:|--:|--:|--:|:--|",
    ]
    for row in rows:
        ours, why = row["ours"], f"[explained]({link}#{row['anchor']})" if row["explain"] else ""
        cells = [row["key"], ours["max_test_accuracy"], row["reference"], row["difference"]]
        cells += [ours["final_test_accuracy"], ours["mean_test_accuracy"], row["reference_mean"], why]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_context(folder: Path, link: str = "") -> dict:
    """What README.md.j2 shows, from the folder's all_runs.csv, comparison
    tables, verdicts.csv and publication.json (`link`: where the explanations
    are, for the glance; "" inside README.md)."""
    runs = study_runs.read_all_runs(folder / "all_runs.csv")
    publication = json.loads((folder / "publication.json").read_text())
    part_b = publication["config"]["part_b"]
    explanations = reference.read_explanations(folder / "explanations.yaml")
    comparisons = {q: comparison_rows(q, folder, runs, part_b) for q in COMPARED}
    missing = [row["explanation_key"] for rows in comparisons.values() for row in rows
               if row["explain"] and row["explanation_key"] not in explanations]  # fmt: skip
    if missing:
        raise StudyError(f"{folder / 'explanations.yaml'}: no explanation for {'; '.join(missing)}")
    masking = study_runs.question_runs("masking", runs, part_b)
    engines = runs.groupby(["architecture", "backend", "precision"]).size().reset_index(name="runs")
    verdicts = pd.read_csv(folder / "verdicts.csv", dtype=str, keep_default_na=False)
    seeds = sorted(runs["seed"].unique().tolist())
    return {
        "runs": runs,
        "publication": publication,
        "count": len(runs),
        "epochs": sorted(runs["epochs_run"].unique().tolist()),
        "train_sizes": sorted(runs["train_size"].unique().tolist()),
        "test_sizes": sorted(runs["test_size"].unique().tolist()),
        "seeds": seeds,
        "masked_runs": int(runs["mask_padding"].astype(bool).sum()),
        "engines": engines.to_dict("records"),
        "job_hours": runs["job_seconds"].sum() / 3600,
        **{q: _markdown(rows, link) for q, rows in comparisons.items()},
        "masking": tables.masking_table(masking).to_markdown(index=False, disable_numparse=True),
        "gains": tables.masking_gains(masking),
        "verdicts": {
            q: list(rows[rows["statistic"] == "max_test_accuracy"]["sentence"])
            for q, rows in verdicts.groupby("question", sort=False)
        },
        "optimism": stats.optimism_sentence(runs),
        "explained": [
            row | {"question": q.upper(), "text": explanations[row["explanation_key"]]}
            for q, rows in comparisons.items()
            for row in rows
            if row["explain"]
        ],
        "number": lambda value, sign=False: (formats.signed if sign else formats.accuracy)(value),
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
    """The project README's glance at B5 and B6: ours beside the reference,
    each difference to explain linked to its explanation."""
    context = readme_context(folder, link)
    seeds, epochs = ", ".join(map(str, context["seeds"])), ", ".join(map(str, context["epochs"]))
    several = len(context["seeds"]) > 1
    ours = f"the mean of {len(context['seeds'])} seeds (its 95 % interval)" if several else "one seed's"
    return (
        f"Test accuracy, ours beside the reference report's: max and mean over a run's {epochs} epochs and ours at "
        f"the final epoch; ours is {ours}. A difference beyond 0.03 links to why.\n\nB5:\n\n{context['b5']}\n\n"
        f"B6 (the GRU rows are B5's Char / Word RNN):\n\n{context['b6']}\n\nFrom [{link}]({link}) "
        f"({context['count']} runs, seed{'s' * several} {seeds}, {epochs} epochs); details there.\n"
    )


def project_readme(readme: Path, folder: Path, link: str) -> str:
    """The project README's text with its B5 block filled from the publication in `folder`."""
    text = readme.read_text()
    if not README_BLOCK.search(text):
        raise StudyError(f"{readme}: no <!-- paper-results:glance --> block to fill")
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
