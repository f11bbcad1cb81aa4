"""A4 / B5 / B6 (the wildcard picks): chart against the reference and grouped learning curves."""

from nnstudy import jobs
from nnstudy.analysis import figures

jobs.run(
    snakemake,
    lambda log: figures.write_comparison_figures(
        question=snakemake.wildcards.question,
        metric_files=list(snakemake.input.metrics),
        reference_files=list(snakemake.input.reference),
        optimum_json=snakemake.input.optimum,
        config=snakemake.params.config,
        study=snakemake.config,
        outputs=dict(snakemake.output.items()),
        log=log,
    ),
)
