"""Fetch the official CIFAR-10 tarball and lay out the course files."""
from pathlib import Path

from nnstudy import cifar, jobs

jobs.run(
    snakemake,
    lambda log: cifar.download(
        snakemake.params.url, snakemake.params.md5, Path(snakemake.output.train).parent, log
    ),
)
