"""Encode the Part B CSVs once: char ids, word ids, labels, vocabulary."""

from nnstudy import jobs
from nnstudy.data import text

jobs.run(
    snakemake,
    lambda log: text.prepare(
        **dict(snakemake.params.items()),  # length, min_count, max_vocabulary
        train_csv=snakemake.input.train,
        test_csv=snakemake.input.test,
        outputs=dict(snakemake.output.items()),
        log=log,
    ),
)
