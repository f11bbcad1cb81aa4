rule train_text:
    input:
        ids="results/part_b/data/{level}_ids.npz",
        vocabulary="results/part_b/data/vocabulary.json",
    output:
        metrics=f"{PART_B_RUN}/metrics.json",
        model=f"{PART_B_RUN}/model.keras",
        costs=learning_curve(PART_B_RUN, "cost"),
        accuracies=learning_curve(PART_B_RUN, "accuracy"),
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
        mem_mb=training_memory,
        runtime=training_minutes(PART_B_RUN),
    params:
        settings=run_settings,
        state_dir=resume_dir,
    script:
        "../scripts/train_text.py"
