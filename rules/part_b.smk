rule train_text:
    input:
        ids="results/part_b/data/{level}_ids.npz",
        vocabulary="results/part_b/data/vocabulary.json",
    output:
        metrics=f"{PART_B_RUN}/metrics.json",
        model=f"{PART_B_RUN}/model.keras",
        costs=learning_curve("part_b", PART_B_RUN, "cost"),
        accuracies=learning_curve("part_b", PART_B_RUN, "accuracy"),
    log:
        f"logs/{PART_B_RUN}.log",
    benchmark:
        f"benchmarks/{PART_B_RUN}.tsv"
    conda:
        "../envs/study.yaml"
    container:
        STUDY["container"] or None
    threads: TRAINING["threads"]
    resources:
        gpu=training_gpus,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=part_b_runtime,
    params:
        settings=part_b_settings,
        state_dir=resume_dir,
    script:
        "../scripts/train_text.py"


rule b5_table:
    input:
        metrics=question_metrics("b5"),
    output:
        csv=report(
            "results/tables/b5_models.csv",
            caption="../report/b5_models.rst",
            category="Part B: text classification",
            subcategory="B5 models and dropout",
        ),
        md="results/tables/b5_models.md",
        html="results/tables/b5_models.html",
    log:
        "logs/tables/b5_models.log",
    conda:
        "../envs/study.yaml"
    params:
        config=PART_B,
    script:
        "../scripts/b5_table.py"


rule b6_table:
    input:
        metrics=question_metrics("b6"),
    output:
        csv=report(
            "results/tables/b6_rnn_variants.csv",
            caption="../report/b6_rnn_variants.rst",
            category="Part B: text classification",
            subcategory="B6 recurrent variants",
        ),
        md="results/tables/b6_rnn_variants.md",
        html="results/tables/b6_rnn_variants.html",
    log:
        "logs/tables/b6_rnn_variants.log",
    conda:
        "../envs/study.yaml"
    params:
        config=PART_B,
    script:
        "../scripts/b6_table.py"


rule masking_table:
    input:
        metrics=question_metrics("masking"),
    output:
        csv=report(
            "results/tables/b_masking.csv",
            caption="../report/b_masking.rst",
            category="Part B: text classification",
            subcategory="Padding masking ablation",
        ),
        md="results/tables/b_masking.md",
        html="results/tables/b_masking.html",
    log:
        "logs/tables/b_masking.log",
    conda:
        "../envs/study.yaml"
    params:
        config=PART_B,
    script:
        "../scripts/masking_table.py"
