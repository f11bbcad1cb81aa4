rule train_cifar:
    input:
        train=cifar10_file("data_batch_1"),
        test=cifar10_file("test_batch_trim"),
    output:
        metrics=f"{PART_A_RUN}/metrics.json",
        model=f"{PART_A_RUN}/model.keras",
        costs=learning_curve("part_a", PART_A_RUN, "cost"),
        accuracies=learning_curve("part_a", PART_A_RUN, "accuracy"),
    log:
        f"logs/{PART_A_RUN}.log",
    benchmark:
        f"benchmarks/{PART_A_RUN}.tsv"
    conda:
        "../envs/study.yaml"
    container:
        STUDY["container"] or None
    threads: TRAINING["threads"]
    resources:
        gpu=training_gpus,
        mem_mb=lambda wc, attempt: 4000 * attempt,
        runtime=part_a_runtime,
    params:
        settings=part_a_settings(),
        state_dir=resume_dir,
    script:
        "../scripts/train_cifar.py"


checkpoint select_optimum:
    input:
        [] if PART_A["optimum"] else question_metrics("a2")(),
    output:
        "results/part_a/optimum.json",
    log:
        "logs/part_a/select_optimum.log",
    conda:
        "../envs/study.yaml"
    params:
        pinned=PART_A["optimum"],
    script:
        "../scripts/select_optimum.py"


rule grid_table:
    input:
        metrics=question_metrics("a2"),
    output:
        csv=report(
            "results/tables/a2_grid.csv",
            caption="../report/a2_grid.rst",
            category="Part A: CIFAR-10",
            subcategory="A2 grid search",
        ),
        md="results/tables/a2_grid.md",
        html="results/tables/a2_grid.html",
    log:
        "logs/tables/a2_grid.log",
    conda:
        "../envs/study.yaml"
    params:
        config=PART_A,
    script:
        "../scripts/grid_table.py"


rule comparison_table:
    input:
        metrics=question_metrics("a4"),
        optimum=plan.OPTIMUM_FILE,
    output:
        csv=report(
            "results/tables/a4_comparison.csv",
            caption="../report/a4_comparison.rst",
            category="Part A: CIFAR-10",
            subcategory="A4 comparison",
        ),
        md="results/tables/a4_comparison.md",
        html="results/tables/a4_comparison.html",
    log:
        "logs/tables/a4_comparison.log",
    conda:
        "../envs/study.yaml"
    params:
        config=PART_A,
    script:
        "../scripts/comparison_table.py"


rule feature_maps:
    input:
        model=f"{part_a_run(PART_A['c1'], PART_A['c2'], seed=SEEDS[0])}/model.keras",
        test=cifar10_file("test_batch_trim"),
        meta=cifar10_file("batches.meta"),
    output:
        report(
            "results/part_a/feature_maps/test_image_{index}.png",
            caption="../report/feature_maps.rst",
            category="Part A: CIFAR-10",
            subcategory="A1b feature maps",
            labels={"test image": "{index}"},
        ),
    log:
        "logs/part_a/feature_maps_{index}.log",
    conda:
        "../envs/study.yaml"
    params:
        backend=for_family("backend", "cifar_cnn"),
    script:
        "../scripts/feature_maps.py"
