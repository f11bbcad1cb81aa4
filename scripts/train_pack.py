"""Packed training job: a pack's runs side by side in one allocation (see rules/packs.smk)."""

from pathlib import Path

from nnstudy import jobs
from nnstudy.study import packs

jobs.run(
    snakemake,
    lambda log: packs.train_pack(
        snakefile=Path(snakemake.scriptdir).parent.resolve() / "Snakefile",
        config=snakemake.config,
        runs=snakemake.params.runs,
        cores=snakemake.threads,
        log=log,
    ),
)
