"""Part B training job: one text classifier (see rules/part_b.smk)."""

from nnstudy import jobs
from nnstudy.train import job

jobs.run(snakemake, lambda log: job.train_text(**jobs.training_arguments(snakemake, log)))
