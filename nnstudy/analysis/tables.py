"""The study's tables (results/tables/<name>.csv, .md, .html), the verdicts
of the comparisons the spec asks about, and A2's choice of the pair for A3.

Each question's table takes the question's rows in the study's order and
summarises every configuration over its seeds (nnstudy.analysis.stats): the
mean ± sd of its max, final-epoch and mean test accuracy, with the 95 %
interval beside each when there are several seeds, and its times. Cells are
text, written as nnstudy.analysis.formats writes numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nnstudy.analysis import formats, stats
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.study import questions

# The final epoch's accuracy stands beside the max: it is not chosen on the test set.
ACCURACIES = {
    "max_test_accuracy": "max test acc",
    "final_test_accuracy": "final-epoch test acc",
    "mean_test_accuracy": "mean test acc",
}
TIMES = {"train_seconds": "training time (s)", "seconds_per_epoch": "s / epoch"}
# An interval column is named after its statistic's; the report shows it under that column.
CI = " 95% CI"
GAIN = "masking gain (max)"


def summary(runs: pd.DataFrame, by: list[str], values) -> pd.DataFrame:
    """One row per configuration (`by` group, first-seen order): per value its
    mean, `_sd`, `_ci_low` and `_ci_high` over seeds, and `seeds`."""
    long = stats.seed_statistics(runs, by, list(values))
    first = long[long["statistic"] == next(iter(values))]
    table = first[by].assign(seeds=first["n"].to_numpy()).reset_index(drop=True)
    for value in values:
        found = long[long["statistic"] == value]
        for suffix, column in (("", "mean"), ("_sd", "sd"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
            table[value + suffix] = found[column].to_numpy()
    return table


def display(table: pd.DataFrame, identity: list[str], times: dict[str, str] | None = None) -> pd.DataFrame:
    """A readable table of a summary: identity columns, each accuracy as
    "mean ± sd" (with its interval when some row has several seeds), times, seeds."""
    shown = table[identity].copy()
    several = bool((table["seeds"] > 1).any())
    for column, title in ACCURACIES.items():
        shown[title] = list(map(formats.accuracy, table[column], table[f"{column}_sd"]))
        if several:
            shown[title + CI] = list(map(formats.interval, table[f"{column}_ci_low"], table[f"{column}_ci_high"]))
    for column, title in (times or {}).items():
        shown[title] = list(map(formats.seconds, table[column], table[f"{column}_sd"]))
    shown["seeds"] = table["seeds"]
    return shown


def write(table: pd.DataFrame, paths: dict) -> None:
    """Write a table to the CSV, Markdown and HTML paths given (keys csv/md/html)."""
    table.to_csv(paths["csv"], index=False)
    # The cells are text already ("0.8571 ± 0.0100", "+0.0143"): keep them as they are.
    Path(paths["md"]).write_text(table.to_markdown(index=False, disable_numparse=True) + "\n")
    Path(paths["html"]).write_text(table.to_html(index=False, classes="study-table", border=0) + "\n")


# ---- the tables, one per question (rows from runs.question_runs) --------------------


def a2_table(runs: pd.DataFrame) -> pd.DataFrame:
    """A2: every (c1, c2) pair, in A2's ranking (the chosen pair first)."""
    place = {(pair["c1"], pair["c2"]): index for index, pair in stats.ranked(runs).items()}
    table = summary(runs, ["c1", "c2"], ACCURACIES)
    table = table.assign(_place=list(map(place.get, zip(table["c1"], table["c2"])))).sort_values("_place")
    return display(table.drop(columns="_place").reset_index(drop=True), ["c1", "c2"])


def best_pair(runs: pd.DataFrame) -> tuple[int, int]:
    """The grid pair A2 chooses: place 1 of stats.ranked."""
    best = stats.ranked(runs)[1]
    return int(best["c1"]), int(best["c2"])


def a4_table(runs: pd.DataFrame) -> pd.DataFrame:
    """A4: A1's network, the grid optimum and A3 a–d side by side (their names say optimizer and dropout)."""
    identity = ["experiment", "c1", "c2"]
    return display(
        summary(runs, identity, [*ACCURACIES, "seconds_per_epoch"]), identity, {"seconds_per_epoch": "s / epoch"}
    )


def b5_table(runs: pd.DataFrame) -> pd.DataFrame:
    """B5: the four models without and with dropout: accuracy and running time."""
    return display(summary(runs, ["model", "dropout"], [*ACCURACIES, *TIMES]), ["model", "dropout"], TIMES)


def b6_table(runs: pd.DataFrame) -> pd.DataFrame:
    """B6: the recurrent variants for char and word input, the GRU as baseline; where the clip acted."""
    table = summary(runs, ["variant", "level"], [*ACCURACIES, "seconds_per_epoch"])
    return _with_clip_rates(
        display(table, ["variant", "level"], {"seconds_per_epoch": "s / epoch"}), runs, ["variant", "level"]
    )


def layout_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The pixel layout ablation: A1 on images, then on the course's layout."""
    return display(summary(runs, ["layout"], ACCURACIES), ["layout"])


def clipping_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The clipping ablation: each GRU unclipped, clipped by value and by global norm; where the clip acted."""
    keys = ["model", "clipping"]
    return _with_clip_rates(display(summary(runs, keys, ACCURACIES), keys), runs, keys)


CLIP_ACTED = "clip acted"


def clip_rates(runs: pd.DataFrame, keys: list[str]) -> list:
    """Per configuration (`keys` group, first-seen order) the share of updates its clip acted on, mean over seeds;
    NaN without clipping. A run that predates clip rates has none (NaN too)."""
    rates = runs["clip_rate"] if "clip_rate" in runs else pd.Series(float("nan"), index=runs.index)
    return list(rates.groupby([runs[key] for key in keys], sort=False).mean())


def _with_clip_rates(table: pd.DataFrame, runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """A table (one row per `keys` configuration, in the runs' order) with where its clipped rows' clip acted:
    "never" for a clip that acted on no update (those runs trained as unclipped ones), "–" without clipping."""
    groups = [runs[key] for key in keys]
    threshold = runs["clip_threshold"] if "clip_threshold" in runs else pd.Series(float("nan"), index=runs.index)
    clipped = threshold.groupby(groups, sort=False).max().notna().tolist()
    shown = [
        ("never" if rate == 0 else formats.share(rate)) if was_clipped else formats.MISSING
        for rate, was_clipped in zip(clip_rates(runs, keys), clipped)
    ]
    return table.assign(**{CLIP_ACTED: shown})[[*table.columns[:-1], CLIP_ACTED, table.columns[-1]]]


def masking_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each word-level RNN unmasked, then masked, with what masking adds to
    the max (mean over seeds) on the masked row."""
    table = display(summary(runs, ["variant", "padding"], ACCURACIES), ["variant", "padding"])
    gains = _gains(runs)
    masked = table["padding"] == questions.MASKED.name
    table.insert(len(table.columns) - 1, GAIN, "")
    table.loc[masked, GAIN] = table.loc[masked, "variant"].map(lambda v: formats.signed(gains.get(v)))
    return table


def _gains(runs: pd.DataFrame) -> pd.Series:
    """Masked − unmasked max test accuracy (means over seeds) per variant that has both."""
    by_padding = runs.groupby(["variant", "padding"], sort=False)["max_test_accuracy"].mean().unstack()
    by_padding = by_padding.reindex(columns=[questions.UNMASKED.name, questions.MASKED.name])
    return (by_padding[questions.MASKED.name] - by_padding[questions.UNMASKED.name]).dropna()


def masking_gains(runs: pd.DataFrame) -> dict:
    """What masking adds to each word-level RNN's max test accuracy (mean over
    seeds), from the masking ablation's rows: {"mean", "largest", "smallest"},
    the last two as (variant, gain); None values without both paddings."""
    gains = _gains(runs)
    if gains.empty:
        return {"mean": None, "largest": None, "smallest": None}
    return {
        "mean": float(gains.mean()),
        "largest": (str(gains.idxmax()), float(gains.max())),
        "smallest": (str(gains.idxmin()), float(gains.min())),
    }


TABLES = {
    "a2": a2_table,
    "a4": a4_table,
    "b5": b5_table,
    "b6": b6_table,
    "masking": masking_table,
    "layout": layout_table,
    "clipping": clipping_table,
}
# The questions whose comparisons (questions.COMPARISONS) have verdicts, in the study's order.
VERDICTS = [key for key in questions.QUESTIONS if any(c.question == key for c in questions.COMPARISONS)]


def verdicts_table(keys, runs: pd.DataFrame, study: dict, optimum=None) -> pd.DataFrame:
    """The verdicts of these questions' comparisons on the study's runs
    (study: {part: its config}), numbers as text."""
    found = [
        stats.verdicts(key, study_runs.question_runs(key, runs, study[questions.QUESTIONS[key].part], optimum))
        for key in keys
    ]
    table = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=stats.VERDICT_COLUMNS)
    for column in ("difference", "ci_low", "ci_high"):
        table[column] = table[column].map(formats.signed if column == "difference" else formats.accuracy)
    for column in ("p", "p_holm"):
        table[column] = table[column].map(formats.p_value)
    table["resolved"] = table["resolved"].map({True: "yes", False: "no"})
    return table


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


# ---- jobs (scripts/question_table.py, verdicts_table.py, histories_table.py, select_optimum.py)


def write_table(question: str, metric_files, study: dict, optimum_json, outputs: dict, log=print) -> None:
    """The table of one question (TABLES) from its runs' metrics files, as CSV, Markdown and HTML.

    study: the resolved config; optimum_json: A2's choice (A4 only).
    """
    config = study[questions.QUESTIONS[question].part]
    runs = study_runs.collect(metric_files, study)
    rows = study_runs.question_runs(question, runs, config, optimum_pair(optimum_json))
    table = TABLES[question](rows)
    write(table, outputs)
    log(f"{question}: {len(rows)} runs, {len(table)} rows")


def write_verdicts(keys, runs_csv, optimum_json, study: dict, outputs: dict, log=print) -> None:
    """The verdicts of the chosen questions (VERDICTS among them) as CSV, Markdown and HTML."""
    table = verdicts_table(keys, study_runs.read_all_runs(runs_csv), study, optimum_pair(optimum_json))
    write(table, outputs)
    log(f"{len(table)} verdicts of {', '.join(keys)}")


def write_histories(metric_files, output, study: dict | None = None, log=print) -> None:
    """Every epoch of every run (stats.histories_frame) as CSV, gzipped for a .gz name."""
    frame = stats.histories_frame(study_runs.read_documents(metric_files, study))
    stats.write_histories(frame, output)
    log(f"{len(frame)} epochs of {len(metric_files)} runs -> {output}")


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
