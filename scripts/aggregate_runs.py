"""All runs in one tidy table: one row per run, one column per hyper-parameter and metric."""
from nnstudy import jobs, report

jobs.run(snakemake, lambda log: report.write_all_runs(snakemake.input, snakemake.output[0], log))
