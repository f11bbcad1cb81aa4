# Packed mode (cluster.jobs_per_gpu K > 1): the training runs known when the
# workflow is read go into packs of K, one job each, with one GPU; inside it,
# Snakemake runs the runs' ordinary training jobs side by side. Runs at the
# grid's optimum (A3) train one job each, as usual, unless the pair is pinned.
for pack_index, pack in enumerate(training_packs()):

    rule:
        name:
            f"train_pack_{pack_index}"
        input:
            pack_inputs(pack),
        output:
            pack_outputs(pack),
        log:
            f"logs/packs/pack-{pack_index}.log",
        benchmark:
            f"benchmarks/packs/pack-{pack_index}.tsv"
        conda:
            "../envs/study.yaml"
        container:
            STUDY["container"] or None
        threads: len(pack) * TRAINING["threads"]
        resources:
            gpu=training_gpus,
            mem_mb=lambda wc, attempt, size=len(pack): 4000 * size * attempt,
            runtime=pack_runtime(pack),
        params:
            runs=pack,
        script:
            "../scripts/train_pack.py"

    # A packed run's files come from its pack, not from its own training job.
    workflow.ruleorder(f"train_pack_{pack_index}", "train_cifar")
    workflow.ruleorder(f"train_pack_{pack_index}", "train_text")
