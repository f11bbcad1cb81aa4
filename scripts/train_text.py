"""Part B training job: one text classifier (see rules/part_b.smk)."""

from nnstudy import experiments, jobs

wildcards = snakemake.wildcards
jobs.run(
    snakemake,
    lambda log: experiments.train_text(
        level=wildcards.level,
        architecture=wildcards.arch,
        num_layers=int(wildcards.layers),
        dropout=float(wildcards.dropout),
        clip=None if wildcards.clip == "none" else float(wildcards.clip),
        seed=int(wildcards.seed),
        **jobs.training_arguments(snakemake, log),
    ),
)
