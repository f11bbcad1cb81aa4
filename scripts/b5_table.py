"""B5: B1–B4 without and with dropout: accuracy and running time."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_table(
        question="b5",
        metric_files=list(snakemake.input.metrics),
        config=snakemake.params.config,
        optimum_json=snakemake.input.get("optimum"),
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
