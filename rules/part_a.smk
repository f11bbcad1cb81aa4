rule train_cifar:
    input:
        train=cifar10_file("data_batch_1"),
        test=cifar10_file("test_batch_trim"),
    output:
        metrics=f"{PART_A_RUN}/metrics.json",
        model=f"{PART_A_RUN}/model.keras",
        costs=learning_curve(PART_A_RUN, "cost"),
        accuracies=learning_curve(PART_A_RUN, "accuracy"),
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
        mem_mb=training_memory,
        runtime=training_minutes(PART_A_RUN),
    params:
        settings=run_settings,
        state_dir=resume_dir,
    script:
        "../scripts/train_cifar.py"


checkpoint select_optimum:
    input:
        [] if PART_A["optimum"] else question_metrics("a2")(),
    output:
        plan.OPTIMUM_FILE,
    log:
        "logs/part_a/select_optimum.log",
    conda:
        "../envs/study.yaml"
    params:
        pinned=PART_A["optimum"],
    script:
        "../scripts/select_optimum.py"


rule feature_maps:
    input:
        model=f"{A1_RUN}/model.keras",
        test=cifar10_file("test_batch_trim"),
        meta=cifar10_file("batches.meta"),
    output:
        report(
            "results/part_a/feature_maps/test_image_{index}.png",
            caption="../report/feature_maps.rst",
            category=questions.CATEGORIES["part_a"],
            subcategory="A1b feature maps",
            labels={"test image": "{index}"},
        ),
    log:
        "logs/part_a/feature_maps_{index}.log",
    conda:
        "../envs/study.yaml"
    params:
        backend=plan.run_settings(STUDY, A1_RUN)["backend"],
        layout=plan.run_settings(STUDY, A1_RUN)["pixel_layout"],
    script:
        "../scripts/feature_maps.py"


# training.engine: scan. Part A trains as packs, each in one compiled JAX
# program (nnstudy/train/scan.py): a seed's grid (and A1) in one job, A3's four runs at
# the chosen pair in another. Every run keeps its own files, log and resume
# state; a target of one run trains its pack.
if TRAINING["engine"] == "scan":

    rule train_cifar_grid:
        input:
            train=cifar10_file("data_batch_1"),
            test=cifar10_file("test_batch_trim"),
        output:
            pack_files(GRID_PACK),
        log:
            ["logs/part_a/packs/grid_seed-{seed}.log"]
            + [f"logs/{run}.log" for run in GRID_PACK],
        benchmark:
            "benchmarks/part_a/packs/grid_seed-{seed}.tsv"
        conda:
            "../envs/study.yaml"
        container:
            STUDY["container"] or None
        threads: TRAINING["threads"]
        resources:
            gpu=training_gpus,
            mem_mb=training_memory,
            runtime=pack_minutes(GRID_PACK),
        params:
            runs=pack_runs(GRID_PACK),
            manifest=f"{TRAINING['resume_dir']}/part_a/packs/grid_seed-{{seed}}.json",
        script:
            "../scripts/train_cifar_pack.py"

    rule train_cifar_a3:
        input:
            train=cifar10_file("data_batch_1"),
            test=cifar10_file("test_batch_trim"),
        output:
            pack_files(A3_PACK),
        log:
            ["logs/part_a/packs/a3_c1-{c1}_c2-{c2}_seed-{seed}.log"]
            + [f"logs/{run}.log" for run in A3_PACK],
        benchmark:
            "benchmarks/part_a/packs/a3_c1-{c1}_c2-{c2}_seed-{seed}.tsv"
        conda:
            "../envs/study.yaml"
        container:
            STUDY["container"] or None
        threads: TRAINING["threads"]
        resources:
            gpu=training_gpus,
            mem_mb=training_memory,
            runtime=pack_minutes(A3_PACK),
        params:
            runs=pack_runs(A3_PACK),
            manifest=f"{TRAINING['resume_dir']}/part_a/packs/a3_c1-{{c1}}_c2-{{c2}}_seed-{{seed}}.json",
        script:
            "../scripts/train_cifar_pack.py"

    ruleorder: train_cifar_grid > train_cifar_a3 > train_cifar
