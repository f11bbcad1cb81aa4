from pathlib import Path

from nnstudy.study import packs, plan, questions, settings
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
# Jobs read the config as resolved here (presets applied, defaults filled).
config.update(STUDY)

QUESTIONS = plan.chosen_questions(STUDY)
PART_A = STUDY["part_a"]
TRAINING = STUDY["training"]
# Run folders and the runs of each question: nnstudy/study/plan.py.
PART_A_RUN = plan.PART_A_RUN
PART_B_RUN = plan.PART_B_RUN
# A1b's feature maps come from the A1 network of the first seed.
A1_RUN = plan.part_a_run(
    PART_A["c1"], PART_A["c2"], seed=plan.part_seeds(STUDY, "part_a")[0]
)
FIGURES = "results/figures"
CURVE_FILES = {"cost": "costs.png", "accuracy": "accuracies.png"}


wildcard_constraints:
    c1=r"\d+",
    c2=r"\d+",
    optimizer="sgd|momentum|rmsprop|adam",
    dropout=r"\d+(\.\d+)?",
    seed=r"\d+",
    level="char|word",
    arch="cnn|gru|rnn|lstm",
    layers=r"\d+",
    clip=r"none|((global-)?norm-)?\d+(\.\d+)?",
    layout=plan.WILDCARD_PATTERNS["layout"],
    padding="masked|unmasked",
    index=r"\d+",


# ---- data ------------------------------------------------------------------


def cifar10_file(name):
    folder = STUDY["cifar10_dir"] or "resources/cifar10"
    return str(Path(folder) / name)


def run_data(run):
    """The data files a run's training job reads."""
    if plan.run_wildcards(run)["part"] == "part_a":
        return [cifar10_file("data_batch_1"), cifar10_file("test_batch_trim")]
    level = plan.run_wildcards(run)["level"]
    return [
        f"results/part_b/data/{level}_ids.npz",
        "results/part_b/data/vocabulary.json",
    ]


# ---- training jobs ---------------------------------------------------------


def run_folder(output):
    return str(Path(output.metrics).parent)


def run_settings(wildcards, output):
    """Everything that decides a run's numbers (a change reruns the job)."""
    return plan.run_settings(STUDY, run_folder(output))


def resume_dir(wildcards, output):
    """Resume state of a training job: its run folder mirrored under resume_dir."""
    return str(Path(TRAINING["resume_dir"]) / run_folder(output))


def learning_curve(run, plot):
    """A run's cost or accuracy plot for Snakemake's report (`run`: a run folder or its pattern)."""

    def labels(wildcards):
        folder = run.format(**wildcards)
        return {
            "run": plan.run_label(plan.run_settings(STUDY, folder)),
            "seed": plan.run_wildcards(folder)["seed"],
            "plot": plot,
        }

    return report(
        f"{run}/{CURVE_FILES[plot]}",
        caption="../report/curves.rst",
        category=questions.CATEGORIES[run.split("/")[1]],
        subcategory="Learning curves",
        labels=labels,
    )


def training_gpus(wildcards=None):
    """A training job (or a pack) asks for one GPU unless the cluster's are CPU nodes."""
    return int(STUDY["cluster"]["device"] == "gpu")


def training_memory(wildcards, attempt):
    return 4000 * attempt


def training_minutes(run):
    """Wall-time request of a training job (`run`: the run folder's pattern)."""

    def minutes(wildcards, attempt):
        return packs.run_minutes(STUDY, run.format(**wildcards), attempt=attempt)

    return minutes


# ---- Part A packs of the scan engine (training.engine: scan) -----------------

# Run-folder patterns with {seed} (and A3's {c1}, {c2}) left as wildcards.
GRID_PACK = list(
    dict.fromkeys(
        plan.part_a_run(c1, c2, layout=PART_A["pixel_layout"], seed="{seed}")
        for c1, c2 in [*plan.grid_pairs(PART_A), (PART_A["c1"], PART_A["c2"])]
    )
)
A3_PACK = [
    plan.part_a_run(
        "{c1}",
        "{c2}",
        entry.settings.get("optimizer", "sgd"),
        entry.settings.get("dropout", 0.0),
        PART_A["pixel_layout"],
        seed="{seed}",
    )
    for entry in questions.entries("a3", PART_A)
]


def pack_files(pack):
    """Every file of a pack's runs, the curves labelled for the report as a run's own job labels them."""
    files = []
    for run in pack:
        files += [f"{run}/metrics.json", f"{run}/model.keras"]
        files += [learning_curve(run, plot) for plot in CURVE_FILES]
    return files


def pack_runs(pack):
    """A pack job's runs: each one's settings, output files, resume state and log."""

    def runs(wildcards):
        found = []
        for pattern in pack:
            run = pattern.format(**wildcards)
            outputs = {name: f"{run}/{name}.png" for name in ("costs", "accuracies")}
            outputs |= {"metrics": f"{run}/metrics.json", "model": f"{run}/model.keras"}
            found.append(
                {
                    "settings": plan.run_settings(STUDY, run),
                    "outputs": outputs,
                    "state_dir": str(Path(TRAINING["resume_dir"]) / run),
                    "log": f"logs/{run}.log",
                }
            )
        return found

    return runs


def pack_minutes(pack):
    """A pack asks for its longest run's time, times its size (nnstudy.study.packs)."""

    def minutes(wildcards, attempt):
        runs = [pattern.format(**wildcards) for pattern in pack]
        return packs.pack_minutes(STUDY, runs, attempt)

    return minutes


# ---- the questions' runs ---------------------------------------------------


def optimum_pair():
    """The A3 pair: pinned in config, else the checkpoint's pick from the grid."""
    with open(checkpoints.select_optimum.get().output[0]) as handle:
        chosen = json.load(handle)
    return chosen["c1"], chosen["c2"]


def question_metrics(question):
    """An input function: the metrics.json of every run of a question. Runs at
    A2's optimum (A4's) wait for the select_optimum checkpoint."""
    part = questions.QUESTIONS[question].part

    def files(wildcards=None):
        needed = plan.needs_optimum(question, STUDY[part])
        optimum = optimum_pair() if needed else None
        return [
            f"{run}/metrics.json"
            for run in plan.question_runs(question, STUDY, optimum)
        ]

    return files


def all_metrics(wildcards=None):
    """Every run of the chosen questions, each once."""
    optimum = optimum_pair() if "a3" in QUESTIONS else None
    runs = plan.training_runs(STUDY, optimum)
    return sorted(f"{run}/metrics.json" for run in runs)


def all_curves(wildcards=None):
    """Every run's cost and accuracy plots."""
    return [
        path.replace("metrics.json", plot)
        for path in all_metrics()
        for plot in CURVE_FILES.values()
    ]


def feature_map_plots():
    count = PART_A["feature_map_images"]
    return [
        f"results/part_a/feature_maps/test_image_{i}.png" for i in range(1, count + 1)
    ]


def study_targets(wildcards=None):
    """Everything `snakemake` builds by default: the chosen questions' tables,
    their verdicts and the report."""
    tables = [key for key in questions.TABLED if key in QUESTIONS]
    tables += ["verdicts"] if VERDICTS else []
    targets = expand(
        "results/tables/{question}.{ext}", question=tables, ext=["csv", "md", "html"]
    )
    if "a1" in QUESTIONS:
        targets += feature_map_plots()
    return targets + ["results/report.html"]


# ---- results and report ----------------------------------------------------


def question_config(wildcards):
    """The config of a question's part ({question} wildcard)."""
    return STUDY[questions.QUESTIONS[wildcards.question].part]


def question_category(wildcards):
    return questions.CATEGORIES[questions.QUESTIONS[wildcards.question].part]


def question_subcategory(wildcards):
    return questions.QUESTIONS[wildcards.question].subcategory


def question_about(wildcards):
    """What the captions (report/*.rst) call a question."""
    return questions.QUESTIONS[wildcards.question].about


def table_caption(wildcards):
    return questions.QUESTIONS[wildcards.question].table.format(
        **question_config(wildcards)
    )


def question_optimum(wildcards):
    """A4 names the A3 pair; the other questions need no Part A result."""
    needed = plan.needs_optimum(wildcards.question, question_config(wildcards))
    return plan.OPTIMUM_FILE if needed else []


def question_runs_metrics(wildcards):
    """The metrics.json of every run of the {question} wildcard's question."""
    return question_metrics(wildcards.question)(wildcards)


def reference_files(wildcards):
    return questions.reference_files(wildcards.question)


def report_inputs(wildcards):
    """What the HTML report shows: the tables, verdicts and figures of the
    chosen questions, the data files it embeds, and a publication's
    explanations: explanations.yaml beside a --configfile (docs/paper-results/
    holds both), so that the run a publication makes shows them."""
    inputs = {
        "all_runs": "results/tables/all_runs.csv",
        "histories": HISTORIES,
        "template": "report/template.html.j2",
        "stylesheet": "report/report.css",
        "curves": all_curves(),
    }
    if VERDICTS:
        inputs["verdicts"] = "results/tables/verdicts.csv"
    for configfile in workflow.configfiles:
        explanations = Path(configfile).parent / "explanations.yaml"
        if explanations.is_file():
            inputs["explanations"] = str(explanations)
    inputs |= {
        key: f"results/tables/{key}.csv" for key in questions.TABLED if key in QUESTIONS
    }
    for key in questions.COMPARED:
        if key in QUESTIONS:
            inputs |= {
                f"{key}_reference": f"results/tables/{key}_reference.csv",
                f"{key}_comparison_figure": f"{FIGURES}/{key}_comparison.png",
                f"{key}_curves_figure": f"{FIGURES}/{key}_curves.png",
            }
    if "a1" in QUESTIONS:
        inputs["feature_maps"] = feature_map_plots()
    if "a2" in QUESTIONS:
        inputs["a2_heatmap_figure"] = f"{FIGURES}/a2_heatmap.png"
    if "a3" in QUESTIONS:
        inputs["optimum"] = plan.OPTIMUM_FILE
    if "b_accuracy_time" in QUESTIONS:
        inputs["b_accuracy_time_figure"] = f"{FIGURES}/b_accuracy_time.png"
    return inputs
