"""The study's one-file HTML report: what report/template.html.j2 shows, and
its rendering.

Everything the report shows comes from the html_report job's declared
inputs: the tidy table of all runs, the study tables, the verdicts, the
reference comparisons, the figures and every run's learning-curve plots,
embedded as data: URIs, as are the data files it offers for download, so the
report works wherever it is copied (results/, a published folder). Which runs
each section shows, and how it names them, comes from nnstudy.study.questions, as
for the tables and figures; which sections it has, from config `parts` and
`questions` (nnstudy.study.plan.chosen_questions).
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import jinja2
import pandas as pd

from nnstudy.analysis import formats, reference, stats, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.data import text
from nnstudy.errors import StudyError
from nnstudy.report import cells, scope
from nnstudy.report.provenance import provenance
from nnstudy.study import plan, questions
from nnstudy.train import identity

TITLE = "CE/CZ4042 deep-learning study: results"
_KINDS = {
    ".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".csv": "text/csv", ".gz": "application/gzip",
}  # fmt: skip


def data_uri(path) -> str:
    """A file as a data: URI (an image, a CSV or a gzipped file, by suffix)."""
    path = Path(path)
    if path.suffix.lower() not in _KINDS:
        raise StudyError(f"{path}: cannot embed a {path.suffix or 'suffix-less'} file")
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as err:
        raise StudyError(f"{path}: cannot read {path.name} ({err})") from None
    return f"data:{_KINDS[path.suffix.lower()]};base64,{payload}"


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


def context(*, runs, optimum, tables_csv, comparisons, verdicts, figures, feature_maps, curves, downloads, notes,
            config, commit) -> dict:  # fmt: skip
    """Everything the template shows, as plain text, numbers and data URIs.

    runs: the all_runs frame; optimum: optimum.json's content (None without
    A3); tables_csv: {question: its table's CSV}; comparisons: {a4, b5, b6:
    comparison CSV}; verdicts: verdicts.csv (None without comparisons);
    figures: {name: PNG}; feature_maps: [PNG]; curves: every run's cost and
    accuracy plots; downloads: data files to embed; notes: a publication's
    explanations ({} without); config: the resolved config. Only the chosen
    questions need their entries.
    """
    chosen = plan.chosen_questions(config)
    parts = config["parts"]
    frames = {question: reference.read_comparison(path) for question, path in comparisons.items()}
    plots = curve_plots(curves)
    found = {
        "title": TITLE,
        "generated": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "preset": config["preset"],
        "seeds": config["seeds"],
        "parts": parts,
        "chosen": chosen,
        "part_a": config["part_a"],
        "part_a_learning_rate": scope.learning_rates(config["part_a"]),
        "part_b": config["part_b"],
        "text": config["text"],
        "scope": scope.coverage(config, notes),
        "preset_notes": scope.preset(config, runs),
        "at_spec": (at_spec := scope.at_spec(config, runs)),
        "findings": [] if at_spec else scope.findings(frames),
        "tables": {name: cells.read_table(path) for name, path in tables_csv.items()},
        "comparisons": {
            q: cells.comparison(q, frame, config[questions.QUESTIONS[q].part], notes) for q, frame in frames.items()
        },
        "verdicts": cells.verdicts(verdicts) if verdicts else {},
        "explained": bool(notes),
        "figures": {name: data_uri(path) for name, path in figures.items()},
        "all_runs": cells.all_runs(runs),
        "optimism": [
            f"Part {part[-1].upper()}: " + stats.optimism_sentence(rows, items=f"test {reference.SPEC[part]['items']}")
            for part in parts
            if len(rows := runs[runs["part"] == part[-1].upper()])
        ],
        "downloads": [{"name": Path(path).name, "uri": data_uri(path)} for path in downloads],
        "provenance": provenance(runs, config, commit),
    }
    if "part_a" in parts:
        found |= _part_a(runs, config["part_a"], chosen, optimum, frames, feature_maps, plots)
    if "part_b" in parts:
        found |= _part_b(runs, config["part_b"], chosen, plots)
    return found


def _part_a(runs, part_a, chosen, optimum, comparisons, feature_maps, plots) -> dict:
    pair = (int(optimum["c1"]), int(optimum["c2"])) if optimum else None
    found = {
        "a1_pair": (int(part_a["c1"]), int(part_a["c2"])),
        "optimum": {"c1": pair[0], "c2": pair[1], "source": str(optimum.get("source", ""))} if pair else None,
        "curves_a": {
            key: gallery(study_runs.question_runs(key, runs, part_a, pair), plots, "name" if key == "a3" else "label")
            for key in ("a1", "a2", "a3", "layout")
            if key in chosen
        },
    }
    if "a1" in chosen:
        found["feature_maps"] = [data_uri(path) for path in feature_maps]
    if "a4" in chosen:
        a3 = study_runs.question_runs("a3", runs, part_a, pair)
        adam = a3[a3["optimizer"] == "adam"]
        # The pair the reference report chose, beside its grid optimum's numbers.
        theirs = comparisons["a4"]
        chosen_pair = theirs[theirs["experiment"] == questions.A2_OPTIMUM.name][["reference_c1", "reference_c2"]]
        chosen_pair = chosen_pair.dropna()
        found["reference_optimum"] = tuple(int(v) for v in chosen_pair.iloc[0]) if len(chosen_pair) else None
        found["adam_max"] = float(adam["max_test_accuracy"].mean()) if len(adam) else None
    return found


def _part_b(runs, part_b: dict, chosen, plots) -> dict:
    found = {"classes": text.NUM_CLASSES, "b6_variants": [model.name for model in questions.B6_VARIANTS]}
    curves = found["curves_b"] = {}
    if "b5" in chosen:
        b5 = study_runs.question_runs("b5", runs, part_b)
        without = b5["dropout_label"] == questions.WITHOUT_DROPOUT.name
        chance = scope.CHANCE["part_b"]
        stuck = b5[(b5["level"] == "word") & (b5["architecture"] == "gru")]
        stuck = stuck[stuck["max_test_accuracy"] < scope.NEAR_CHANCE * chance]
        found["word_rnn_at_chance"] = {
            "runs": len(stuck),
            "which": " and ".join(dict.fromkeys(stuck["dropout_label"])),
            "max": float(stuck["max_test_accuracy"].max()) if len(stuck) else None,
            "chance": chance,
        }
        found["b5_optimism"] = stats.optimism_sentence(b5) if len(b5) else ""
        found["b5_epochs"] = {"ours": int(b5["epochs_run"].max()), "reference": reference.SPEC["part_b"]["epochs"]}
        curves |= {"b14": gallery(b5[without], plots), "b5": gallery(b5[~without], plots)}
    if "b6" in chosen:
        b6 = study_runs.question_runs("b6", runs, part_b)
        curves["b6"] = gallery(b6[b6["variant"] != questions.B6_BASELINE.name], plots)
    if "masking" in chosen:
        masking = study_runs.question_runs("masking", runs, part_b)
        found["masking"] = {"runs": len(masking)} | tables.masking_gains(masking)
        curves["masking"] = gallery(masking, plots)
    if "clipping" in chosen:
        curves["clipping"] = gallery(study_runs.question_runs("clipping", runs, part_b), plots)
    return found


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
    environment.filters |= {"duration": formats.duration, "accuracy": formats.accuracy, "signed": formats.signed}
    css = Path(stylesheet).read_text()
    # The stylesheet is ours (report/*.css), not data; "</" cannot end the <style> early.
    ctx = ctx | {"stylesheet": jinja2.utils.markupsafe.Markup(css.replace("</", "<\\/"))}
    return environment.get_template(template.name).render(**ctx)


# ---- job (scripts/html_report.py) -----------------------------------------------------

FIGURES = "results/figures"


def inputs(chosen: list[str], *, curves, histories, verdicts: bool, feature_maps, explanations=None) -> dict:
    """The html_report job's inputs (rules/common.smk), named as write_report reads them: all_runs, histories,
    template, stylesheet, curves (every run's plots); the chosen questions' tables (a2, a4, b5, b6, masking) and
    comparisons (<question>_reference, with <question>_comparison_figure, <question>_curves_figure), the other
    figures (keys ending in "_figure"), feature_maps (a list), optimum (with A3), verdicts; a publication's
    explanations, when given."""
    found = {
        "all_runs": "results/tables/all_runs.csv",
        "histories": histories,
        "template": "report/template.html.j2",
        "stylesheet": "report/report.css",
        "curves": curves,
    }
    found |= {"verdicts": "results/tables/verdicts.csv"} if verdicts else {}
    found |= {"explanations": explanations} if explanations else {}
    found |= {key: f"results/tables/{key}.csv" for key in questions.TABLED if key in chosen}
    for key in (key for key in questions.COMPARED if key in chosen):
        found[f"{key}_reference"] = f"results/tables/{key}_reference.csv"
        found |= {f"{key}_{kind}_figure": f"{FIGURES}/{key}_{kind}.png" for kind in ("comparison", "curves")}
    if "a1" in chosen:
        found["feature_maps"] = feature_maps
    if "a2" in chosen:
        found["a2_heatmap_figure"] = f"{FIGURES}/a2_heatmap.png"
    if "a3" in chosen:
        found["optimum"] = plan.OPTIMUM_FILE
    if "b_accuracy_time" in chosen:
        found["b_accuracy_time_figure"] = f"{FIGURES}/b_accuracy_time.png"
    return found


def write_report(*, inputs: dict, params: dict, output, log=print) -> None:
    """Render report/template.html.j2 into one self-contained HTML file from the job's `inputs` (see `inputs`).

    params: config (resolved).
    """
    runs = study_runs.read_all_runs(inputs["all_runs"])
    figures = {key.removesuffix("_figure"): path for key, path in inputs.items() if key.endswith("_figure")}
    log(f"embedding {len(figures)} figures and the learning curves of {len(runs)} runs")
    ctx = context(
        runs=runs,
        optimum=tables.read_optimum(inputs["optimum"]) if "optimum" in inputs else None,
        tables_csv={name: inputs[name] for name in tables.TABLES if name in inputs},
        comparisons={q: inputs[f"{q}_reference"] for q in questions.COMPARED if f"{q}_reference" in inputs},
        verdicts=inputs.get("verdicts"),
        figures=figures,
        feature_maps=list(inputs.get("feature_maps", [])),
        curves=list(inputs["curves"]),
        downloads=[inputs[key] for key in ("all_runs", "verdicts", "histories") if key in inputs],
        notes=reference.read_explanations(inputs["explanations"]) if "explanations" in inputs else {},
        config=params["config"],
        commit=identity.git_commit(Path(inputs["template"]).resolve().parent),  # the workflow's checkout
    )
    log(f"rendering {Path(inputs['template']).name}")
    html = render(inputs["template"], inputs["stylesheet"], ctx)
    Path(output).write_text(html, encoding="utf-8")
    log(f"{len(runs)} runs, {len(html) / 1e6:.1f} MB -> {output}")
