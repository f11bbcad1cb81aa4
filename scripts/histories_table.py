"""Every epoch of every run in one table (results/tables/histories.csv, or .csv.gz)."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake, lambda log: tables.write_histories(list(snakemake.input), snakemake.output[0], snakemake.config, log)
)
