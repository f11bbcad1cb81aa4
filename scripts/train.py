"""Every training job: one run, a scan pack, or an allocation's runs side by side (see rules/training.smk)."""

from nnstudy import jobs

jobs.run(snakemake, lambda log: jobs.train(snakemake, log))
