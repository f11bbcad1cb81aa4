# Part A's results beyond its runs: A2's choice of the pair for A3, and A1b's
# feature maps.


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
        # The model is written beside the run's outputs (nnstudy/study/plan.py, Run.model_file).
        run=f"{A1_RUN}/metrics.json",
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
        backend=plan.run(STUDY, A1_RUN).settings["backend"],
        layout=PART_A["pixel_layout"],
    script:
        "../scripts/feature_maps.py"
