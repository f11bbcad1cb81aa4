"""A2: heatmap of max test accuracy over the c1 × c2 grid."""

from nnstudy import jobs
from nnstudy.analysis import figures

jobs.run(
    snakemake,
    lambda log: figures.write_grid_heatmap(
        snakemake.input.runs, snakemake.input.optimum, snakemake.params.config, snakemake.output[0], log
    ),
)
