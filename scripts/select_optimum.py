"""A2: pick the (c1, c2) pair for A3 from the grid, unless config pins one."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_optimum(list(snakemake.input), snakemake.params.pinned, snakemake.output[0], log),
)
