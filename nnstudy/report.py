"""Aggregated results, the reference comparison and the one-file HTML report.

The study's runs are merged once into a tidy frame (`collect_runs`, written as
results/tables/all_runs.csv); everything after that (the numeric summaries
behind the comparison figures, the reference comparison, the report) reads
that frame, so it names each run the way the study's tables do.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from nnstudy import metrics, tables, text
from nnstudy.errors import StudyError

ACCURACY = ["max_test_accuracy", "mean_test_accuracy"]

# ---- the tidy table of all runs --------------------------------------------------

_VERSION_KEYS = ("python", "keras", "tensorflow", "numpy")


def collect_runs(metric_files) -> pd.DataFrame:
    """One row per run: identity, every hyper-parameter and summary metric,
    cost, device and software versions, and where its metrics file lies."""
    metric_files = [str(path) for path in metric_files]
    frame = tables.collect(metric_files)
    extra = []
    for path in metric_files:
        document = metrics.read(path)
        device = document.get("device") or {}
        versions = document.get("versions") or {}
        extra.append(
            {
                "device_name": device.get("name"),
                **{f"{key}_version": versions.get(key) for key in _VERSION_KEYS},
                "metrics_file": path,
            }
        )
    frame = integer_columns(pd.concat([frame, pd.DataFrame(extra)], axis=1))
    return frame.sort_values(["part", "run"], kind="stable").reset_index(drop=True)


def integer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts and sizes as (nullable) integers, so that the CSV says 50, not
    50.0, where a column has gaps (c1 of a Part B run …)."""
    frame = frame.copy()
    for column in INTEGER_COLUMNS & set(frame.columns):
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].round().astype("Int64")
    return frame


INTEGER_COLUMNS = {
    "c1", "c2", "layers", "seed", "epochs", "batch_size", "best_epoch", "parameters", "train_size",
    "test_size", "vocabulary_size", "length", "epochs_run", "seeds", "reference_c1", "reference_c2",
}


def read_runs(path) -> pd.DataFrame:
    """all_runs.csv back as a frame (empty cells: NaN, integer columns Int64)."""
    return integer_columns(pd.read_csv(path))


def part_b_name(row) -> str:
    """A short name for any Part B run: "char GRU, dropout 0.5", "word LSTM" …"""
    kind = {"cnn": "CNN", "gru": "GRU", "lstm": "LSTM", "rnn": "vanilla RNN"}[row["architecture"]]
    name = f"{row['level']} {kind}"
    if row["layers"] > 1:
        name += f", {int(row['layers'])} layers"
    if row["dropout"] > 0:
        name += f", dropout {row['dropout']:g}"
    if pd.notna(row.get("clip_threshold")):
        name += f", clipping {row['clip_threshold']:g}"
    return name


def part_b_family(row) -> str:
    """The model kind of a Part B run, for a figure's legend."""
    if row["architecture"] == "cnn":
        return "CNN + dropout" if row["dropout"] > 0 else "CNN"
    if row["architecture"] == "gru" and row["dropout"] > 0:
        return "GRU + dropout"
    return tables.b6_variant(row)


# ---- the reference report ----------------------------------------------------------


def read_reference(folder) -> dict[str, pd.DataFrame]:
    """data/reference/{part_a,part_b,b6}.csv (notes: empty text, not NaN)."""
    folder = Path(folder)
    reference = {}
    for name in ("part_a", "part_b", "b6"):
        path = folder / f"{name}.csv"
        try:
            frame = pd.read_csv(path, dtype={"note": str})
        except (OSError, pd.errors.ParserError) as err:
            raise StudyError(f"{path}: unreadable reference numbers ({err})") from None
        frame["note"] = frame["note"].fillna("") if "note" in frame else ""
        reference[name] = frame
    return reference


def reference_rows(question: str, reference: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The reference numbers of one question, named like our runs."""
    if question == "a4":
        return reference["part_a"].copy()
    part_b = reference["part_b"].copy()
    part_b["dropout_label"] = part_b["dropout"].map(lambda d: "with dropout" if str(d).lower() in ("yes", "true", "1") else "without dropout")
    if question == "b5":
        return part_b
    if question == "b6":
        # B6's baseline is B3 / B4 (the GRU without dropout) of the reference's B5.
        baseline = part_b[(part_b["dropout_label"] == "without dropout") & part_b["model"].str.endswith("RNN")]
        baseline = pd.DataFrame(
            {
                "variant": "GRU (B3 / B4)",
                "level": baseline["model"].str.split().str[0].str.lower(),
                "max_test_accuracy": baseline["max_test_accuracy"],
                "mean_test_accuracy": baseline["mean_test_accuracy"],
                "note": "from B5 (Char / Word RNN)",
            }
        )
        return pd.concat([baseline, reference["b6"]], ignore_index=True)
    raise StudyError(f"no reference numbers for question {question!r}")


_KEYS = {"a4": ["experiment"], "b5": ["model", "dropout_label"], "b6": ["variant", "level"]}


def question_runs(question: str, frame: pd.DataFrame, a1_pair=None, optimum_pair=None, mask_padding=False) -> pd.DataFrame:
    """The runs of A4, B5 or B6, named like the reference numbers."""
    if question == "a4":
        return tables.a4_models(frame, a1_pair, optimum_pair)
    if question == "b5":
        return tables.b5_models(frame, mask_padding)
    if question == "b6":
        return tables.b6_models(frame, mask_padding)
    raise StudyError(f"unknown question {question!r}")


def reference_comparison(question: str, runs: pd.DataFrame, reference: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Ours (mean ± std over seeds) beside the reference, with the difference.

    One row per model of the question (ours, then models only the reference
    has); `difference` columns are ours − reference.
    """
    keys = _KEYS[question]
    values = ACCURACY + (["train_seconds"] if question == "b5" else [])
    ours = tables.over_seeds(runs, keys, values) if len(runs) else pd.DataFrame(columns=keys)
    theirs = reference_rows(question, reference)
    shown = theirs[keys + values + ["note"]].rename(columns={v: f"reference_{v}" for v in values})
    if question == "a4":
        shown = shown.join(theirs[["c1", "c2"]].rename(columns={"c1": "reference_c1", "c2": "reference_c2"}))
        pairs = runs.groupby("experiment", sort=False)[["c1", "c2"]].first().reset_index()
        ours = ours.merge(pairs, on="experiment", how="left")
    table = ours.merge(shown, on=keys, how="outer", sort=False)
    for value in values:
        if value not in table:
            table[value] = float("nan")
        table[f"difference_{value}"] = table[value] - table[f"reference_{value}"]
    columns = keys + (["c1", "c2", "reference_c1", "reference_c2"] if question == "a4" else [])
    for value in values:
        columns += [value, f"{value}_std", f"reference_{value}", f"difference_{value}"]
    table = table.reindex(columns=columns + ["seeds", "note"])
    table["seeds"] = table["seeds"].fillna(0).astype(int)
    table["note"] = table["note"].fillna("")
    order = _row_order(question, table)
    return table.iloc[order].reset_index(drop=True)


def _row_order(question: str, table: pd.DataFrame) -> list[int]:
    if question == "a4":
        key = table["experiment"].tolist()
    elif question == "b5":
        models = ["Char CNN", "Word CNN", "Char RNN", "Word RNN"]
        key = [(models.index(m) if m in models else 9, d) for m, d in zip(table["model"], table["dropout_label"].map({"without dropout": 0, "with dropout": 1}))]
    else:
        key = [(tables.B6_ORDER.index(v) if v in tables.B6_ORDER else 9, lv) for v, lv in zip(table["variant"], table["level"])]
    return sorted(range(len(table)), key=lambda i: key[i])


def comparison_context(question: str, table: pd.DataFrame, digits: int = 4) -> dict:
    """The reference comparison for the template: text cells under a two-row
    header (per statistic: ours (± std over seeds), reference, difference)."""
    keys = _KEYS[question]
    shown = table[keys].rename(columns={"dropout_label": "dropout"})
    groups = [("", len(keys))]
    if question == "a4":
        shown["ours"] = [_pair_text(a, b) for a, b in zip(table["c1"], table["c2"])]
        shown["reference"] = [_pair_text(a, b) for a, b in zip(table["reference_c1"], table["reference_c2"])]
        groups.append(("(c1, c2)", 2))
    values = {"max_test_accuracy": "max test accuracy", "mean_test_accuracy": "mean test accuracy"}
    if question == "b5":
        values["train_seconds"] = "training time (s)"
    cells = {}
    for column, title in values.items():
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


# ---- provenance ------------------------------------------------------------------


def git_commit(folder) -> str | None:
    """HEAD of the repository holding `folder` (+ "with local changes"), or None.

    Read-only: GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing the index.
    """
    env = os.environ | {"GIT_OPTIONAL_LOCKS": "0"}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, env=env, capture_output=True, text=True, timeout=20
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    if status.returncode == 0 and status.stdout.strip():
        commit += " (with uncommitted changes)"
    return commit


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(runs: pd.DataFrame, config: dict, commit: str | None) -> dict:
    """Config, seeds, versions, devices and compute time of the study."""
    versions = {}
    for key in _VERSION_KEYS:
        found = sorted({str(v) for v in runs.get(f"{key}_version", pd.Series(dtype=str)).dropna()})
        versions[f"{key} (training jobs)"] = ", ".join(found) or "unknown"
    for name in ("snakemake", "pandas", "matplotlib", "seaborn", "jinja2"):
        versions[f"{name} (report job)"] = _package_version(name)
    versions["python (report job)"] = platform.python_version()
    devices = (
        runs.assign(device_name=runs["device_name"].fillna("?"))
        .groupby(["device", "device_name"], dropna=False)
        .size()
        .reset_index(name="runs")
    )
    jobs = runs[["part", "run", "label", "seed", "epochs_run", "train_seconds", "job_seconds"]].copy()
    per_part = runs.groupby("part")["job_seconds"].agg(["count", "sum"]).reset_index()
    return {
        "config_yaml": yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=100),
        "preset": config.get("preset", "?"),
        "seeds": config.get("seeds", []),
        "commit": commit,
        "versions": versions,
        "devices": devices.to_dict("records"),
        "jobs": jobs.to_dict("records"),
        "per_part": per_part.to_dict("records"),
        "total_job_seconds": float(runs["job_seconds"].sum()),
        "total_train_seconds": float(runs["train_seconds"].sum()),
        "runs": len(runs),
    }


# ---- rendering -----------------------------------------------------------------------


def data_uri(path) -> str:
    """A file as a data: URI (PNG, SVG or JPEG by suffix)."""
    path = Path(path)
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(path.suffix.lower())
    if kind is None:
        raise StudyError(f"{path}: cannot embed a {path.suffix or 'suffix-less'} file as an image")
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as err:
        raise StudyError(f"{path}: cannot read figure ({err})") from None
    return f"data:{kind};base64,{payload}"


def table_context(table: pd.DataFrame, digits: int = 4) -> dict:
    """A table for the template: column names and rows of text cells."""

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


# A cell that reads as a number: 0.1234, -3, +0.05, 0.5 ± 0.01, (90, 100), – (missing).
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?( ± \d+(\.\d+)?)?|\(\d+, \d+\)|–")


def read_table(path) -> dict:
    """A study table (CSV) as text cells, exactly as its CSV has them."""
    return table_context(pd.read_csv(path, dtype=str, keep_default_na=False))


def curve_figures(runs: pd.DataFrame, names: pd.Series | None = None) -> list[dict]:
    """Per run: a title and the data URIs of its cost and accuracy plots."""
    figures = []
    for index, row in runs.iterrows():
        folder = Path(row["metrics_file"]).parent
        title = names[index] if names is not None else row["label"]
        figures.append(
            {
                "title": f"{title} (seed {int(row['seed'])})",
                "run": row["run"],
                "costs": data_uri(folder / "costs.png"),
                "accuracies": data_uri(folder / "accuracies.png"),
            }
        )
    return figures


_ALL_RUNS_COLUMNS = [
    "part", "label", "seed", "c1", "c2", "optimizer", "level", "architecture", "layers", "dropout",
    "clip_threshold", "max_test_accuracy", "mean_test_accuracy", "final_test_accuracy", "best_epoch",
    "epochs_run", "parameters", "train_seconds", "job_seconds",
]


def context(*, runs, a1_pair, optimum, grid, tables_csv, comparisons, figures, feature_maps, config, commit) -> dict:
    """Everything the template shows, as plain text, numbers and data URIs.

    runs: the all_runs frame; optimum: optimum.json's content (None without
    Part A); grid: {"c1": [...], "c2": [...]}; tables_csv: {a2, a4, b5, b6,
    masking: CSV path}; comparisons: {a4, b5, b6: comparison CSV path};
    figures: {name: PNG path}; feature_maps: [PNG paths]. Only the parts in
    config["parts"] need their entries.
    """
    present = [c for c in _ALL_RUNS_COLUMNS if c in runs]
    comparison_tables = {}
    for question, path in comparisons.items():
        frame = pd.read_csv(path, dtype={"note": str})
        frame["note"] = frame["note"].fillna("")
        comparison_tables[question] = comparison_context(question, frame)
    parts = config.get("parts", ["part_a", "part_b"])
    return {
        "title": "CE/CZ4042 deep-learning study: results",
        "generated": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "preset": config.get("preset", "?"),
        "seeds": config.get("seeds", []),
        "parts": parts,
        "part_a": config.get("part_a", {}),
        "part_b": config.get("part_b", {}),
        "text": config.get("text", {}),
        "tables": {name: read_table(path) for name, path in tables_csv.items()},
        "comparisons": comparison_tables,
        "figures": {name: data_uri(path) for name, path in figures.items()},
        "all_runs": table_context(runs[present]),
        "provenance": provenance(runs, config, commit),
        **(_part_a_context(runs, a1_pair, optimum, grid, feature_maps) if "part_a" in parts else {}),
        **(_part_b_context(runs, config["part_b"]) if "part_b" in parts else {}),
    }


def _part_a_context(runs, a1_pair, optimum, grid, feature_maps) -> dict:
    optimum_pair = (int(optimum["c1"]), int(optimum["c2"]))
    a4 = tables.a4_models(runs, a1_pair, optimum_pair)
    a1 = a4[a4["experiment"] == "A1 SGD"]
    a3 = a4[a4["experiment"].str.startswith("A3")]
    grid_frame = tables.grid_runs(runs, grid["c1"], grid["c2"]).sort_values(["c1", "c2", "seed"], kind="stable")
    adam = a4[a4["experiment"] == "A3c Adam"]
    return {
        "a1_pair": tuple(int(v) for v in a1_pair),
        "optimum": {"c1": optimum_pair[0], "c2": optimum_pair[1], "source": str(optimum.get("source", ""))},
        "adam_max": float(adam["max_test_accuracy"].mean()) if len(adam) else None,
        "feature_maps": [data_uri(path) for path in feature_maps],
        "curves_a": {
            "a1": curve_figures(a1),
            "a2": curve_figures(grid_frame),
            "a3": curve_figures(a3, a3["experiment"]),
        },
    }


# A run whose best epoch stays below this many times chance level learnt nothing.
_NEAR_CHANCE = 1.5
_TEXT_CHANCE = 1 / text.NUM_CLASSES


def _part_b_context(runs, part_b: dict) -> dict:
    b5 = tables.b5_models(runs, part_b["mask_padding"])
    b6 = tables.b6_models(runs, part_b["mask_padding"])
    b6_only = b6[b6["variant"] != "GRU (B3 / B4)"]
    models_b14 = b5[b5["dropout"] == 0]
    models_b5 = b5[b5["dropout"] > 0]
    masking = tables.masking_models(runs)
    stuck = b5[(b5["level"] == "word") & (b5["architecture"] == "gru")]
    stuck = stuck[stuck["max_test_accuracy"] < _NEAR_CHANCE * _TEXT_CHANCE]
    return {
        "word_rnn_at_chance": {
            "runs": len(stuck),
            "which": " and ".join(dict.fromkeys(stuck["dropout_label"])),
            "max": float(stuck["max_test_accuracy"].max()) if len(stuck) else None,
            "chance": _TEXT_CHANCE,
        },
        "masking": {"runs": len(masking)} | tables.masking_gains(runs),
        "curves_b": {
            "b14": curve_figures(models_b14, models_b14["model"]),
            "b5": curve_figures(models_b5, models_b5["model"] + " + dropout"),
            "b6": curve_figures(b6_only, b6_only["level"] + ": " + b6_only["variant"]),
            "masking": curve_figures(masking, masking["variant"] + ", " + masking["padding"]),
        },
    }


def render(template_dir, template_name: str, stylesheet, ctx: dict) -> str:
    """The report as one HTML string; every value from the data is escaped."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["seconds"] = format_seconds
    css = Path(stylesheet).read_text() if stylesheet else ""
    # The stylesheet is ours (report/*.css), not data; "</" cannot end the <style> early.
    ctx = ctx | {"stylesheet": jinja2.utils.markupsafe.Markup(css.replace("</", "<\\/"))}
    return environment.get_template(template_name).render(**ctx)


def format_seconds(value) -> str:
    """1234.5 → "20 min 34.5 s"; 3.2 → "3.2 s"."""
    if value is None or pd.isna(value):
        return "–"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(value, 60)
    if minutes < 60:
        return f"{int(minutes)} min {seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def load_json(path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StudyError(f"{path}: unreadable ({err})") from None


def optimum_pair(optimum_json) -> tuple[int, int] | None:
    """The A3 pair of optimum.json; None without one (a study without Part A)."""
    if not optimum_json:
        return None
    optimum = load_json(optimum_json)
    return int(optimum["c1"]), int(optimum["c2"])


# ---- jobs (scripts/aggregate_*.py, scripts/render_report.py) -----------------------


def write_all_runs(metric_files, output, log=print) -> None:
    """The tidy table of every run as CSV."""
    log(f"reading {len(metric_files)} metrics files")
    frame = collect_runs(metric_files)
    frame.to_csv(output, index=False)
    log(f"{len(frame)} runs, {frame.shape[1]} columns -> {output}")


def write_reference_comparison(
    question, runs_csv, reference_dir, optimum_json, a1_pair, mask_padding, output, log=print
) -> None:
    """Ours beside the reference numbers for A4, B5 or B6, as CSV."""
    runs = question_runs(question, read_runs(runs_csv), a1_pair, optimum_pair(optimum_json), mask_padding)
    table = reference_comparison(question, runs, read_reference(reference_dir))
    integer_columns(table).to_csv(output, index=False)
    log(f"{question}: {len(table)} models beside the reference")


def write_report(*, inputs: dict, params: dict, output, log=print) -> None:
    """Render report/template.html.j2 into one self-contained HTML file.

    inputs: all_runs, template, stylesheet; with Part A: optimum, the tables
    a2/a4, a4_reference and feature_maps (a list); with Part B: the tables
    b5/b6/masking and b5_reference/b6_reference; the figures of both (keys
    ending in "_figure").
    params: config (resolved), a1_pair, grid {"c1", "c2"}, basedir.
    """
    runs = read_runs(inputs["all_runs"])
    figures = {key.removesuffix("_figure"): path for key, path in inputs.items() if key.endswith("_figure")}
    log(f"embedding {len(figures)} figures and the learning curves of {len(runs)} runs")
    ctx = context(
        runs=runs,
        a1_pair=params["a1_pair"],
        optimum=load_json(inputs["optimum"]) if "optimum" in inputs else None,
        grid=params["grid"],
        tables_csv={name: inputs[name] for name in ("a2", "a4", "b5", "b6", "masking") if name in inputs},
        comparisons={name: inputs[f"{name}_reference"] for name in ("a4", "b5", "b6") if f"{name}_reference" in inputs},
        figures=figures,
        feature_maps=list(inputs.get("feature_maps", [])),
        config=params["config"],
        commit=git_commit(params["basedir"]),
    )
    template = Path(inputs["template"])
    log(f"rendering {template.name}")
    text = render(template.parent, template.name, inputs["stylesheet"], ctx)
    Path(output).write_text(text, encoding="utf-8")
    log(f"{len(runs)} runs, {len(text) / 1e6:.1f} MB -> {output}")
