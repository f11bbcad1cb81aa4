"""Part A training job: one CNN on CIFAR-10 (see rules/part_a.smk)."""

from nnstudy import jobs
from nnstudy.train import job

jobs.run(snakemake, lambda log: job.train_cifar(**jobs.training_arguments(snakemake, log)))
