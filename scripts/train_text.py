"""Part B training job: one text classifier (see rules/part_b.smk)."""

from nnstudy import experiments, jobs

jobs.run(snakemake, lambda log: experiments.train_text(**jobs.training_arguments(snakemake, log)))
