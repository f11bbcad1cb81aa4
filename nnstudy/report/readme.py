"""A publication's README (docs/paper-results/README.md) and the project README's glance at it.

Every number comes from the published folder: all_runs.csv, the histories, the
workflow's comparison and verdict tables, publication.json, and
data/reference/ for A1; README.md.j2 lays them out (`render_readme`, which the
tests repeat). A difference from the reference the workflow flags (beyond 0.03
and, with several seeds, outside our seeds' range: nnstudy.analysis.stats)
needs a written explanation in explanations.yaml, keyed "question: row".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pandas as pd

from nnstudy.analysis import curves, formats, reference, stats, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.report import scope
from nnstudy.study import questions

COMPARED = ("b5", "b6")
README_BLOCK = re.compile(r"(<!-- paper-results:glance -->\n).*?(<!-- /paper-results:glance -->)", re.DOTALL)


def anchor(text: str) -> str:
    """The link target GitHub gives a Markdown heading: "B5: Word CNN, with dropout" → "b5-word-cnn-with-dropout"."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def comparison_rows(question: str, folder: Path, runs: pd.DataFrame, config: dict) -> list[dict]:
    """Ours beside the reference for B5 or B6: the reference, the difference
    and whether the workflow flagged it to explain from its comparison table
    (<question>_reference.csv) in the published folder, ours (max, final epoch
    and mean over epochs, with their intervals over seeds) from all_runs.csv
    (`runs`; config: the part's). One dict per row, with the key
    explanations.yaml names it by ("b5: Word CNN, with dropout")."""
    keys = questions.QUESTIONS[question].keys
    theirs = reference.read_comparison(folder / f"{question}_reference.csv")
    ours = tables.summary(study_runs.question_runs(question, runs, config), keys, list(tables.ACCURACIES))
    table = theirs.drop(columns=[c for c in ours if c in theirs and c not in keys]).merge(ours, on=keys, how="left")
    rows = []
    for _, row in table.iterrows():
        key = reference.row_key(question, row)
        name = key.split(": ", 1)[1]
        rows.append(
            {
                "key": name,
                "explanation_key": key,
                "anchor": anchor(f"{question.upper()}: {name}"),
                "ours": {statistic: _ours(row, statistic) for statistic in tables.ACCURACIES},
                "reference": formats.accuracy(row["reference_max_test_accuracy"]),
                "reference_mean": formats.accuracy(row["reference_mean_test_accuracy"]),
                "difference": formats.signed(row["difference_max_test_accuracy"]),
                "explain": str(row["explain_max_test_accuracy"]) == "True",
            }
        )
    return rows


def _ours(row, statistic: str) -> str:
    """Our mean over seeds, with its 95 % interval when there are several."""
    interval = formats.interval(row[f"{statistic}_ci_low"], row[f"{statistic}_ci_high"])
    return formats.accuracy(row[statistic]) + (f" ({interval})" if row["seeds"] > 1 else "")


def _markdown(rows: list[dict], link: str = "") -> str:
    """A comparison as Markdown: max over epochs (ours, the reference's, the
    difference), ours at the final epoch, mean over epochs (ours, the
    reference's), and a link to the explanation of a difference to explain."""
    lines = [
        "| model | max: ours | max: reference | difference | final epoch: ours | mean: ours | mean: reference | why |",
        "|:--|--:|--:|--:|--:|--:|--:|:--|",
    ]
    for row in rows:
        ours, why = row["ours"], f"[explained]({link}#{row['anchor']})" if row["explain"] else ""
        cells = [row["key"], ours["max_test_accuracy"], row["reference"], row["difference"]]
        cells += [ours["final_test_accuracy"], ours["mean_test_accuracy"], row["reference_mean"], why]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_context(folder: Path, link: str = "") -> dict:
    """What README.md.j2 shows, from the folder's all_runs.csv, comparison
    tables, verdicts.csv and publication.json (`link`: where the explanations
    are, for the glance; "" inside README.md)."""
    runs = study_runs.read_all_runs(folder / "all_runs.csv")
    publication = json.loads((folder / "publication.json").read_text())
    part_b = publication["config"]["part_b"]
    explanations = reference.read_explanations(folder / "explanations.yaml")
    comparisons = {q: comparison_rows(q, folder, runs, part_b) for q in COMPARED}
    missing = [row["explanation_key"] for rows in comparisons.values() for row in rows
               if row["explain"] and row["explanation_key"] not in explanations]  # fmt: skip
    if missing:
        raise StudyError(f"{folder / 'explanations.yaml'}: no explanation for {'; '.join(missing)}")
    runs, part_a_runs = runs[runs["part"] == "B"], runs[runs["part"] == "A"]
    masking = study_runs.question_runs("masking", runs, part_b)
    engines = runs.groupby(["architecture", "backend", "precision"]).size().reset_index(name="runs")
    verdicts = pd.read_csv(folder / "verdicts.csv", dtype=str, keep_default_na=False)
    seeds = sorted(runs["seed"].unique().tolist())
    return {
        "runs": runs,
        "publication": publication,
        "count": len(runs),
        "epochs": sorted(runs["epochs_run"].unique().tolist()),
        "train_sizes": sorted(runs["train_size"].unique().tolist()),
        "test_sizes": sorted(runs["test_size"].unique().tolist()),
        "seeds": seeds,
        "masked_runs": int(runs["mask_padding"].astype(bool).sum()),
        "engines": engines.to_dict("records"),
        "determinism": determinism(publication["config"]["training"]["deterministic"]),
        "job_hours": runs["job_seconds"].sum() / 3600,
        **{q: _markdown(rows, link) for q, rows in comparisons.items()},
        "masking": tables.masking_table(masking).to_markdown(index=False, disable_numparse=True),
        "gains": tables.masking_gains(masking),
        "verdicts": {
            q: list(rows[rows["statistic"] == "max_test_accuracy"]["sentence"])
            for q, rows in verdicts.groupby("question", sort=False)
        },
        "optimism": stats.optimism_sentence(runs),
        "explained": [
            row | {"question": q.upper(), "text": explanations[row["explanation_key"]]}
            for q, rows in comparisons.items()
            for row in rows
            if row["explain"]
        ],
        "a1": a1_context(folder, part_a_runs, publication["config"], explanations),
        "b5_times": b5_times(folder, runs, part_b),
        "part_a_missing": _part_a_missing(publication["config"], explanations),
        "histories_file": next((path.name for path in folder.glob("histories.csv*")), "histories.csv"),
        "number": lambda value, sign=False: (formats.signed if sign else formats.accuracy)(value),
    }


def determinism(setting) -> str:
    """training.deterministic in words: "deterministic ops", or per model family where they differ."""
    if not isinstance(setting, dict):
        return "deterministic ops" if setting else "non-deterministic ops"
    families = [family for family in ("cifar_cnn", "text_cnn", "text_rnn") if not setting.get(family, True)]
    return f"deterministic ops but for {', '.join(families)}" if families else "deterministic ops"


def a1_context(folder: Path, runs: pd.DataFrame, config: dict, explanations: dict) -> list[dict]:
    """A1 at each of its seeds beside the reference report's A1: max, mean and final test accuracy and
    the shape of the curves (nnstudy.analysis.curves), from the published histories; [] without A1.
    Like B5's and B6's rows, a max beyond the band from the reference's needs its explanation
    (key "a1: A1 SGD")."""
    rows = study_runs.question_runs("a1", runs, config["part_a"]) if len(runs) else runs
    if not len(rows):
        return []
    histories = pd.read_csv(next(folder.glob("histories.csv*")))
    theirs = pd.read_csv(Path(questions.reference_files("a4")[0])).set_index("experiment").loc[questions.A1.name]
    key = f"a1: {questions.A1.name}"
    found = []
    for _, run in rows.iterrows():
        shape = curves.shape(histories[histories["run"] == run["run"]])
        beyond = abs(shape["max_test_accuracy"] - theirs["max_test_accuracy"]) > stats.EXPLAIN_ABOVE
        if beyond and key not in explanations:
            raise StudyError(f"{folder / 'explanations.yaml'}: no explanation for {key}")
        found.append(
            {name: int(run[name]) for name in ("seed", "c1", "c2", "train_size", "test_size")}
            | {"reference": theirs, "note": explanations.get(key, "")}
            | shape
        )
    return found


# bench/b5_times.py's measurement, placed in the publication folder by hand (--json).
B5_TIMES = "b5_times.json"
B5_MODELS = {f"{level}-{arch}{dropout}": (level, arch, 0.5 if dropout else 0.0)
             for level in ("char", "word") for arch in ("cnn", "gru") for dropout in ("", "+dropout")}  # fmt: skip


def b5_times(folder: Path, runs: pd.DataFrame, part_b: dict) -> dict | None:
    """B5's seconds per epoch like for like (one backend, one thread count, one machine, the models
    taking turns) beside the study's own, whose backends differ; None without the measurement."""
    path = folder / B5_TIMES
    if not path.is_file():
        return None
    measured = json.loads(path.read_text())
    b5 = study_runs.question_runs("b5", runs, part_b)
    rows = []
    for model, (level, arch, dropout) in B5_MODELS.items():
        ours = b5[(b5["level"] == level) & (b5["architecture"] == arch) & (b5["dropout"] == dropout)]
        result = measured["results"][model]
        rows.append(
            {"model": model, "median": result["median_s"], "best": result["best_s"],
             "study": ours["seconds_per_epoch"].median(), "backend": ", ".join(sorted(set(ours["backend"])))}
        )  # fmt: skip
    return {"settings": measured["settings"], "rows": rows, "ratios": measured["ratios"]}


def _part_a_missing(config: dict, notes: dict) -> str:
    """The sentence on the questions of Part A this publication does not hold, and why ("" if none)."""
    config = {"questions": [*scope.SPANS, *scope.NAMES]} | config  # a config from before `questions`: all of them
    part_a = next(part for part in scope.coverage(config, notes) if part["part"] == "part_a")
    return "" if part_a["run"] == scope.names(["a1", "a2", "a3", "a4"]) else part_a["sentence"]


def render_readme(folder: Path) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )
    return environment.get_template("README.md.j2").render(**readme_context(folder))


def readme_block(folder: Path, link: str) -> str:
    """The project README's glance at B5 and B6: ours beside the reference,
    each difference to explain linked to its explanation."""
    context = readme_context(folder, link)
    seeds, epochs = ", ".join(map(str, context["seeds"])), ", ".join(map(str, context["epochs"]))
    several = len(context["seeds"]) > 1
    ours = f"the mean of {len(context['seeds'])} seeds (its 95 % interval)" if several else "one seed's"
    return (
        f"Test accuracy, ours beside the reference report's: max and mean over a run's {epochs} epochs and ours at "
        f"the final epoch; ours is {ours}. A difference beyond 0.03 links to why.\n\nB5:\n\n{context['b5']}\n\n"
        f"B6 (the GRU rows are B5's Char / Word RNN):\n\n{context['b6']}\n\nFrom [{link}]({link}) "
        f"({context['count']} runs, seed{'s' * several} {seeds}, {epochs} epochs); details there.\n"
    )


def project_readme(readme: Path, folder: Path, link: str) -> str:
    """The project README's text with its B5 block filled from the publication in `folder`."""
    text = readme.read_text()
    if not README_BLOCK.search(text):
        raise StudyError(f"{readme}: no <!-- paper-results:glance --> block to fill")
    return README_BLOCK.sub(lambda m: m[1] + readme_block(folder, link) + m[2], text)
