"""The study's tables as the template shows them: a header and rows of cells.

A cell is one or more lines of text: a mean, with its spread (± sd, the 95 %
interval) on the lines below, so that a table of several seeds is no wider
than one of one seed. A row may carry a note, shown across the table under
it: the reference report's note on that row, and the explanation of its
difference when the report is rendered with a publication's explanations.
"""

from __future__ import annotations

import re

import pandas as pd

from nnstudy.analysis import formats, reference, tables
from nnstudy.study import questions

# A cell that reads as a number: 0.1234, -3, +0.05, <0.001, 0.5 ± 0.01, 0.85–0.90, (90, 100), –, empty.
_NUMBER = re.compile(r"[-+<]?\d+(\.\d+)?(( ± |–)\d+(\.\d+)?)?|\(\d+, \d+\)|–|")
_TITLES = tables.ACCURACIES | tables.TIMES
# The all-runs table: {all_runs.csv column: title}; `padding` is made from mask_padding.
ALL_RUNS = {
    "part": "part", "label": "run", "padding": "padding", "seed": "seed", "c1": "c1", "c2": "c2",
    "pixel_layout": "pixel layout", "optimizer": "optimizer", "dropout": "dropout", "clip_mode": "clip",
    "clip_threshold": "clip at", "clip_rate": "clip acted", "max_test_accuracy": "max test acc",
    "final_test_accuracy": "final-epoch test acc", "mean_test_accuracy": "mean test acc", "best_epoch": "best epoch",
    "epochs_run": "epochs", "parameters": "parameters", "train_seconds": "training time (s)",
    "job_seconds": "job time (s)",
}  # fmt: skip


def cell(*lines, strong: bool = False) -> dict:
    """A cell of these lines (empty ones after the first left out); `strong` marks it (a difference to explain)."""
    return {"lines": [str(lines[0]), *(str(line) for line in lines[1:] if line)], "strong": strong}


def table(columns, rows, groups=None) -> dict:
    """A table for the template: header names, rows (lists of cells, or
    {"cells", "note"}), optional column groups [(title, span)], which columns
    hold text (left-aligned) rather than numbers, and whether some cell has
    its spread below it."""
    rows = [row if isinstance(row, dict) else {"cells": row, "note": ""} for row in rows]
    numeric = [all(_NUMBER.fullmatch(row["cells"][i]["lines"][0]) for row in rows) for i in range(len(columns))]
    for row in rows:
        for is_number, c in zip(numeric, row["cells"]):
            # Prose (notes, long labels) wraps; numbers never do.
            flags = (not is_number, c["strong"], len(c["lines"][0]) > 40)
            c["class"] = " ".join(name for name, on in zip(("text", "strong", "long"), flags) if on)
    return {
        "columns": [str(column) for column in columns],
        "rows": rows,
        "groups": groups,
        "text_columns": [i for i, is_number in enumerate(numeric) if not is_number],
        "spread": any(len(c["lines"]) > 1 for row in rows for c in row["cells"]),
    }


def read_table(path) -> dict:
    """A study table (CSV) as its text cells; an interval column (tables.CI)
    becomes the second line of its statistic's cells."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    shown = [column for column in frame.columns if not column.endswith(tables.CI)]
    rows = [[cell(row[c], row.get(c + tables.CI, "")) for c in shown] for _, row in frame.iterrows()]
    return table(shown, rows)


def _text(value) -> str:
    if value is None or pd.isna(value):
        return formats.MISSING
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flag(value) -> bool:
    """A flag of a comparison CSV (True, False or empty where undefined) as a bool."""
    return str(value) == "True"


def _within(in_range, in_ci) -> str:
    """Where the reference lies: within our seeds' range, our 95 % interval (CI), both, or outside."""
    inside = [name for name, flag in (("range", in_range), ("CI", in_ci)) if _flag(flag)]
    return "in " + " & ".join(inside) if inside else "outside"


def comparison(question: str, frame: pd.DataFrame, config: dict, notes: dict | None = None) -> dict:
    """A reference comparison (its CSV, reference.read_comparison) under a
    two-row header: per statistic ours (sd below it), the reference (with
    several seeds, whether it lies within our seeds' range and 95 % interval
    below it) and the difference, bold where it needs explaining; A4's pairs
    in one column, ours above the reference's. A row's note holds the
    reference's note and, from `notes`, the explanation."""
    spec, notes = questions.QUESTIONS[question], notes or {}
    labels = {tuple(entry.names.values()): entry.label for entry in questions.entries(question, config)}
    several = bool((frame["seeds"] > 1).any())
    columns, groups = [spec.column], [("", 1)]
    if "c1" in frame:
        columns.append("(c1, c2)")
        groups.append(("", 1))
    for value in spec.compared:
        columns += ["ours", "reference", "difference"]
        groups.append((_TITLES[value], 3))
    rows = []
    for _, row in frame.iterrows():
        names = tuple(str(row[key]) for key in spec.keys)
        cells = [cell(labels.get(names, ", ".join(names)))]
        if "c1" in frame:
            cells.append(cell(_pair(row["c1"], row["c2"]), "ref. " + _pair(row["reference_c1"], row["reference_c2"])))
        for value in spec.compared:
            cells += _compared(row, value, several and f"in_range_{value}" in frame)
        said = [f"Reference: {row['note']}."] if row["note"] else []
        if explanation := notes.get(reference.row_key(question, row)):
            said.append(f"Why ours differs: {explanation}")
        rows.append({"cells": cells, "note": " ".join(said)})
    return table(columns, rows, groups) | {"seeds": int(frame["seeds"].max()) if len(frame) else 0}


def _compared(row, value: str, flagged: bool) -> list[dict]:
    """Ours (sd below), the reference (below it, where it lies in our spread
    when `flagged`) and the difference (bold when it needs explaining) of one
    compared statistic of a comparison's row."""
    time = value == "train_seconds"
    number = formats.seconds if time else formats.accuracy
    sd, difference = row[f"{value}_sd"], row[f"difference_{value}"]
    spread = ""
    if row["seeds"] > 1 and pd.notna(sd):
        spread = "± " + (formats.seconds(sd, like=row[value]) if time else formats.accuracy(sd))
    within = _within(row[f"in_range_{value}"], row[f"in_ci_{value}"]) if flagged and row["seeds"] else ""
    return [
        cell(number(row[value]), spread),
        cell(number(row[f"reference_{value}"]), within),
        cell(formats.seconds(difference, sign=True) if time else formats.signed(difference),
             strong=_flag(row.get(f"explain_{value}"))),
    ]  # fmt: skip


def _pair(c1, c2) -> str:
    return formats.MISSING if pd.isna(c1) or pd.isna(c2) else f"({int(c1)}, {int(c2)})"


def verdicts(path) -> dict[str, dict]:
    """verdicts.csv by question: {"sentences": one list per comparison (its
    max, then its final-epoch verdict), "count": comparisons, "seeds": the
    most seeds any comparison pairs}."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    found = {}
    for key, rows in frame.groupby("question", sort=False):
        by_comparison = rows.groupby("comparison", sort=False)["sentence"]
        found[key] = {
            "sentences": [list(sentences) for _, sentences in by_comparison],
            "count": by_comparison.ngroups,
            "seeds": int(pd.to_numeric(rows["n"]).max()),
        }
    return found


def all_runs(runs: pd.DataFrame) -> dict:
    """Every run, one row each: its settings, accuracies to four places, times in seconds."""
    shown = runs
    if "mask_padding" in runs:  # a study without Part B has none
        shown = runs.assign(padding=runs["mask_padding"].map({True: "masked", False: "unmasked"}))
    shown = shown.reindex(columns=list(ALL_RUNS)).dropna(axis=1, how="all")  # a one-part study: no other part's
    number = {"train_seconds": formats.seconds, "job_seconds": formats.seconds, "clip_rate": formats.share}
    number |= dict.fromkeys([column for column in ALL_RUNS if column.endswith("_accuracy")], formats.accuracy)
    rows = [[cell(number.get(column, _text)(value)) for column, value in row.items()] for _, row in shown.iterrows()]
    return table([ALL_RUNS[column] for column in shown.columns], rows)
