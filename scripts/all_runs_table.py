"""All runs in one tidy table: one row per run, one column per hyper-parameter and metric."""

from nnstudy import jobs
from nnstudy.analysis import runs

jobs.run(snakemake, lambda log: runs.write_all_runs(list(snakemake.input), snakemake.output[0], snakemake.config, log))
