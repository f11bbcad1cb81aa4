rule train_cifar:
    input:
        train=cifar10_file("data_batch_1"),
        test=cifar10_file("test_batch_trim"),
    output:
        metrics=f"{PART_A_RUN}/metrics.json",
        model=f"{PART_A_RUN}/model.keras",
        costs=report(
            f"{PART_A_RUN}/costs.png",
            caption="../report/curves.rst",
            category="Part A: CIFAR-10",
            subcategory="Learning curves",
            labels={"model": "CNN ({c1}, {c2})", "optimizer": "{optimizer}", "dropout": "{dropout}", "seed": "{seed}", "plot": "cost"},
        ),
        accuracies=report(
            f"{PART_A_RUN}/accuracies.png",
            caption="../report/curves.rst",
            category="Part A: CIFAR-10",
            subcategory="Learning curves",
            labels={"model": "CNN ({c1}, {c2})", "optimizer": "{optimizer}", "dropout": "{dropout}", "seed": "{seed}", "plot": "accuracy"},
        ),
    params:
        settings=part_a_settings(),
        state_dir=lambda wc, output: f"{TRAINING['resume_dir']}/{output.metrics}".removesuffix("/metrics.json"),
    log:
        f"logs/{PART_A_RUN}.log",
    benchmark:
        f"benchmarks/{PART_A_RUN}.tsv"
    threads: TRAINING["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=training_runtime(seconds_per_epoch=30, epochs=PART_A["epochs"]),
    container: STUDY["container"] or None
    script:
        "../scripts/train_cifar.py"


checkpoint select_optimum:
    input:
        [] if PART_A["optimum"] else grid_metrics(),
    output:
        "results/part_a/optimum.json",
    params:
        pinned=PART_A["optimum"],
    log:
        "logs/part_a/select_optimum.log",
    script:
        "../scripts/select_optimum.py"


rule grid_table:
    input:
        grid_metrics(),
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
    script:
        "../scripts/grid_table.py"


rule comparison_table:
    input:
        a4_metrics,
    output:
        csv=report(
            "results/tables/a4_comparison.csv",
            caption="../report/a4_comparison.rst",
            category="Part A: CIFAR-10",
            subcategory="A4 comparison",
        ),
        md="results/tables/a4_comparison.md",
        html="results/tables/a4_comparison.html",
    params:
        a1_pair=[PART_A["c1"], PART_A["c2"]],
        optimum_pair=lambda wc: list(optimum_pair()),
    log:
        "logs/tables/a4_comparison.log",
    script:
        "../scripts/comparison_table.py"


rule feature_maps:
    input:
        model=f"{part_a_run(PART_A['c1'], PART_A['c2'])}/model.keras",
        test=cifar10_file("test_batch_trim"),
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
    script:
        "../scripts/feature_maps.py"
