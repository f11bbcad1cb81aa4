"""The study's runs as one tidy frame, and each question's rows of it.

Every metrics.json is read once (`read_documents`); its summary becomes a row
of the frame (`runs_frame`, written as results/tables/all_runs.csv) and its
history stays at hand for the figures that draw learning curves. A question's
rows are picked by run name, the names nnstudy.study.plan gives the question's runs,
so a table shows exactly the runs the workflow trains for it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnstudy import metrics
from nnstudy.errors import StudyError
from nnstudy.study import plan, questions

VERSION_KEYS = ("python", "keras", "tensorflow", "jax", "numpy")

# Counts and sizes, written as integers although a column has gaps (c1 of a Part B run …).
INTEGER_COLUMNS = {
    "c1", "c2", "layers", "seed", "epochs", "batch_size", "best_epoch", "parameters", "train_size",
    "test_size", "vocabulary_size", "length", "epochs_run", "seeds", "reference_c1", "reference_c2",
}  # fmt: skip


def read_documents(metric_files, study: dict | None = None) -> dict[str, dict]:
    """{path: metrics document}, each file read once (every damaged one named in one error). With the `study`'s
    config, a run trained with other settings than the config gives them stops it: no table or figure is built
    from runs that are not what the study is labelled with."""
    files = [str(path) for path in metric_files]
    documents = dict(zip(files, metrics.read_all(files)))
    for path, document in documents.items() if study else ():
        folder = "/".join(Path(path).parent.parts[-4:])  # results/part_x/runs/<name>
        changes = plan.run(study, folder).changes(plan.recorded_settings(document))
        if changes:
            raise StudyError(
                f"{folder} was trained with other settings than the config's ({', '.join(changes)}): "
                "run snakemake (no --until, --omit-from or --allowed-rules) to train it again first"
            )
    return documents


def runs_frame(documents: dict[str, dict]) -> pd.DataFrame:
    """One row per run: identity, every hyper-parameter and summary metric,
    cost, device, software versions and code identity, and where its metrics file lies;
    sorted by part and run."""
    rows, provenance = [], []
    for path, document in documents.items():
        device = document.get("device") or {}
        versions = document.get("versions") or {}
        rows.append(
            {
                "run": document["run"],
                "part": document["part"],
                "label": document["label"],
                "seed": document["seed"],
                # recorded where not the default, as in the run's name
                **({"pixel_layout": plan.DEFAULT_LAYOUT} if document["part"] == "A" else {}),
                **document["hyperparameters"],
                **document["summary"],
                "parameters": document["parameters"],
                "job_seconds": document["job_seconds"],
                "device": device["type"],
                "epochs_run": len(document["history"]),
            }
        )
        # Last in the table, after every part's hyper-parameters.
        code = document.get("code") or {}  # runs made before code identities have none
        provenance.append(
            {
                "device_name": device.get("name"),
                **{f"{key}_version": versions.get(key) for key in VERSION_KEYS},
                "code_identity": code.get("identity"),
                "code_commit": code.get("commit"),
                "metrics_file": path,
            }
        )
    frame = integer_columns(pd.concat([pd.DataFrame(rows), pd.DataFrame(provenance)], axis=1))
    return frame.sort_values(["part", "run"], kind="stable").reset_index(drop=True)


def collect(metric_files, study: dict | None = None) -> pd.DataFrame:
    """The runs of these metrics files as a frame (see runs_frame and, for `study`, read_documents)."""
    return runs_frame(read_documents(metric_files, study))


def integer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts and sizes as (nullable) integers, so that a CSV says 50, not 50.0."""
    frame = frame.copy()
    for column in INTEGER_COLUMNS & set(frame.columns):
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].round().astype("Int64")
    return frame


def read_all_runs(path) -> pd.DataFrame:
    """all_runs.csv back as a frame (empty cells: NaN, integer columns Int64)."""
    try:
        return integer_columns(pd.read_csv(path))
    except (OSError, ValueError) as err:  # pandas' parser errors are ValueErrors
        raise StudyError(
            f"{path}: unreadable table ({err}); to write it anew, "
            f"run the study's snakemake command with --forcerun {path}"
        ) from None


def question_runs(key: str, runs: pd.DataFrame, config: dict, optimum=None) -> pd.DataFrame:
    """The rows of a question (nnstudy.study.questions) in the study's order, with
    its name columns (e.g. `model` and `dropout_label`) and `name`, how a run
    card or legend shows the model ("Word RNN + dropout").

    config: the question's part's config; optimum: A2's pair, for Part A
    questions (their runs at the optimum are left out without it). A run
    that two models share (A1's pair as the grid optimum) appears under both.
    """
    question = questions.QUESTIONS[key]
    models = runs["run"].map(plan.model_name)
    chosen = []
    for entry, names in plan.question_models(key, config, optimum):
        rows = runs[models.isin(names)]
        order = models[rows.index].map(names.index)
        rows = rows.assign(_order=order).sort_values(["_order", "seed"], kind="stable").drop(columns="_order")
        if len(rows):
            chosen.append(rows.assign(**entry.names, name=entry.label))
    if not chosen:
        return runs.iloc[:0].assign(**dict.fromkeys(question.keys, ""), name="")
    return pd.concat(chosen, ignore_index=True)


def history_frame(documents: dict[str, dict], runs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The per-epoch history of `runs` (rows with a metrics_file among
    `documents`), one row per epoch, with the runs' `columns` beside it."""
    parts = []
    for _, run in runs.iterrows():
        history = pd.DataFrame(documents[run["metrics_file"]]["history"])
        parts.append(history.assign(**{column: run[column] for column in columns}))
    return pd.concat(parts, ignore_index=True)


# ---- job (scripts/all_runs_table.py) -----------------------------------------------


def write_all_runs(metric_files, output, study: dict | None = None, log=print) -> None:
    """The tidy table of every run as CSV (see read_documents for `study`)."""
    log(f"reading {len(metric_files)} metrics files")
    frame = collect(metric_files, study)
    frame.to_csv(output, index=False)
    log(f"{len(frame)} runs, {frame.shape[1]} columns -> {output}")
