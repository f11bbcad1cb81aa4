from pathlib import Path

from nnstudy.analysis import tables
from nnstudy.errors import StudyError
from nnstudy.report import html
from nnstudy.study import packs, plan, questions, settings

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
# A1b's feature maps come from the A1 network of the first seed.
A1_RUN = plan.part_a_run(
    PART_A["c1"],
    PART_A["c2"],
    pixel_layout=PART_A["pixel_layout"],
    seed=plan.part_seeds(STUDY, "part_a")[0],
)
STUDY_PACKS = packs.study_packs(STUDY)
# Runs finished under other settings: this invocation trains them again (and a report of the study as it is,
# `snakemake --report`, shows them as they are): say so once, up front.
for note in plan.settings_notes(STUDY):
    print(note, file=sys.stderr)


wildcard_constraints:
    c1=r"\d+",
    c2=r"\d+",
    optimizer="sgd|momentum|rmsprop|adam",
    dropout=r"\d+(\.\d+)?",
    layout=plan.WILDCARD_PATTERNS["layout"],
    seed=r"\d+",
    level="char|word",
    architecture="cnn|gru|rnn|lstm",
    layers=r"\d+",
    clip=r"none|((global-)?norm-)?\d+(\.\d+)?",
    padding="masked|unmasked",
    index=r"\d+",


# ---- data ------------------------------------------------------------------


def cifar10_file(name):
    folder = STUDY["cifar10_dir"] or "resources/cifar10"
    return str(Path(folder) / name)


CIFAR10 = {
    "train": cifar10_file("data_batch_1"),
    "test": cifar10_file("test_batch_trim"),
}
TEXT_DATA = {
    "ids": "results/part_b/data/{level}_ids.npz",
    "vocabulary": "results/part_b/data/vocabulary.json",
}


def run_data(folder):
    """The data files a run's training job reads."""
    found = plan.run_wildcards(folder)
    if found["part"] == "part_a":
        return list(CIFAR10.values())
    return [path.format(level=found["level"]) for path in TEXT_DATA.values()]


def pack_data(pack):
    """A pack's data files: a scan pack's named as train_cifar's, since its job reads them by name; an
    allocation pack's all together (its runs' own jobs read them)."""
    if pack.engine == "scan":
        return CIFAR10
    return {"data": sorted({path for run in pack.runs for path in run_data(run)})}


# ---- training jobs ---------------------------------------------------------


def training_job(patterns, pack=None):
    """A params function: the runs (nnstudy.study.plan.Run's fields) of a training
    job's run folder patterns, its engine and, for a pack, its manifest. Snakemake
    leaves it out of its params trigger (a function of `output`): a run's settings
    are checked against its metrics.json instead (settings_changes)."""

    def job(wildcards, output):
        runs = [plan.run(STUDY, pattern.format(**wildcards)) for pattern in patterns]
        found = {
            "runs": [vars(run) for run in runs],
            "engine": runs[0].settings["engine"],
        }
        if pack is not None:
            manifest = pack.manifest(TRAINING["resume_dir"]).format(**wildcards)
            found |= {"engine": pack.engine, "manifest": manifest}
        return found

    return job


def settings_changes(patterns):
    """An input function: for each run of the job trained with other settings than the config's, a file that
    the settings_changed rule writes, so that Snakemake trains it again (nnstudy.study.plan.Run.changes).
    """

    def files(wildcards):
        found = []
        for pattern in patterns:
            run = plan.run(STUDY, pattern.format(**wildcards))
            if plan.changes_of(run):
                found.append(plan.changes_file(run, TRAINING["resume_dir"]))
        return found

    return files


def run_outputs(patterns):
    """Every run's metrics.json and learning curves, the curves labelled for the report."""
    return [
        path
        for pattern in patterns
        for path in [f"{pattern}/metrics.json", *learning_curves(pattern).values()]
    ]


def learning_curves(pattern):
    """A run's cost and accuracy plots for Snakemake's report (a run folder or its pattern)."""

    def labels(plot):
        def of(wildcards):
            run = plan.run(STUDY, pattern.format(**wildcards))
            return {"run": run.label, "seed": run.seed, "plot": plot}

        return of

    return {
        plot: report(
            f"{pattern}/{name}",
            caption="../report/curves.rst",
            category=questions.CATEGORIES[pattern.split("/")[1]],
            subcategory="Learning curves",
            labels=labels(plot),
        )
        for plot, name in plan.CURVES.items()
    }


def training_gpus(wildcards=None):
    """A training job asks for one GPU unless the cluster's are CPU nodes."""
    return int(STUDY["cluster"]["device"] == "gpu")


def training_memory(patterns):
    def memory(wildcards, attempt):
        return len(patterns) * 4000 * attempt

    return memory


def training_minutes(patterns):
    """Wall-time request of a training job: its longest run's, times the number of runs it packs."""

    def minutes(wildcards, attempt):
        runs = [pattern.format(**wildcards) for pattern in patterns]
        return packs.pack_minutes(STUDY, runs, attempt)

    return minutes


# ---- the questions' runs ---------------------------------------------------


def optimum_pair():
    """The A3 pair: pinned in config, else the checkpoint's pick from the grid."""
    return tables.optimum_pair(checkpoints.select_optimum.get().output[0])


def question_metrics(question):
    """An input function: the metrics.json of every run of a question. Runs at
    A2's optimum (A4's) wait for the select_optimum checkpoint."""
    part = questions.QUESTIONS[question].part

    def files(wildcards=None):
        needed = plan.needs_optimum(question, STUDY[part])
        optimum = optimum_pair() if needed else None
        return [
            f"{folder}/metrics.json"
            for folder in plan.question_runs(question, STUDY, optimum)
        ]

    return files


def all_metrics(wildcards=None):
    """Every run of the chosen questions, each once."""
    optimum = optimum_pair() if "a3" in QUESTIONS else None
    runs = plan.training_runs(STUDY, optimum)
    return sorted(f"{folder}/metrics.json" for folder in runs)


def all_curves(wildcards=None):
    """Every run's cost and accuracy plots."""
    return [
        str(Path(path).parent / name)
        for path in all_metrics()
        for name in plan.CURVES.values()
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
    """What the HTML report shows (nnstudy.report.html.inputs), and a publication's
    explanations: explanations.yaml beside a --configfile (docs/paper-results/
    holds both), so that the run a publication makes shows them."""
    explanations = [
        Path(configfile).parent / "explanations.yaml"
        for configfile in workflow.configfiles
    ]
    return html.inputs(
        QUESTIONS,
        curves=all_curves(),
        histories=HISTORIES,
        verdicts=bool(VERDICTS),
        feature_maps=feature_map_plots(),
        explanations=next((str(p) for p in explanations if p.is_file()), None),
    )
