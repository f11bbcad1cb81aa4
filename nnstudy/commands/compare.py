"""`nnstudy compare REFERENCE CANDIDATE`: does one study reproduce another?

Each of the two is a study's results folder (results/) or a publication (docs/paper-results/). Offline and in
seconds, from their all_runs.csv and verdicts.csv: per configuration, its seeds and means on each side, the
difference and a verdict (nnstudy.analysis.compare says how it is reached); per verdict of the study's questions,
whether the reference's holds in the candidate. A terminal table, and with --out a folder with the tables as CSV
and a self-contained HTML page in the report's style.

Exit status: 0 when it could compare, 1 with one line on input it cannot use (a missing or damaged table, two
folders of different studies), 3 when a configuration has a verdict named by --fail-on.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path

import pandas as pd

from nnstudy.analysis import compare, formats
from nnstudy.errors import StudyError

FAILED = 3  # a verdict named by --fail-on: not 1 (unusable input) nor 2 (argparse's usage errors)
REPORT = Path(__file__).resolve().parents[2] / "report"
TEMPLATE, STYLESHEET = REPORT / "compare.html.j2", REPORT / "report.css"
FILES = {"configurations": "comparison.csv", "verdicts": "comparison_verdicts.csv", "page": "comparison.html"}
NUMBERS = ("reference", "candidate", "difference")
# The parts of a configuration's name that say a default (plan.PART_A_MODEL, PART_B_MODEL), left out on a terminal.
DEFAULTS = ("layers-1", "dropout-0", "clip-none", "padding-unmasked")
_DEFAULT_PARTS = re.compile(rf"_({'|'.join(DEFAULTS)})(?=_|$)")
STYLES = {
    compare.REPRODUCED: "green", compare.DIFFERS: "bold red", compare.NOT_RESOLVED: "yellow",
    compare.NOT_COMPARABLE: "magenta", compare.ONLY_IN_ONE: "dim",
    compare.HOLDS: "green", compare.REVERSED: "bold red", compare.NO_VERDICT: "dim",
}  # fmt: skip


# ---- cells, as the terminal and the page show them -------------------------------------


def _side(row, side: str) -> str:
    """A side's max test accuracy: "0.8757" (one seed), "0.8571 ± 0.0100" (several), "–" (none)."""
    return formats.accuracy(row[f"{side}_mean"], row[f"{side}_sd"])


def _seeds(row) -> str:
    """Each side's seeds, the reference's first: "1 2 3 · 1", "1 · –"."""
    return f"{row['reference_seeds'] or formats.MISSING} · {row['candidate_seeds'] or formats.MISSING}"


def _difference(row) -> list[str]:
    """The difference and, where both sides have two seeds or more, its 95 % interval below."""
    interval = formats.interval(row["ci_low"], row["ci_high"])
    return [formats.signed(row["difference"])] + ([] if interval == formats.MISSING else [f"[{interval}]"])


def _why(row) -> str:
    """What the reader should know about a row: the settings that differ, then the notes."""
    return "; ".join(text for text in (row["settings"], row["notes"]) if text)


def configuration_cells(configurations: pd.DataFrame) -> list[dict]:
    return [
        {
            "configuration": row["configuration"],
            "seeds": _seeds(row),
            "reference": _side(row, "reference"),
            "candidate": _side(row, "candidate"),
            "difference": _difference(row),
            "verdict": row["verdict"],
            "why": _why(row),
        }
        for _, row in configurations.iterrows()
    ]


def _verdict_side(row, side: str) -> str:
    """A verdict's difference on one side: "+0.0071, n = 1", "−0.0386, n = 3, resolved", "–"."""
    if pd.isna(row[f"{side}_n"]):
        return formats.MISSING
    resolved = ", resolved" if row[f"{side}_resolved"] else ""
    return f"{formats.signed(row[f'{side}_difference'])}, n = {int(row[f'{side}_n'])}{resolved}"


def verdict_cells(verdicts: pd.DataFrame) -> list[dict]:
    return [
        {
            "question": row["question"],
            "comparison": row["comparison"],
            "reference": _verdict_side(row, "reference"),
            "candidate": _verdict_side(row, "candidate"),
            "outcome": row["outcome"],
            "note": row["note"],
        }
        for _, row in verdicts.iterrows()
    ]


def summary(found: compare.Comparison) -> list[str]:
    """The answer in two sentences: the configurations' verdicts, the questions' outcomes."""
    rows = found.configurations
    lines = [f"{len(rows)} configurations: {compare.counts(rows['verdict'], compare.VERDICTS)}."]
    if found.verdicts is None:
        lines.append("Verdicts: neither study has any (no verdicts.csv).")
    else:
        outcomes = compare.counts(found.verdicts["outcome"], compare.OUTCOMES)
        lines.append(f"{len(found.verdicts)} verdicts of the questions, the reference's against the candidate's: "
                     f"{outcomes or 'none'}.")  # fmt: skip
    return lines


# ---- terminal, files ----------------------------------------------------------------------


def show(found: compare.Comparison, console) -> None:
    """The comparison as rich tables, fitted to the console's width (cells as plain text: no markup)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    TABLE = {"box": box.SIMPLE_HEAD, "title_justify": "left", "caption_justify": "left", "pad_edge": False}
    console.print(Text(f"Reference: {found.reference.folder}    Candidate: {found.candidate.folder}"))
    console.print(Text(compare.band_sentence(found.noise), style="dim"))
    table = Table(
        title="Per configuration: max test accuracy, mean ± sd over seeds",
        caption=f"configuration: the run folders' name without seed and defaults ({', '.join(DEFAULTS)})",
        **TABLE,
    )
    rows = configuration_cells(found.configurations)
    columns = ["configuration", "seeds", "reference", "candidate", "difference", "verdict"]
    columns += ["why"] if any(cells["why"] for cells in rows) else []
    for name in columns:
        table.add_column(name, justify="right" if name in NUMBERS else "left", overflow="fold")
    for cells in rows:
        texts = [Text(_DEFAULT_PARTS.sub("", cells["configuration"]))]
        texts += [Text(cells[name]) for name in ("seeds", "reference", "candidate")]
        texts += [Text("\n".join(cells["difference"])), Text(cells["verdict"], style=STYLES[cells["verdict"]])]
        texts += [Text(cells["why"], style="dim" if cells["verdict"] != compare.NOT_COMPARABLE else "")]
        table.add_row(*texts[: len(columns)])
    console.print(table)
    if found.verdicts is not None and len(found.verdicts):
        table = Table(title="Per question: does the reference's verdict hold?", **TABLE)
        for name in ("question", "comparison", "reference", "candidate", "outcome", "note"):
            table.add_column(name, overflow="fold")
        for cells in verdict_cells(found.verdicts):
            texts = [Text(cells[name]) for name in ("question", "comparison", "reference", "candidate")]
            outcome = Text(cells["outcome"], style=STYLES[cells["outcome"]])
            table.add_row(*texts, outcome, Text(cells["note"], style="dim"))
        console.print(table)
    for line in summary(found):
        console.print(Text(line))


def write(found: compare.Comparison, folder: Path) -> dict[str, Path]:
    """The tables as CSV and the page as one self-contained HTML file in `folder`: {what: path}."""
    from nnstudy.report import html

    folder.mkdir(parents=True, exist_ok=True)
    paths = {what: folder / name for what, name in FILES.items()}
    found.configurations.to_csv(paths["configurations"], index=False)
    if found.verdicts is not None:
        found.verdicts.to_csv(paths["verdicts"], index=False)
    else:
        del paths["verdicts"]
    page = {
        "title": "Does the candidate reproduce the reference?",
        "reference": str(found.reference.folder),
        "candidate": str(found.candidate.folder),
        "band": compare.band_sentence(found.noise),
        "summary": summary(found),
        "configurations": configuration_cells(found.configurations),
        "verdicts": verdict_cells(found.verdicts) if found.verdicts is not None else [],
        "generated": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
    paths["page"].write_text(html.render(TEMPLATE, STYLESHEET, page), encoding="utf-8")
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="nnstudy compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="a study's results folder or a publication (docs/paper-results)")
    parser.add_argument("candidate", type=Path, help="the study to check against it (e.g. results)")
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"write {', '.join(FILES.values())} there")
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        choices=[name.replace(" ", "-") for name in compare.VERDICTS],
        help=f"exit with status {FAILED} when a configuration has this verdict (repeat for several)",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=compare.RUN_NOISE,
        help=f"the noise of one run allowed, in max test accuracy (default: {compare.RUN_NOISE}, as measured)",
    )
    args = parser.parse_args(argv)
    try:
        found = compare.compare(compare.read_study(args.reference), compare.read_study(args.candidate), args.noise)
        paths = write(found, args.out) if args.out else {}
    except (StudyError, OSError) as err:
        sys.exit(f"error: {err}")
    from rich.console import Console

    # A terminal's width; piped to a file or a program, wide enough that no verdict breaks over lines.
    show(found, Console(highlight=False, width=None if sys.stdout.isatty() else 160))
    for path in paths.values():
        print(f"wrote {path}")
    failing = found.configurations["verdict"].isin([name.replace("-", " ") for name in args.fail_on])
    if failing.any():
        counted = compare.counts(found.configurations["verdict"][failing], compare.VERDICTS)
        print(f"--fail-on: {counted}", file=sys.stderr)
        sys.exit(FAILED)


if __name__ == "__main__":
    main()
