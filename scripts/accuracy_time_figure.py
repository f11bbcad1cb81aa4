"""Part B: test accuracy against training time."""

from nnstudy import jobs
from nnstudy.analysis import figures

jobs.run(
    snakemake,
    lambda log: figures.write_accuracy_against_time(
        snakemake.input.runs, snakemake.params.config, snakemake.output[0], log
    ),
)
