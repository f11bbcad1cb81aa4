"""A2: the grid search table, best pair first."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_table(
        question="a2",
        metric_files=list(snakemake.input.metrics),
        config=snakemake.params.config,
        optimum_json=snakemake.input.get("optimum"),
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
