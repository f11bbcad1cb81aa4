"""Part B: test accuracy against training time."""
from nnstudy import figures, jobs

jobs.run(
    snakemake,
    lambda log: figures.write_accuracy_against_time(
        snakemake.input.runs, snakemake.params.mask_padding, snakemake.output[0], log
    ),
)
