"""Encode the Part B CSVs once: char ids, word ids, labels, vocabulary."""

from nnstudy import experiments, jobs

jobs.run(
    snakemake,
    lambda log: experiments.prepare_text(
        train_csv=snakemake.input.train,
        test_csv=snakemake.input.test,
        length=snakemake.params.length,
        min_count=snakemake.params.min_count,
        max_vocabulary=snakemake.params.max_vocabulary,
        outputs=dict(snakemake.output.items()),
        log=log,
    ),
)
