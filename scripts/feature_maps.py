"""A1b: feature maps of one test image through the A1 network."""

from nnstudy import jobs
from nnstudy.train import job

jobs.run(
    snakemake,
    lambda log: job.feature_maps(
        model_file=snakemake.input.model,
        test_file=snakemake.input.test,
        meta_file=snakemake.input.meta,
        index=int(snakemake.wildcards.index),
        output=snakemake.output[0],
        backend=snakemake.params.backend,
        layout=snakemake.params.layout,
        log=log,
    ),
)
