"""B6: the recurrent variants for char and word input."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_table(
        question="b6",
        metric_files=list(snakemake.input.metrics),
        config=snakemake.params.config,
        optimum_json=snakemake.input.get("optimum"),
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
