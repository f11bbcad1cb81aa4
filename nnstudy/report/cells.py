"""The study's tables as the template shows them: column names and rows of text cells."""

from __future__ import annotations

import re

import pandas as pd

from nnstudy import questions

# A cell that reads as a number: 0.1234, -3, +0.05, 0.5 ± 0.01, (90, 100), – (missing).
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?( ± \d+(\.\d+)?)?|\(\d+, \d+\)|–")
_TITLES = {
    "max_test_accuracy": "max test accuracy",
    "mean_test_accuracy": "mean test accuracy",
    "train_seconds": "training time (s)",
}


def table_context(table: pd.DataFrame, digits: int = 4) -> dict:
    """A table for the template: column names, rows of text cells, and which
    columns hold text (left-aligned) rather than numbers."""

    def cell(value):
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "–"
        if isinstance(value, float):
            return f"{value:g}" if value == int(value) and abs(value) < 1e6 else f"{value:.{digits}f}"
        return str(value)

    rows = [[cell(v) for v in row] for row in table.itertuples(index=False)]
    numeric = [all(_NUMBER.fullmatch(row[i]) for row in rows) for i in range(len(table.columns))]
    return {
        "columns": [str(c) for c in table.columns],
        "rows": rows,
        "groups": None,
        "text_columns": [i for i, is_number in enumerate(numeric) if not is_number],
    }


def read_table(path) -> dict:
    """A study table (CSV) as text cells, exactly as its CSV has them."""
    return table_context(pd.read_csv(path, dtype=str, keep_default_na=False))


def comparison_context(question: str, table: pd.DataFrame, digits: int = 4) -> dict:
    """A reference comparison (results.reference) as text cells under a
    two-row header: per statistic ours (± std over seeds), reference, difference."""
    spec = questions.QUESTIONS[question]
    shown = table[spec.keys].rename(columns={"dropout_label": "dropout"})
    groups = [("", len(spec.keys))]
    if "c1" in table:
        shown["ours"] = [_pair_text(a, b) for a, b in zip(table["c1"], table["c2"])]
        shown["reference"] = [_pair_text(a, b) for a, b in zip(table["reference_c1"], table["reference_c2"])]
        groups.append(("(c1, c2)", 2))
    cells = {}
    for column in spec.compared:
        title = _TITLES[column]
        places = 1 if column == "train_seconds" else digits
        cells[f"{title}|ours"] = [
            _number(m, sd, n, places) for m, sd, n in zip(table[column], table[f"{column}_std"], table["seeds"])
        ]
        cells[f"{title}|reference"] = [_number(v, None, 1, places) for v in table[f"reference_{column}"]]
        cells[f"{title}|difference"] = [_number(v, None, 1, places, sign=True) for v in table[f"difference_{column}"]]
        groups.append((title, 3))
    body = pd.concat([shown.reset_index(drop=True), pd.DataFrame(cells)], axis=1)
    body["seeds"] = table["seeds"].to_numpy()
    body["note"] = table["note"].to_numpy()
    groups.append(("", 2))
    context = table_context(body)
    context["columns"] = [c.split("|")[-1] for c in context["columns"]]
    context["groups"] = groups
    return context


def _pair_text(c1, c2) -> str:
    if pd.isna(c1) or pd.isna(c2):
        return "–"
    return f"({int(c1)}, {int(c2)})"


def _number(value, std, seeds, digits, sign=False) -> str:
    if value is None or pd.isna(value):
        return "–"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    if std is not None and seeds and seeds > 1 and pd.notna(std):
        text += f" ± {std:.{digits}f}"
    return text
