"""A1b: feature maps of one test image through the A1 network."""

from pathlib import Path

from nnstudy import jobs
from nnstudy.analysis import feature_maps

jobs.run(
    snakemake,
    lambda log: feature_maps.feature_maps(
        model_file=Path(snakemake.input.run).with_name("model.keras"),
        test_file=snakemake.input.test,
        meta_file=snakemake.input.meta,
        index=int(snakemake.wildcards.index),
        output=snakemake.output[0],
        backend=snakemake.params.backend,
        layout=snakemake.params.layout,
        log=log,
    ),
)
