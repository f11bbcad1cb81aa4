"""Fetch the official CIFAR-10 tarball and lay out the course files."""

from pathlib import Path

from nnstudy import jobs
from nnstudy.data import cifar

jobs.run(
    snakemake,
    lambda log: cifar.download(
        snakemake.params.url,
        snakemake.params.md5,
        Path(snakemake.output.train).parent,
        log,
        # Checked instead of md5 unless empty; the schema fills in the official one.
        sha256=snakemake.config["download"]["sha256"],
    ),
)
