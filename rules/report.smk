# Aggregated results, summary figures, the reference comparison and the one-file
# HTML report (results/report.html). The reference numbers of SPEC's student
# report are data: data/reference/*.csv.

REFERENCE_DIR = "data/reference"

# Snakemake report: where each question's results go.
PART_A_CATEGORY = "Part A: CIFAR-10"
PART_B_CATEGORY = "Part B: text classification"
QUESTIONS = {
    "a4": (PART_A_CATEGORY, "A4 comparison"),
    "b5": (PART_B_CATEGORY, "B5 models and dropout"),
    "b6": (PART_B_CATEGORY, "B6 recurrent variants"),
}


wildcard_constraints:
    question="a4|b5|b6",


QUESTION_CATEGORY = lambda wildcards: QUESTIONS[wildcards.question][0]
QUESTION_SUBCATEGORY = lambda wildcards: QUESTIONS[wildcards.question][1]
REFERENCE_FOLDER = lambda wildcards, input: str(Path(input.reference[0]).parent)


rule all_runs_table:
    input:
        all_metrics,
    output:
        report(
            "results/tables/all_runs.csv",
            caption="../report/all_runs.rst",
            category="Study",
            subcategory="All runs",
        ),
    log:
        "logs/tables/all_runs.log",
    conda:
        "../envs/study.yaml"
    script:
        "../scripts/aggregate_runs.py"


rule reference_comparison:
    input:
        runs="results/tables/all_runs.csv",
        optimum=question_optimum,
        reference=[f"{REFERENCE_DIR}/{name}.csv" for name in ("part_a", "part_b", "b6")],
    output:
        report(
            "results/tables/{question}_reference.csv",
            caption="../report/reference.rst",
            category=QUESTION_CATEGORY,
            subcategory=QUESTION_SUBCATEGORY,
            labels={"table": "{question} beside the reference"},
        ),
    log:
        "logs/tables/{question}_reference.log",
    conda:
        "../envs/study.yaml"
    params:
        reference_dir=REFERENCE_FOLDER,
        a1_pair=[PART_A["c1"], PART_A["c2"]],
        mask_padding=PART_B["mask_padding"],
    script:
        "../scripts/aggregate_reference.py"


rule grid_heatmap:
    input:
        runs="results/tables/all_runs.csv",
        optimum="results/part_a/optimum.json",
    output:
        report(
            f"{REPORT_FIGURES}/a2_heatmap.png",
            caption="../report/a2_heatmap.rst",
            category=PART_A_CATEGORY,
            subcategory="A2 grid search",
            labels={"figure": "heatmap"},
        ),
    log:
        "logs/figures/a2_heatmap.log",
    conda:
        "../envs/study.yaml"
    params:
        grid=PART_A["grid"],
    script:
        "../scripts/grid_figure.py"


rule comparison_figures:
    input:
        runs="results/tables/all_runs.csv",
        optimum=question_optimum,
        reference=[f"{REFERENCE_DIR}/{name}.csv" for name in ("part_a", "part_b", "b6")],
    output:
        chart=report(
            f"{REPORT_FIGURES}/{{question}}_comparison.png",
            caption="../report/comparison_chart.rst",
            category=QUESTION_CATEGORY,
            subcategory=QUESTION_SUBCATEGORY,
            labels={"figure": "{question} against the reference"},
        ),
        curves=report(
            f"{REPORT_FIGURES}/{{question}}_curves.png",
            caption="../report/grouped_curves.rst",
            category=QUESTION_CATEGORY,
            subcategory=QUESTION_SUBCATEGORY,
            labels={"figure": "{question} learning curves"},
        ),
    log:
        "logs/figures/{question}_comparison.log",
    conda:
        "../envs/study.yaml"
    params:
        reference_dir=REFERENCE_FOLDER,
        a1_pair=[PART_A["c1"], PART_A["c2"]],
        mask_padding=PART_B["mask_padding"],
    script:
        "../scripts/comparison_figures.py"


rule accuracy_time_figure:
    input:
        runs="results/tables/all_runs.csv",
    output:
        report(
            f"{REPORT_FIGURES}/b_accuracy_time.png",
            caption="../report/accuracy_time.rst",
            category=PART_B_CATEGORY,
            subcategory="B5 models and dropout",
            labels={"figure": "accuracy against training time"},
        ),
    log:
        "logs/figures/b_accuracy_time.log",
    conda:
        "../envs/study.yaml"
    params:
        mask_padding=PART_B["mask_padding"],
    script:
        "../scripts/time_figure.py"


rule html_report:
    input:
        unpack(report_inputs),
    output:
        "results/report.html",
    log:
        "logs/report.log",
    conda:
        "../envs/study.yaml"
    params:
        config=STUDY,
        a1_pair=[PART_A["c1"], PART_A["c2"]],
        grid=PART_A["grid"],
        basedir=workflow.basedir,
    script:
        "../scripts/render_report.py"
