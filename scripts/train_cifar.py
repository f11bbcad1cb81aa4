"""Part A training job: one CNN on CIFAR-10 (see rules/part_a.smk)."""

from nnstudy import experiments, jobs

wildcards = snakemake.wildcards
jobs.run(
    snakemake,
    lambda log: experiments.train_cifar(
        c1=int(wildcards.c1),
        c2=int(wildcards.c2),
        optimizer=wildcards.optimizer,
        dropout=float(wildcards.dropout),
        seed=int(wildcards.seed),
        **jobs.training_arguments(snakemake, log),
    ),
)
