"""The study's tables (results/tables/<name>.csv, .md, .html) and A2's choice of
the pair for A3.

Each table job reads the metrics.json files of one question's runs
(nnstudy.questions), takes the question's rows in the study's order and
summarises them over seeds: mean, and "mean ± std" text with several seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError

SUMMARY_COLUMNS = [
    "max_test_accuracy",
    "mean_test_accuracy",
    "final_test_accuracy",
    "best_epoch",
    "seconds_per_epoch",
    "train_seconds",
]
_ACCURACY = {"max_test_accuracy": "max test acc", "mean_test_accuracy": "mean test acc"}


def over_seeds(frame: pd.DataFrame, by: list[str], values=SUMMARY_COLUMNS) -> pd.DataFrame:
    """Mean, standard deviation and count of `values` over seeds, per `by` group
    (groups in the order they first appear)."""
    grouped = frame.groupby(by, sort=False, dropna=False)[list(values)]
    summary = grouped.mean()
    spread = grouped.std(ddof=1).add_suffix("_std")
    counts = grouped.size().rename("seeds")
    return pd.concat([summary, spread, counts], axis=1).reset_index()


def with_spread(frame: pd.DataFrame, column: str, digits: int = 4) -> pd.Series:
    """ "mean ± std" text when a group has several seeds, else the mean."""

    def cell(row):
        value = f"{row[column]:.{digits}f}"
        if row["seeds"] > 1:
            value += f" ± {row[column + '_std']:.{digits}f}"
        return value

    return frame.apply(cell, axis=1)


def display(table: pd.DataFrame, identity: list[str], columns: dict[str, str], digits: int = 4) -> pd.DataFrame:
    """A readable table: identity columns, then "mean ± std" summary columns."""
    shown = table[identity].copy()
    for column, title in columns.items():
        shown[title] = with_spread(table, column, digits)
    shown["seeds"] = table["seeds"]
    return shown


def write(table: pd.DataFrame, paths: dict) -> None:
    """Write a table to the CSV, Markdown and HTML paths given (keys csv/md/html)."""
    table.to_csv(paths["csv"], index=False)
    # The cells are text already ("0.8571 ± 0.0100", "+0.0143"): keep them as they are.
    Path(paths["md"]).write_text(table.to_markdown(index=False, disable_numparse=True) + "\n")
    html = table.to_html(index=False, float_format="{:.4f}".format, classes="study-table", border=0)
    Path(paths["html"]).write_text(html + "\n")


# ---- the tables, one per question (rows from runs.question_runs) --------------------


def a2_table(runs: pd.DataFrame) -> pd.DataFrame:
    """A2: every (c1, c2) pair with max and mean test accuracy, best first."""
    table = over_seeds(runs, ["c1", "c2"])
    table = table.sort_values("max_test_accuracy", ascending=False, kind="stable").reset_index(drop=True)
    return display(table, ["c1", "c2"], _ACCURACY)


def best_pair(runs: pd.DataFrame) -> tuple[int, int]:
    """The grid pair with the highest max test accuracy (ties: the smaller pair, with fewer parameters)."""
    table = over_seeds(runs, ["c1", "c2"], ["max_test_accuracy", "mean_test_accuracy"])
    best = table.sort_values(
        ["max_test_accuracy", "mean_test_accuracy", "c1", "c2"],
        ascending=[False, False, True, True],
        kind="stable",
    ).iloc[0]
    return int(best["c1"]), int(best["c2"])


def a4_table(runs: pd.DataFrame) -> pd.DataFrame:
    """A4: A1's network, the grid optimum and A3 a–d side by side."""
    identity = ["experiment", "c1", "c2", "optimizer", "dropout"]
    extra = {"final_test_accuracy": "final test acc", "seconds_per_epoch": "s / epoch"}
    return display(over_seeds(runs, identity), identity, _ACCURACY | extra)


def b5_table(runs: pd.DataFrame) -> pd.DataFrame:
    """B5: the four models without and with dropout: accuracy and running time."""
    extra = {"train_seconds": "train time (s)", "seconds_per_epoch": "s / epoch"}
    return display(over_seeds(runs, ["model", "dropout"]), ["model", "dropout"], _ACCURACY | extra)


def b6_table(runs: pd.DataFrame) -> pd.DataFrame:
    """B6: the recurrent variants for char and word input, the GRU as baseline."""
    table = over_seeds(runs, ["variant", "level"])
    return display(table, ["variant", "level"], _ACCURACY | {"seconds_per_epoch": "s / epoch"})


def masking_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each word-level RNN unmasked beside masked: max and mean test accuracy
    and what masking adds to the max."""
    summary = over_seeds(runs, ["variant", "padding"], list(_ACCURACY))
    unmasked, masked = (
        display(
            summary[summary["padding"] == padding], ["variant"], {c: f"{t} ({padding})" for c, t in _ACCURACY.items()}
        )
        for padding in ("unmasked", "masked")
    )
    # A left merge keeps the study's order (an outer one sorts by name).
    table = summary[["variant"]].drop_duplicates().merge(unmasked.drop(columns="seeds"), how="left")
    table = table.merge(masked, how="left")
    best = summary.pivot(index="variant", columns="padding", values="max_test_accuracy")
    best = best.reindex(columns=["unmasked", "masked"])
    gain = table["variant"].map(best["masked"] - best["unmasked"])
    table.insert(len(table.columns) - 1, "masking gain (max)", gain.map(lambda v: "–" if pd.isna(v) else f"{v:+.4f}"))
    return table


def masking_gains(runs: pd.DataFrame) -> dict:
    """What masking adds to each word-level RNN's max test accuracy (mean over
    seeds), from the masking ablation's rows: {"mean", "largest", "smallest"},
    the last two as (variant, gain); None values without both paddings."""
    by_padding = runs.groupby(["variant", "padding"], sort=False)["max_test_accuracy"].mean()
    by_padding = by_padding.unstack().reindex(columns=["unmasked", "masked"])
    gains = (by_padding["masked"] - by_padding["unmasked"]).dropna()
    if gains.empty:
        return {"mean": None, "largest": None, "smallest": None}
    return {
        "mean": float(gains.mean()),
        "largest": (str(gains.idxmax()), float(gains.max())),
        "smallest": (str(gains.idxmin()), float(gains.min())),
    }


TABLES = {"a2": a2_table, "a4": a4_table, "b5": b5_table, "b6": b6_table, "masking": masking_table}


def read_optimum(path) -> dict:
    """optimum.json: the pair A2 chose for A3, {"c1", "c2", "source"}."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StudyError(f"{path}: unreadable ({err})") from None


def optimum_pair(optimum_json) -> tuple[int, int] | None:
    """The A3 pair of optimum.json; None without one (B5, B6, a study without Part A)."""
    if not optimum_json:
        return None
    optimum = read_optimum(optimum_json)
    return int(optimum["c1"]), int(optimum["c2"])


# ---- jobs (scripts/question_table.py, select_optimum.py) ---------------------------


def write_table(question: str, metric_files, config: dict, optimum_json, outputs: dict, log=print) -> None:
    """The table of one question (TABLES) from its runs' metrics files, as CSV, Markdown and HTML.

    config: the question's part's config; optimum_json: A2's choice (A4 only).
    """
    rows = study_runs.question_runs(question, study_runs.collect(metric_files), config, optimum_pair(optimum_json))
    table = TABLES[question](rows)
    write(table, outputs)
    log(f"{question}: {len(rows)} runs, {len(table)} rows")


def write_optimum(grid_metric_files, pinned, output, log=print) -> None:
    """A2: the (c1, c2) pair for A3 with where it came from, as optimum.json."""
    if pinned:
        c1, c2 = pinned
        source = "pinned in config (part_a.optimum)"
    else:
        c1, c2 = best_pair(study_runs.collect(grid_metric_files))
        source = f"best max test accuracy of {len(grid_metric_files)} grid runs"
    Path(output).write_text(json.dumps({"c1": c1, "c2": c2, "source": source}, indent=1))
    log(f"optimal pair ({c1}, {c2}): {source}")
