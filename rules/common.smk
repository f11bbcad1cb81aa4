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

from nnstudy import cluster, plan, questions, settings
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


# Report labels of a run's learning curves, by part.
CURVE_LABELS = {
    "part_a": dict(
        model="CNN ({c1}, {c2})", optimizer="{optimizer}", dropout="{dropout}"
    ),
    "part_b": dict(
        model="{level} {arch}", layers="{layers}", dropout="{dropout}", clip="{clip}"
    ),
}
CURVE_FILES = {"cost": "costs.png", "accuracy": "accuracies.png"}


def learning_curve(part, run, plot, wildcards=None):
    """A run's cost or accuracy plot, for Snakemake's report.

    `run` is a run folder, or its pattern (the labels then keep the wildcards).
    """
    labels = CURVE_LABELS[part] | {"seed": "{seed}"}
    if wildcards is not None:
        labels = {key: value.format(**wildcards) for key, value in labels.items()}
    return report(
        f"{run}/{CURVE_FILES[plot]}",
        caption="../report/curves.rst",
        category=questions.CATEGORIES[part],
        subcategory="Learning curves",
        labels=labels | {"plot": plot},
    )


def resume_dir(wildcards, output):
    """Resume state of a training job: its run folder mirrored under resume_dir."""
    return str(Path(TRAINING["resume_dir"]) / Path(output.metrics).parent)


# ---- cluster requests of training jobs --------------------------------------


def training_gpus(wildcards=None):
    """A training job (or a pack of them) asks for one GPU unless the cluster's are CPU nodes."""
    return int(STUDY["cluster"]["device"] == "gpu")


def run_minutes(part, wildcards, jobs_per_allocation=1, attempt=1):
    """Wall-time request of one training run of `part`, from its wildcards."""
    if part == "part_a":
        data, model, layers = "cifar", cluster.model_name(), 1
    else:
        data = "text"
        model = cluster.model_name(wildcards["level"], wildcards["arch"])
        layers = int(wildcards["layers"])
    settings = STUDY[part]
    return cluster.wall_minutes(
        STUDY["cluster"],
        model=model,
        epochs=settings["epochs"],
        share=cluster.data_share(data, settings["train_limit"], settings["test_limit"]),
        layers=layers,
        jobs_per_allocation=jobs_per_allocation,
        attempt=attempt,
    )


def part_a_runtime(wildcards, attempt):
    return run_minutes("part_a", wildcards, attempt=attempt)


def part_b_runtime(wildcards, attempt):
    return run_minutes("part_b", wildcards, attempt=attempt)


# ---- packed mode ------------------------------------------------------------


def training_packs():
    """Packs of cluster.jobs_per_gpu runs; none when packing is off."""
    size = STUDY["cluster"]["jobs_per_gpu"]
    if size == 1:
        return []
    # Runs at the grid's optimum are left out unless it is pinned: the packs
    # must not change once the grid has chosen (that would rerun them).
    pinned = PART_A["optimum"] and tuple(PART_A["optimum"])
    runs = plan.training_runs(STUDY, pinned or None)

    def minutes(run):
        wildcards = plan.run_wildcards(run)
        return run_minutes(wildcards["part"], wildcards)

    return cluster.packs(runs, minutes, size)


def pack_inputs(pack):
    """The data files a pack's runs read."""
    files = set()
    for run in pack:
        wildcards = plan.run_wildcards(run)
        if wildcards["part"] == "part_a":
            files |= {cifar10_file("data_batch_1"), cifar10_file("test_batch_trim")}
        else:
            files |= {
                f"results/part_b/data/{wildcards['level']}_ids.npz",
                "results/part_b/data/vocabulary.json",
            }
    return sorted(files)


def pack_outputs(pack):
    """Every file of a pack's runs, the curves labelled for the report as their own jobs do."""
    outputs = []
    for run in pack:
        wildcards = plan.run_wildcards(run)
        outputs += [f"{run}/metrics.json", f"{run}/model.keras"]
        outputs += [
            learning_curve(wildcards["part"], run, plot, wildcards)
            for plot in CURVE_FILES
        ]
    return outputs


def pack_runtime(pack):
    """A pack asks for its longest run's time, times its size: K runs sharing a
    GPU each run at most K times slower (measured 1.05 to 3.15 for 4 on an H100)."""

    def runtime(wildcards, attempt):
        return max(
            run_minutes(w["part"], w, len(pack), attempt)
            for w in map(plan.run_wildcards, pack)
        )

    return runtime


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
