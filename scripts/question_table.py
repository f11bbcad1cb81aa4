"""The table of one question (the wildcard picks: a2, a4, b5, b6, masking)."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_table(
        question=snakemake.wildcards.question,
        metric_files=list(snakemake.input.metrics),
        study=snakemake.config,
        optimum_json=snakemake.input.get("optimum"),
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
