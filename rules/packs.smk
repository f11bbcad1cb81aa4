# Packed mode (cluster.runs_per_allocation K > 1): the training runs known when
# the workflow is read go into packs of K, one job each, with one GPU; inside
# it, Snakemake runs the runs' ordinary training jobs side by side. Runs at the
# grid's optimum (A3) train one job each, as usual, unless the pair is pinned.


def pack_memory(pack):
    """The memory of its runs' jobs together."""

    def memory(wildcards, attempt):
        return len(pack) * training_memory(wildcards, attempt)

    return memory


for pack_index, pack in enumerate(packs.training_packs(STUDY)):

    rule:
        name:
            f"train_pack_{pack_index}"
        input:
            sorted({path for run in pack for path in run_data(run)}),
        output:
            pack_files(pack),
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
            mem_mb=pack_memory(pack),
            runtime=pack_minutes(pack),
        params:
            runs=pack,
        script:
            "../scripts/train_pack.py"

    # A packed run's files come from its pack, not from its own training job.
    workflow.ruleorder(f"train_pack_{pack_index}", "train_cifar")
    workflow.ruleorder(f"train_pack_{pack_index}", "train_text")
