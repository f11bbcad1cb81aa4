"""Part A training job: one CNN on CIFAR-10 (see rules/part_a.smk)."""

from nnstudy import experiments, jobs

jobs.run(snakemake, lambda log: experiments.train_cifar(**jobs.training_arguments(snakemake, log)))
