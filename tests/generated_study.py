"""A generated study for the report tests: what the training jobs would write.

`build_study` writes metrics.json files made with the real nnstudy.metrics
functions, real curve plots and a real feature-map figure, the real study
tables and optimum.json, for a small grid and every Part A / Part B
experiment with two seeds; `render_study` runs the results and report jobs'
functions on it the way rules/report.smk does, for the chosen parts and
questions, with a publication's explanations when given.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
from conftest import REPO

from nnstudy import metrics, plots
from nnstudy.analysis import figures, reference, runs, stats, tables
from nnstudy.report import html
from nnstudy.study import plan, questions

GRID = {"c1": [10, 50], "c2": [20, 60]}
A1_PAIR = (50, 60)
OPTIMUM = (10, 60)  # the best pair of the generated grid (see _plateau)
SEEDS = (1, 2)
EPOCHS = 5
QUESTIONS = ("a4", "b5", "b6")
# The report's section ids, in the spec's order.
SECTIONS = ["scope", "part-a", "a1a", "a1b", "a2", "a3", "a4", "part-b", "b1-b4", "b5", "b6", "masking", "all-runs",
            "provenance"]  # fmt: skip
CONFIG = {
    "preset": "generated",
    "parts": ["part_a", "part_b"],
    "questions": ["a1", "a2", "a3", "a4", "b5", "b6", "masking"],
    "text": {"length": 100},
    "training": {"deterministic": True, "backend": "tensorflow", "precision": "float32", "engine": "fit",
                 "matmul_precision": "float32"},
    "seeds": list(SEEDS),
    "part_a": {
        "c1": 50, "c2": 60, "grid": GRID, "optimum": None, "optimizers": ["momentum", "rmsprop", "adam"],
        "epochs": EPOCHS, "batch_size": 128, "learning_rate": 0.001, "momentum": 0.1, "dropout": 0.5,
        "train_limit": 256, "test_limit": 128, "pixel_layout": "images",
    },
    "part_b": {
        "epochs": EPOCHS, "batch_size": 128, "learning_rate": 0.01, "optimizer": "adam", "dropout": 0.5,
        "clip_threshold": 2.0, "clip_mode": "value", "mask_padding": False, "train_limit": 256, "test_limit": 128,
    },
}  # fmt: skip


def _plateau(run: dict) -> float:
    h = run["hyperparameters"]
    if run["part"] == "A":
        base = 0.45 + 0.002 * h["c2"] - 0.002 * h["c1"]
        return (
            base
            + {"sgd": 0.0, "momentum": 0.01, "rmsprop": -0.03, "adam": 0.02}[h["optimizer"]]
            + 0.01 * (h["dropout"] > 0)
        )
    base = {"cnn": 0.7, "gru": 0.8, "lstm": 0.75, "rnn": 0.3}[h["architecture"]] + (0.08 if h["level"] == "word" else 0)
    return min(base - 0.03 * h["dropout"] + 0.02 * (h["layers"] - 1), 0.97)


def _history(run: dict) -> list[dict]:
    rng = np.random.default_rng(run["seed"] * 1000 + len(run["run"]))
    plateau = _plateau(run)
    per_epoch = (
        0.5
        + 0.01 * len(run["run"])
        + (3.0 if run["hyperparameters"].get("architecture") in ("gru", "lstm", "rnn") else 0)
    )
    history = []
    for epoch in range(1, EPOCHS + 1):
        accuracy = plateau * (1 - math.exp(-epoch / 2)) + rng.normal(0, 0.01)
        history.append(
            {
                "epoch": epoch,
                "train_loss": 2.3 * math.exp(-epoch / 4) + 0.1,
                "train_accuracy": min(accuracy + 0.05, 1.0),
                "test_loss": 2.3 * math.exp(-epoch / 5) + 0.3 + rng.normal(0, 0.01),
                "test_accuracy": float(np.clip(accuracy, 0, 1)),
                "seconds": per_epoch * (1 + 0.05 * rng.random()),
            }
        )
    return history


def _part_a_runs():
    pairs = [(c1, c2) for c1 in GRID["c1"] for c2 in GRID["c2"]]
    variants = [(c1, c2, "sgd", 0.0) for c1, c2 in pairs]
    variants += [(*OPTIMUM, optimizer, 0.0) for optimizer in ("momentum", "rmsprop", "adam")] + [(*OPTIMUM, "sgd", 0.5)]
    for c1, c2, optimizer, dropout in variants:
        for seed in SEEDS:
            name = f"c1-{c1}_c2-{c2}_{optimizer}_dropout-{dropout:g}_seed-{seed}"
            label = f"CNN ({c1}, {c2}), {optimizer}" + (f", dropout {dropout}" if dropout else "")
            settings = {"c1": c1, "c2": c2, "optimizer": optimizer, "dropout": dropout, "learning_rate": 0.001,
                        "momentum": 0.1 if optimizer == "momentum" else None, "batch_size": 128, "epochs": EPOCHS,
                        "train_size": 256, "test_size": 128}  # fmt: skip
            yield f"results/part_a/runs/{name}", {"run": name, "part": "A", "label": label, "seed": seed,
                                                  "hyperparameters": settings}  # fmt: skip


def _part_b_runs():
    variants = [
        (level, arch, 1, dropout, None, False)
        for level in ("char", "word")
        for arch in ("cnn", "gru")
        for dropout in (0.0, 0.5)
    ]
    variants += [
        (level, arch, layers, 0.0, clip, False)
        for level in ("char", "word")
        for arch, layers, clip in (("rnn", 1, None), ("lstm", 1, None), ("gru", 2, None), ("gru", 1, 2.0))
    ]
    # The masking ablation's masked word-level RNNs.
    variants += [("word", arch, layers, 0.0, clip, True)
                 for arch, layers, clip in (("gru", 1, None), ("rnn", 1, None), ("lstm", 1, None), ("gru", 2, None),
                                            ("gru", 1, 2.0))]  # fmt: skip
    for level, arch, layers, dropout, clip, masked in variants:
        for seed in SEEDS:
            clip_name = "none" if clip is None else f"{clip:g}"
            padding = "masked" if masked else "unmasked"
            name = f"{level}-{arch}_layers-{layers}_dropout-{dropout:g}_clip-{clip_name}_padding-{padding}_seed-{seed}"
            label = f"{level} {arch.upper()}" + (f", {layers} layers" if layers > 1 else "")
            label += (f", dropout {dropout}" if dropout else "") + (f", clip value {clip}" if clip else "")
            settings = {"level": level, "architecture": arch, "layers": layers, "dropout": dropout,
                        "clip_mode": "value" if clip else None, "clip_threshold": clip, "mask_padding": masked,
                        "optimizer": "adam", "learning_rate": 0.01, "batch_size": 128, "epochs": EPOCHS,
                        "vocabulary_size": 256 if level == "char" else 3000, "length": 100, "train_size": 256,
                        "test_size": 128}  # fmt: skip
            yield f"results/part_b/runs/{name}", {"run": name, "part": "B", "label": label, "seed": seed,
                                                  "hyperparameters": settings}  # fmt: skip


def write_curve_plots(folder: Path) -> dict[str, Path]:
    """One real cost plot, accuracy plot and feature-map figure, copied into every run."""
    history = _history(next(_part_a_runs())[1])
    plots.learning_curves(history, "cost", "generated: cost", folder / "costs.png")
    plots.learning_curves(history, "accuracy", "generated: accuracy", folder / "accuracies.png")
    rng = np.random.default_rng(0)
    maps = {"C1": rng.random((24, 24, 8)), "S1": rng.random((12, 12, 8))}
    plots.feature_maps(rng.random((32, 32, 3)), maps, "test image 1", folder / "feature_map.png")
    return {
        "costs": folder / "costs.png",
        "accuracies": folder / "accuracies.png",
        "feature_map": folder / "feature_map.png",
    }


def build_study(root: Path, curve_plots: dict, relabel: dict | None = None) -> list[str]:
    """Write a generated study's results under root; return its metrics files
    (relative to root). `relabel`: {run name: label} overrides."""
    files = []
    for folder, run in [*_part_a_runs(), *_part_b_runs()]:
        if relabel and run["run"] in relabel:
            run["label"] = relabel[run["run"]]
        history = _history(run)
        document = run | {
            "history": history,
            "summary": metrics.summarize(history),
            "parameters": 1000 * len(run["run"]),
            "job_seconds": sum(e["seconds"] for e in history) + 2.5,
            "device": {
                "type": "CPU",
                "name": "x86_64",
                "cuda_visible_devices": None,
                "backend": "tensorflow",
                "threads": 2,
            },
            "versions": {"python": "3.11.7", "keras": "3.15.1", "numpy": "2.4.6", "tensorflow": "2.21.0"},
        }
        (root / folder).mkdir(parents=True)
        metrics.write(root / folder / "metrics.json", document)
        for plot in ("costs", "accuracies"):
            shutil.copy(curve_plots[plot], root / folder / f"{plot}.png")
        files.append(f"{folder}/metrics.json")
    grid = [root / f"{run}/metrics.json" for run in plan.question_runs("a2", CONFIG)]
    optimum_json = root / plan.OPTIMUM_FILE
    tables.write_optimum(grid, None, optimum_json, log=lambda m: None)
    (root / "results/tables").mkdir(parents=True)
    # The table rule: each question's runs, as rules/report.smk declares them.
    optimum = tables.optimum_pair(optimum_json)
    for question in (key for key in questions.TABLED if key in CONFIG["questions"]):
        question_files = [root / f"{run}/metrics.json" for run in plan.question_runs(question, CONFIG, optimum)]
        outputs = {ext: root / f"results/tables/{question}.{ext}" for ext in ("csv", "md", "html")}
        tables.write_table(question, question_files, CONFIG, optimum_json, outputs, log=lambda m: None)
    (root / "results/part_a/feature_maps").mkdir(parents=True)
    for index in (1, 2):
        shutil.copy(curve_plots["feature_map"], root / f"results/part_a/feature_maps/test_image_{index}.png")
    return files


def render_study(
    root: Path,
    files: list[str],
    reference_dir: Path = REPO / "data/reference",
    parts=("part_a", "part_b"),
    chosen=tuple(CONFIG["questions"]),
    explanations: Path | None = None,
) -> Path:
    """The report rules' jobs, in order, as rules/report.smk runs them for
    `parts` and the questions `chosen` (config `questions`)."""
    quiet = lambda message: None  # noqa: E731
    study = CONFIG | {"parts": list(parts), "questions": list(chosen)}
    keys = plan.chosen_questions(study)
    results = root / "results"
    runs_csv = results / "tables/all_runs.csv"
    metric_files = [root / f for f in files]
    runs.write_all_runs(metric_files, runs_csv, log=quiet)
    optimum = results / "part_a/optimum.json" if "a3" in keys else None
    pair = tables.optimum_pair(optimum)
    compared = [q for q in questions.COMPARED if q in keys]
    histories = results / "tables" / stats.histories_name(stats.planned_rows(study))
    tables.write_histories(metric_files, histories, log=quiet)
    verdicts = [key for key in tables.VERDICTS if key in keys]
    verdict_files = {ext: results / f"tables/verdicts.{ext}" for ext in ("csv", "md", "html")}
    tables.write_verdicts(verdicts, runs_csv, optimum, {part: CONFIG[part] for part in parts}, verdict_files, quiet)
    (results / "figures").mkdir(exist_ok=True)
    for question in compared:
        config = CONFIG[questions.QUESTIONS[question].part]
        reference_files = questions.reference_files(question, reference_dir)
        question_files = [root / f"{run}/metrics.json" for run in plan.question_runs(question, CONFIG, pair)]
        reference.write_reference_comparison(
            question,
            runs_csv,
            reference_files,
            optimum,
            config,
            results / f"tables/{question}_reference.csv",
            log=quiet,
        )
        figures.write_comparison_figures(
            question,
            question_files,
            reference_files,
            optimum,
            config,
            {
                "chart": results / f"figures/{question}_comparison.png",
                "curves": results / f"figures/{question}_curves.png",
            },
            log=quiet,
        )
    if "a2" in keys:
        figures.write_grid_heatmap(runs_csv, optimum, CONFIG["part_a"], results / "figures/a2_heatmap.png", log=quiet)
    if "b_accuracy_time" in keys:
        figures.write_accuracy_against_time(
            runs_csv, CONFIG["part_b"], results / "figures/b_accuracy_time.png", log=quiet
        )
    # The report rule's inputs, as rules/common.smk names them, in this folder (not a git checkout).
    shutil.copytree(REPO / "report", root / "report", dirs_exist_ok=True)
    inputs = html.inputs(
        keys,
        curves=[str(Path(f).parent / f"{plot}.png") for f in files for plot in ("costs", "accuracies")],
        histories=str(histories.relative_to(root)),
        verdicts=True,
        feature_maps=[f"results/part_a/feature_maps/test_image_{i}.png" for i in (1, 2)],
        explanations=explanations,
    )
    inputs = {
        key: [root / p for p in value] if isinstance(value, list) else root / value for key, value in inputs.items()
    }
    params = {"config": study}
    output = results / "report.html"
    html.write_report(inputs=inputs, params=params, output=output, log=quiet)
    return output
