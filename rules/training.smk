# Training: one job per run (train_cifar for Part A, train_text for Part B), or
# one job per pack of runs (nnstudy/study/packs.py): Part A's grid or A3 runs
# in one compiled JAX program (training.engine: scan), or K runs side by side
# in one cluster allocation (cluster.runs_per_allocation: K). Every job
# resumes its runs from their saved states, and a run whose metrics.json
# records other settings than the config's trains again (settings_changed).


rule train_cifar:
    input:
        **CIFAR10,
        changed=settings_changes([plan.PART_A_RUN]),
    output:
        run_outputs([plan.PART_A_RUN]),
    log:
        f"logs/{plan.PART_A_RUN}.log",
    benchmark:
        f"benchmarks/{plan.PART_A_RUN}.tsv"
    conda:
        "../envs/study.yaml"
    container:
        STUDY["container"] or None
    threads: TRAINING["threads"]
    resources:
        gpu=training_gpus,
        mem_mb=training_memory([plan.PART_A_RUN]),
        runtime=training_minutes([plan.PART_A_RUN]),
    params:
        job=training_job([plan.PART_A_RUN]),
    script:
        "../scripts/train.py"


use rule train_cifar as train_text with:
    input:
        **TEXT_DATA,
        changed=settings_changes([plan.PART_B_RUN]),
    output:
        run_outputs([plan.PART_B_RUN]),
    log:
        f"logs/{plan.PART_B_RUN}.log",
    benchmark:
        f"benchmarks/{plan.PART_B_RUN}.tsv"
    resources:
        gpu=training_gpus,
        mem_mb=training_memory([plan.PART_B_RUN]),
        runtime=training_minutes([plan.PART_B_RUN]),
    params:
        job=training_job([plan.PART_B_RUN]),


# A run's files come from its pack's job where it has one (ruleorder below).
for pack in STUDY_PACKS:

    rule:
        name:
            pack.rule
        input:
            **pack_data(pack),
            changed=settings_changes(pack.runs),
        output:
            run_outputs(pack.runs),
        log:
            [pack.log, *(f"logs/{run}.log" for run in pack.runs)],
        benchmark:
            pack.benchmark
        conda:
            "../envs/study.yaml"
        container:
            STUDY["container"] or None
        threads: TRAINING["threads"] * (len(pack.runs) if pack.engine == "allocation" else 1)
        resources:
            gpu=training_gpus,
            mem_mb=training_memory(pack.runs),
            runtime=training_minutes(pack.runs),
        params:
            job=training_job(pack.runs, pack),
        script:
            "../scripts/train.py"

    workflow.ruleorder(pack.rule, "train_cifar")
    workflow.ruleorder(pack.rule, "train_text")


rule settings_changed:
    output:
        temp(f"{TRAINING['resume_dir']}/changes/{{folder}}.json"),
    log:
        "logs/{folder}.changes.log",
    wildcard_constraints:
        folder=r"results/part_[ab]/runs/[^/]+",
    localrule: True
    conda:
        "../envs/study.yaml"
    params:
        changes=lambda wildcards: plan.changes_of(plan.run(STUDY, wildcards.folder)),
    message:
        "{wildcards.folder} was trained with other settings ({params.changes}): training it again"
    script:
        "../scripts/settings_changed.py"
