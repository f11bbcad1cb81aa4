"""A4: A1, the grid optimum and the A3 variants in one table."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_table(
        question="a4",
        metric_files=list(snakemake.input.metrics),
        config=snakemake.params.config,
        optimum_json=snakemake.input.get("optimum"),
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
