# The results over many runs (the table of all runs and of every epoch, each
# question's table, the verdicts of the comparisons the spec asks about, the
# reference comparison, summary figures) and the one-file HTML report
# (results/report.html). Which runs each question takes, and its names:
# nnstudy/study/questions.py. The reference numbers of SPEC's student report are
# data: data/reference/*.csv.
from nnstudy.analysis import reference, stats, tables

# Gzipped for a large study; the name is known before any run from the planned epochs.
HISTORIES = f"results/tables/{stats.histories_name(stats.planned_rows(STUDY))}"
VERDICTS = [key for key in tables.VERDICTS if key in QUESTIONS]


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
        "../scripts/all_runs_table.py"


rule histories_table:
    input:
        all_metrics,
    output:
        report(
            HISTORIES,
            caption="../report/histories.rst",
            category="Study",
            subcategory="All runs",
        ),
    log:
        "logs/tables/histories.log",
    conda:
        "../envs/study.yaml"
    script:
        "../scripts/histories_table.py"


rule question_table:
    input:
        metrics=question_runs_metrics,
        optimum=question_optimum,
    output:
        csv=report(
            "results/tables/{question}.csv",
            caption="../report/question_table.rst",
            category=question_category,
            subcategory=question_subcategory,
            labels={"table": "{question}"},
        ),
        md="results/tables/{question}.md",
        html="results/tables/{question}.html",
    log:
        "logs/tables/{question}.log",
    wildcard_constraints:
        question="|".join(questions.TABLED),
    conda:
        "../envs/study.yaml"
    params:
        config=question_config,
        caption=table_caption,
    script:
        "../scripts/question_table.py"


rule verdicts_table:
    input:
        runs="results/tables/all_runs.csv",
        optimum=plan.OPTIMUM_FILE if "a3" in QUESTIONS else [],
    output:
        csv=report(
            "results/tables/verdicts.csv",
            caption="../report/verdicts.rst",
            category="Study",
            subcategory="Verdicts",
        ),
        md="results/tables/verdicts.md",
        html="results/tables/verdicts.html",
    log:
        "logs/tables/verdicts.log",
    conda:
        "../envs/study.yaml"
    params:
        questions=VERDICTS,
        config={part: STUDY[part] for part in STUDY["parts"]},
    script:
        "../scripts/verdicts_table.py"


rule reference_comparison:
    input:
        runs="results/tables/all_runs.csv",
        optimum=question_optimum,
        reference=reference_files,
    output:
        report(
            "results/tables/{question}_reference.csv",
            caption="../report/reference.rst",
            category=question_category,
            subcategory=question_subcategory,
            labels={"table": "{question} beside the reference"},
        ),
    log:
        "logs/tables/{question}_reference.log",
    wildcard_constraints:
        question="|".join(questions.COMPARED),
    conda:
        "../envs/study.yaml"
    params:
        config=question_config,
        about=question_about,
        spec=lambda wildcards: reference.SPEC[
            questions.QUESTIONS[wildcards.question].part
        ],
    script:
        "../scripts/reference_comparison.py"


rule grid_heatmap:
    input:
        runs="results/tables/all_runs.csv",
        optimum=plan.OPTIMUM_FILE,
    output:
        report(
            f"{html.FIGURES}/a2_heatmap.png",
            caption="../report/a2_heatmap.rst",
            category=questions.CATEGORIES["part_a"],
            subcategory=questions.QUESTIONS["a2"].subcategory,
            labels={"figure": "heatmap"},
        ),
    log:
        "logs/figures/a2_heatmap.log",
    conda:
        "../envs/study.yaml"
    params:
        config=PART_A,
    script:
        "../scripts/grid_heatmap.py"


rule comparison_figures:
    input:
        metrics=question_runs_metrics,
        optimum=question_optimum,
        reference=reference_files,
    output:
        chart=report(
            f"{html.FIGURES}/{{question}}_comparison.png",
            caption="../report/comparison_chart.rst",
            category=question_category,
            subcategory=question_subcategory,
            labels={"figure": "{question} against the reference"},
        ),
        curves=report(
            f"{html.FIGURES}/{{question}}_curves.png",
            caption="../report/grouped_curves.rst",
            category=question_category,
            subcategory=question_subcategory,
            labels={"figure": "{question} learning curves"},
        ),
    log:
        "logs/figures/{question}_comparison.log",
    wildcard_constraints:
        question="|".join(questions.COMPARED),
    conda:
        "../envs/study.yaml"
    params:
        config=question_config,
        about=question_about,
    script:
        "../scripts/comparison_figures.py"


rule accuracy_time_figure:
    input:
        runs="results/tables/all_runs.csv",
    output:
        report(
            f"{html.FIGURES}/b_accuracy_time.png",
            caption="../report/accuracy_time.rst",
            category=questions.CATEGORIES["part_b"],
            subcategory=questions.QUESTIONS["b_accuracy_time"].subcategory,
            labels={"figure": "accuracy against training time"},
        ),
    log:
        "logs/figures/b_accuracy_time.log",
    conda:
        "../envs/study.yaml"
    params:
        config=STUDY["part_b"],
    script:
        "../scripts/accuracy_time_figure.py"


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
    script:
        "../scripts/html_report.py"
