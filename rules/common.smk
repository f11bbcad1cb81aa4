import json
import os
import sys
from pathlib import Path

# Rules and jobs import the nnstudy package from this checkout, whatever
# environment (venv, conda, container, cluster node) they run in.
sys.path.insert(0, workflow.basedir)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])
    )
)

from nnstudy import plan, questions, settings
from nnstudy.errors import StudyError

try:
    STUDY = settings.resolve(
        config, Path(workflow.basedir) / "schemas/config.schema.yaml"
    )
    settings.check_inputs(STUDY)
except StudyError as err:
    sys.exit(str(err))
for note in settings.preset_overrides(config):
    print(note, file=sys.stderr)

PARTS = STUDY["parts"]
PART_A = STUDY["part_a"]
PART_B = STUDY["part_b"]
TRAINING = STUDY["training"]
SEEDS = STUDY["seeds"]


wildcard_constraints:
    c1=r"\d+",
    c2=r"\d+",
    optimizer="sgd|momentum|rmsprop|adam",
    dropout=r"\d+(\.\d+)?",
    seed=r"\d+",
    level="char|word",
    arch="cnn|gru|rnn|lstm",
    layers=r"\d+",
    clip=r"none|\d+(\.\d+)?",
    padding="masked|unmasked",
    index=r"\d+",


# ---- data ------------------------------------------------------------------


def cifar10_file(name):
    folder = STUDY["cifar10_dir"] or "resources/cifar10"
    return str(Path(folder) / name)


# ---- Part A ----------------------------------------------------------------

# Run folders and the runs of each question: nnstudy/plan.py.
PART_A_RUN = plan.PART_A_RUN
part_a_run = plan.part_a_run


def for_family(key, family):
    """training.backend / precision of a model family (cifar_cnn, text_cnn, text_rnn).

    A family the mapping leaves out gets the default of a single value.
    """
    value = TRAINING[key]
    default = {"backend": "tensorflow", "precision": "float32"}[key]
    return value if isinstance(value, str) else value.get(family, default)


def engine_settings(family):
    """How a training job runs, beside the spec's hyper-parameters."""
    return {
        "deterministic": TRAINING["deterministic"],
        "backend": for_family("backend", family),
        "precision": for_family("precision", family),
    }


def part_a_settings():
    keys = (
        "epochs",
        "batch_size",
        "learning_rate",
        "momentum",
        "train_limit",
        "test_limit",
    )
    return {key: PART_A[key] for key in keys} | engine_settings("cifar_cnn")


def optimum_pair():
    """The A3 pair: pinned in config, else the checkpoint's pick from the grid."""
    with open(checkpoints.select_optimum.get().output[0]) as handle:
        chosen = json.load(handle)
    return chosen["c1"], chosen["c2"]


def feature_map_plots():
    count = PART_A["feature_map_images"]
    return [
        f"results/part_a/feature_maps/test_image_{i}.png" for i in range(1, count + 1)
    ]


def part_a_targets(wildcards=None):
    return (
        question_metrics("a2")()
        + question_metrics("a1")()
        + feature_map_plots()
        + expand(
            "results/tables/{table}.{ext}",
            table=["a2_grid", "a4_comparison"],
            ext=["csv", "md", "html"],
        )
    )


# ---- Part B ----------------------------------------------------------------

PART_B_RUN = plan.PART_B_RUN


def part_b_settings(wildcards):
    keys = (
        "epochs",
        "batch_size",
        "learning_rate",
        "optimizer",
        "clip_mode",
        "train_limit",
        "test_limit",
    )
    family = "text_cnn" if wildcards.arch == "cnn" else "text_rnn"
    return (
        {key: PART_B[key] for key in keys}
        | {"mask_padding": wildcards.padding == "masked"}
        | engine_settings(family)
    )


def part_b_targets(wildcards=None):
    return (
        question_metrics("b5")()
        + question_metrics("b6")()
        + question_metrics("masking")()
        + expand(
            "results/tables/{table}.{ext}",
            table=["b5_models", "b6_rnn_variants", "b_masking"],
            ext=["csv", "md", "html"],
        )
    )


# ---- the whole study ----------------------------------------------------------------
# Which runs answer each question: nnstudy/questions.py, as run folders by nnstudy/plan.py.


def question_metrics(question):
    """An input function: the metrics.json of every run of a question. Runs at
    A2's optimum (A4's) wait for the select_optimum checkpoint."""
    part = questions.QUESTIONS[question].part

    def files(wildcards=None):
        optimum = optimum_pair() if plan.needs_optimum(question, STUDY[part]) else None
        return [
            f"{run}/metrics.json"
            for run in plan.question_runs(question, STUDY, optimum)
        ]

    return files


def all_metrics(wildcards=None):
    """Every run of the chosen parts (A2 grid, A1, A3; B5, B6, masking), each once."""
    optimum = optimum_pair() if "part_a" in PARTS else None
    return sorted(f"{run}/metrics.json" for run in plan.training_runs(STUDY, optimum))


def study_targets(wildcards=None):
    """Everything `snakemake` builds by default: the chosen parts and the report."""
    part_targets = {"part_a": part_a_targets, "part_b": part_b_targets}
    return [path for part in PARTS for path in part_targets[part]()] + [
        "results/report.html"
    ]


def all_curves(wildcards=None):
    """Every run's cost and accuracy plots."""
    return [
        path.replace("metrics.json", plot)
        for path in all_metrics()
        for plot in ("costs.png", "accuracies.png")
    ]


# ---- training jobs -------------------------------------------------------------


def learning_curve(path, category, plot, **labels):
    """A run's cost or accuracy plot, for Snakemake's report."""
    return report(
        path,
        caption="../report/curves.rst",
        category=category,
        subcategory="Learning curves",
        labels=labels | {"seed": "{seed}", "plot": plot},
    )


def resume_dir(wildcards, output):
    """Resume state of a training job: its run folder mirrored under resume_dir."""
    return str(Path(TRAINING["resume_dir"]) / Path(output.metrics).parent)


def training_runtime(seconds_per_epoch, epochs):
    """Minutes to ask a cluster for: a generous per-epoch estimate plus start-up."""
    return 10 + int(epochs * seconds_per_epoch / 60 * 2)


# ---- results and report ----------------------------------------------------------------

REPORT_FIGURES = "results/figures"


def question_config(wildcards):
    """The config of a question's part ({question} wildcard)."""
    return STUDY[questions.QUESTIONS[wildcards.question].part]


def question_optimum(wildcards):
    """A4 names the A3 pair; B5 and B6 need no Part A result."""
    needed = plan.needs_optimum(wildcards.question, question_config(wildcards))
    return plan.OPTIMUM_FILE if needed else []


def compared_metrics(wildcards):
    """The metrics.json of every run of a compared question ({question} wildcard)."""
    return question_metrics(wildcards.question)(wildcards)


def report_inputs(wildcards):
    """What the HTML report shows: the tables and figures of the chosen parts."""
    inputs = {
        "all_runs": "results/tables/all_runs.csv",
        "template": "report/template.html.j2",
        "stylesheet": "report/report.css",
    }
    if "part_a" in PARTS:
        inputs |= {
            "optimum": "results/part_a/optimum.json",
            "a2": "results/tables/a2_grid.csv",
            "a4": "results/tables/a4_comparison.csv",
            "a4_reference": "results/tables/a4_reference.csv",
            "a2_heatmap_figure": f"{REPORT_FIGURES}/a2_heatmap.png",
            "a4_comparison_figure": f"{REPORT_FIGURES}/a4_comparison.png",
            "a4_curves_figure": f"{REPORT_FIGURES}/a4_curves.png",
            "feature_maps": feature_map_plots(),
        }
    if "part_b" in PARTS:
        inputs |= {
            "b5": "results/tables/b5_models.csv",
            "b6": "results/tables/b6_rnn_variants.csv",
            "masking": "results/tables/b_masking.csv",
            "b5_reference": "results/tables/b5_reference.csv",
            "b6_reference": "results/tables/b6_reference.csv",
            "b5_comparison_figure": f"{REPORT_FIGURES}/b5_comparison.png",
            "b5_curves_figure": f"{REPORT_FIGURES}/b5_curves.png",
            "b6_comparison_figure": f"{REPORT_FIGURES}/b6_comparison.png",
            "b6_curves_figure": f"{REPORT_FIGURES}/b6_curves.png",
            "b_accuracy_time_figure": f"{REPORT_FIGURES}/b_accuracy_time.png",
        }
    return inputs | {"curves": all_curves()}
