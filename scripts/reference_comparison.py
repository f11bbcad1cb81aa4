"""A4 / B5 / B6 (the wildcard picks): our numbers beside the reference report's."""

from nnstudy import jobs
from nnstudy.analysis import reference

jobs.run(
    snakemake,
    lambda log: reference.write_reference_comparison(
        question=snakemake.wildcards.question,
        runs_csv=snakemake.input.runs,
        reference_files=list(snakemake.input.reference),
        optimum_json=snakemake.input.optimum,
        config=snakemake.params.config,
        output=snakemake.output[0],
        log=log,
    ),
)
