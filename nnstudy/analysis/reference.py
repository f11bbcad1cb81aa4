"""Our numbers beside the reference report's (SPEC's student report).

The reference numbers are data, data/reference/<table>.csv, each naming its
rows like one of our questions: part_a.csv like A4, part_b.csv like B5,
b6.csv like B6. A question compared with another question's table takes the
rows of the same runs (B6's GRU baseline is B5's Char / Word RNN without
dropout), matched through nnstudy.study.plan's run names.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from nnstudy.analysis import runs as study_runs
from nnstudy.analysis import stats, tables
from nnstudy.errors import StudyError
from nnstudy.study import plan, questions

# The question whose names each reference table uses.
NAMED_LIKE = {"part_a": "a4", "part_b": "b5", "b6": "b6"}
# The spec's settings (SPEC), which the reference report ran: epochs, training and test set sizes.
SPEC = {
    "part_a": {
        "epochs": 1000,
        "batch_size": 128,
        "learning_rate": 0.001,
        "grid": {"c1": [10, 30, 50, 70, 90], "c2": [20, 40, 60, 80, 100]},
        "train": plan.FULL_DATA["part_a"][0],
        "test": plan.FULL_DATA["part_a"][1],
        "items": "images",
    },
    "part_b": {
        "epochs": 250,
        "batch_size": 128,
        "learning_rate": 0.01,
        "train": plan.FULL_DATA["part_b"][0],
        "test": plan.FULL_DATA["part_b"][1],
        "items": "documents",
    },
}


def read_reference(files) -> dict[str, pd.DataFrame]:
    """The reference tables, {file stem: frame}, rows named like our
    questions' (part_b.csv's dropout "yes" / "no": B5's dropout_label);
    notes are text, empty where there is none."""
    reference = {}
    for path in map(Path, files):
        try:
            frame = pd.read_csv(path, dtype={"note": str})
        except (OSError, pd.errors.ParserError) as err:
            raise StudyError(f"{path}: unreadable reference numbers ({err})") from None
        frame["note"] = frame["note"].fillna("") if "note" in frame else ""
        if "dropout" in frame and not pd.api.types.is_numeric_dtype(frame["dropout"]):
            with_dropout = frame["dropout"].str.lower().isin(["yes", "true", "1"])
            labels = [value.name for value in questions.QUESTIONS["b5"].axis.values]
            frame["dropout_label"] = with_dropout.map({False: labels[0], True: labels[1]})
        reference[path.stem] = frame
    return reference


def reference_rows(question: str, reference: dict[str, pd.DataFrame], config: dict) -> pd.DataFrame:
    """The reference numbers of one question, named like our rows (config: the part's)."""
    spec = questions.QUESTIONS[question]
    found = []
    for table in spec.reference:
        if table not in reference:
            raise StudyError(f"no reference table {table}.csv for question {question}")
        source = NAMED_LIKE[table]
        frame = reference[table]
        if source != question:
            frame = _renamed(frame, source, question, config)
        found.append(frame)
    frame = pd.concat(found, ignore_index=True)
    pair = ["c1", "c2"] if "c1" in frame else []
    return frame.reindex(columns=[*spec.keys, *pair, *spec.compared, "note"])


def _renamed(frame: pd.DataFrame, source: str, question: str, config: dict) -> pd.DataFrame:
    """Rows named like `source`'s, as `question` names the same runs (rows of
    other runs left out), with a note saying where they come from."""
    source_keys = questions.QUESTIONS[source].keys
    theirs = {tuple(entry.names.values()): tuple(models) for entry, models in plan.question_models(source, config)}
    ours = {tuple(models): entry.names for entry, models in plan.question_models(question, config)}
    rows = []
    for _, row in frame.iterrows():
        names = tuple(row[source_keys])
        models = theirs.get(names)
        if models in ours:
            note = f"from {source.upper()} ({', '.join(names)})"
            rows.append(row.drop(source_keys).to_dict() | ours[models] | {"note": note})
    return pd.DataFrame(rows)


def reference_comparison(question: str, runs: pd.DataFrame, reference: dict[str, pd.DataFrame], config: dict):
    """Ours (mean and sd over seeds) beside the reference, with the difference.

    runs: the question's rows (runs.question_runs). One row per model of the
    question (in the study's order; models only the reference has last);
    `difference` columns are ours − reference. A question whose reference
    names a (c1, c2) pair (A4) shows ours and theirs.
    """
    spec = questions.QUESTIONS[question]
    keys, values = spec.keys, list(spec.compared)
    theirs = reference_rows(question, reference, config)
    pairs = "c1" in theirs
    ours = tables.summary(runs, keys, values) if len(runs) else pd.DataFrame(columns=keys)
    if pairs:
        ours = ours.merge(runs.groupby(keys, sort=False)[["c1", "c2"]].first().reset_index(), on=keys, how="left")
    shown = theirs.rename(columns={v: f"reference_{v}" for v in [*values, "c1", "c2"]})
    table = ours.merge(shown, on=keys, how="outer", sort=False)
    for value in values:
        if value not in table:
            table[value] = float("nan")
        table[f"difference_{value}"] = table[value] - table[f"reference_{value}"]
    columns = keys + (["c1", "c2", "reference_c1", "reference_c2"] if pairs else [])
    for value in values:
        columns += [value, f"{value}_sd", f"reference_{value}", f"difference_{value}"]
    table = table.reindex(columns=[*columns, "seeds", "note"])
    table["seeds"] = table["seeds"].fillna(0).astype(int)
    table["note"] = table["note"].fillna("")
    order = [tuple(entry.names.values()) for entry in questions.entries(question, config)]
    position = [order.index(k) if k in order else len(order) for k in table[keys].itertuples(index=False, name=None)]
    table = table.assign(_order=position).sort_values("_order", kind="stable").drop(columns="_order")
    return table.reset_index(drop=True)


def row_key(question: str, row) -> str:
    """How explanations.yaml names a row of a comparison: "b5: Word CNN, with dropout"."""
    return f"{question}: " + ", ".join(str(row[name]) for name in questions.QUESTIONS[question].keys)


def read_explanations(path) -> dict[str, str]:
    """A publication's explanations.yaml: {key: text}, keyed by row_key (why a
    difference comes about) or "not run: <part>" (why a part is left out)."""
    try:
        found = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise StudyError(f"{path}: unreadable explanations ({err})") from None
    if not isinstance(found, dict):
        raise StudyError(f"{path}: not a mapping of row to explanation")
    return {str(key): str(text).strip() for key, text in found.items()}


def read_comparison(path) -> pd.DataFrame:
    """A comparison CSV back as a frame (notes: text, empty where none)."""
    frame = pd.read_csv(path, dtype={"note": str})
    frame["note"] = frame["note"].fillna("")
    return frame


# ---- job (scripts/reference_comparison.py) ------------------------------------------


def write_reference_comparison(question, runs_csv, reference_files, optimum_json, config, output, log=print) -> None:
    """Ours beside the reference numbers for one question (A4, B5 or B6), as
    CSV, with whether the reference lies within our seeds' range and interval
    and whether the difference needs explaining (stats.reference_uncertainty)."""
    runs = study_runs.question_runs(
        question, study_runs.read_all_runs(runs_csv), config, tables.optimum_pair(optimum_json)
    )
    table = reference_comparison(question, runs, read_reference(reference_files), config)
    table = stats.reference_uncertainty(table, runs, question)
    study_runs.integer_columns(table).to_csv(output, index=False)
    log(f"{question}: {len(table)} models beside the reference")
