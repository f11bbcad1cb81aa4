"""The study's one-file HTML report: what report/template.html.j2 shows, and
its rendering.

Everything the report shows comes from the html_report job's declared
inputs: the tidy table of all runs, the study tables, the reference
comparisons, the figures and every run's learning-curve plots, embedded as
data: URIs. Which runs each section shows, and how it names them, comes
from nnstudy.questions, as for the tables and figures.
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import jinja2
import pandas as pd

from nnstudy import questions, text
from nnstudy.analysis import reference, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.identity import git_commit
from nnstudy.report import cells
from nnstudy.report.provenance import provenance

TITLE = "CE/CZ4042 deep-learning study: results"
# The all-runs table's columns, of those all_runs.csv has.
_ALL_RUNS_COLUMNS = [
    "part", "label", "seed", "c1", "c2", "optimizer", "level", "architecture", "layers", "dropout",
    "clip_threshold", "max_test_accuracy", "mean_test_accuracy", "final_test_accuracy", "best_epoch",
    "epochs_run", "parameters", "train_seconds", "job_seconds",
]  # fmt: skip
# A run whose best epoch stays below this many times chance level learnt nothing.
_NEAR_CHANCE = 1.5


def data_uri(path) -> str:
    """A file as a data: URI (PNG, SVG or JPEG by suffix)."""
    path = Path(path)
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    if path.suffix.lower() not in kind:
        raise StudyError(f"{path}: cannot embed a {path.suffix or 'suffix-less'} file as an image")
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as err:
        raise StudyError(f"{path}: cannot read figure ({err})") from None
    return f"data:{kind[path.suffix.lower()]};base64,{payload}"


def curve_plots(paths) -> dict[str, dict[str, str]]:
    """{run name: {"costs": path, "accuracies": path}} of the runs' plots (run folder/<plot>.png)."""
    plots = {}
    for path in map(Path, paths):
        plots.setdefault(path.parent.name, {})[path.stem] = path
    return plots


def gallery(rows: pd.DataFrame, plots: dict, title: str = "name") -> list[dict]:
    """Per run: a title (its `title` column and seed) and the data URIs of its cost and accuracy plots."""
    cards = []
    for _, row in rows.iterrows():
        found = plots.get(row["run"], {})
        if not {"costs", "accuracies"} <= found.keys():
            raise StudyError(f"no learning-curve plots among the report's inputs for run {row['run']}")
        cards.append(
            {
                "title": f"{row[title]} (seed {int(row['seed'])})",
                "run": row["run"],
                "costs": data_uri(found["costs"]),
                "accuracies": data_uri(found["accuracies"]),
            }
        )
    return cards


def context(*, runs, optimum, tables_csv, comparisons, figures, feature_maps, curves, config, commit) -> dict:
    """Everything the template shows, as plain text, numbers and data URIs.

    runs: the all_runs frame; optimum: optimum.json's content (None without
    Part A); tables_csv: {a2, a4, b5, b6, masking: CSV path}; comparisons:
    {a4, b5, b6: comparison CSV path}; figures: {name: PNG path};
    feature_maps: [PNG paths]; curves: every run's cost and accuracy plots;
    config: the resolved config. Only the parts in config["parts"] need their entries.
    """
    present = [c for c in _ALL_RUNS_COLUMNS if c in runs]
    comparison_frames = {question: reference.read_comparison(path) for question, path in comparisons.items()}
    parts = config.get("parts", ["part_a", "part_b"])
    plots = curve_plots(curves)
    return {
        "title": TITLE,
        "generated": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "preset": config.get("preset", "?"),
        "seeds": config.get("seeds", []),
        "parts": parts,
        "part_a": config.get("part_a", {}),
        "part_b": config.get("part_b", {}),
        "text": config.get("text", {}),
        "tables": {name: cells.read_table(path) for name, path in tables_csv.items()},
        "comparisons": {q: cells.comparison_context(q, frame) for q, frame in comparison_frames.items()},
        "figures": {name: data_uri(path) for name, path in figures.items()},
        "all_runs": cells.table_context(runs[present]),
        "provenance": provenance(runs, config, commit),
        **(
            _part_a(runs, config["part_a"], optimum, comparison_frames, feature_maps, plots)
            if "part_a" in parts
            else {}
        ),
        **(_part_b(runs, config["part_b"], plots) if "part_b" in parts else {}),
    }


def _part_a(runs, part_a, optimum, comparisons, feature_maps, plots) -> dict:
    pair = (int(optimum["c1"]), int(optimum["c2"]))
    a3 = study_runs.question_runs("a3", runs, part_a, pair)
    adam = a3[a3["optimizer"] == "adam"]
    # The pair the reference report chose, beside its grid optimum's numbers.
    theirs = comparisons.get("a4", pd.DataFrame(columns=["experiment", "reference_c1", "reference_c2"]))
    chosen = theirs[theirs["experiment"] == questions.A2_OPTIMUM.name][["reference_c1", "reference_c2"]].dropna()
    return {
        "a1_pair": (int(part_a["c1"]), int(part_a["c2"])),
        "optimum": {"c1": pair[0], "c2": pair[1], "source": str(optimum.get("source", ""))},
        "reference_optimum": tuple(int(v) for v in chosen.iloc[0]) if len(chosen) else None,
        "adam_max": float(adam["max_test_accuracy"].mean()) if len(adam) else None,
        "feature_maps": [data_uri(path) for path in feature_maps],
        "curves_a": {
            "a1": gallery(study_runs.question_runs("a1", runs, part_a), plots, "label"),
            "a2": gallery(study_runs.question_runs("a2", runs, part_a), plots, "label"),
            "a3": gallery(a3, plots),
        },
    }


def _part_b(runs, part_b: dict, plots) -> dict:
    b5 = study_runs.question_runs("b5", runs, part_b)
    b6 = study_runs.question_runs("b6", runs, part_b)
    masking = study_runs.question_runs("masking", runs, part_b)
    without = b5["dropout_label"] == questions.WITHOUT_DROPOUT.name
    chance = 1 / text.NUM_CLASSES
    stuck = b5[(b5["level"] == "word") & (b5["architecture"] == "gru")]
    stuck = stuck[stuck["max_test_accuracy"] < _NEAR_CHANCE * chance]
    return {
        "classes": text.NUM_CLASSES,
        "b6_variants": [model.name for model in questions.B6_VARIANTS],
        "word_rnn_at_chance": {
            "runs": len(stuck),
            "which": " and ".join(dict.fromkeys(stuck["dropout_label"])),
            "max": float(stuck["max_test_accuracy"].max()) if len(stuck) else None,
            "chance": chance,
        },
        "masking": {"runs": len(masking)} | tables.masking_gains(masking),
        "curves_b": {
            "b14": gallery(b5[without], plots),
            "b5": gallery(b5[~without], plots),
            "b6": gallery(b6[b6["variant"] != questions.B6_BASELINE.name], plots),
            "masking": gallery(masking, plots),
        },
    }


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


def render(template, stylesheet, ctx: dict) -> str:
    """The report as one HTML string; every value from the data is escaped."""
    template = Path(template)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["seconds"] = format_seconds
    css = Path(stylesheet).read_text()
    # The stylesheet is ours (report/*.css), not data; "</" cannot end the <style> early.
    ctx = ctx | {"stylesheet": jinja2.utils.markupsafe.Markup(css.replace("</", "<\\/"))}
    return environment.get_template(template.name).render(**ctx)


# ---- job (scripts/html_report.py) -----------------------------------------------------


def write_report(*, inputs: dict, params: dict, output, log=print) -> None:
    """Render report/template.html.j2 into one self-contained HTML file.

    inputs: all_runs, template, stylesheet, curves (every run's plots); with
    Part A: optimum, the tables a2/a4, a4_reference and feature_maps (a list);
    with Part B: the tables b5/b6/masking and b5_reference/b6_reference; the
    figures of both (keys ending in "_figure").
    params: config (resolved), basedir (the checkout, for its git commit).
    """
    runs = study_runs.read_all_runs(inputs["all_runs"])
    figures = {key.removesuffix("_figure"): path for key, path in inputs.items() if key.endswith("_figure")}
    log(f"embedding {len(figures)} figures and the learning curves of {len(runs)} runs")
    ctx = context(
        runs=runs,
        optimum=tables.read_optimum(inputs["optimum"]) if "optimum" in inputs else None,
        tables_csv={name: inputs[name] for name in ("a2", "a4", "b5", "b6", "masking") if name in inputs},
        comparisons={q: inputs[f"{q}_reference"] for q in questions.COMPARED if f"{q}_reference" in inputs},
        figures=figures,
        feature_maps=list(inputs.get("feature_maps", [])),
        curves=list(inputs["curves"]),
        config=params["config"],
        commit=git_commit(params["basedir"]),
    )
    log(f"rendering {Path(inputs['template']).name}")
    html = render(inputs["template"], inputs["stylesheet"], ctx)
    Path(output).write_text(html, encoding="utf-8")
    log(f"{len(runs)} runs, {len(html) / 1e6:.1f} MB -> {output}")
