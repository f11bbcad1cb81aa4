"""The padding-masking ablation table: word-level RNNs unmasked beside masked."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_table(
        question="masking",
        metric_files=list(snakemake.input.metrics),
        config=snakemake.params.config,
        optimum_json=snakemake.input.get("optimum"),
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
