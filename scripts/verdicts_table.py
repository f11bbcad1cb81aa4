"""The verdicts of the comparisons the spec asks about, for every chosen question that has some."""

from nnstudy import jobs
from nnstudy.analysis import tables

jobs.run(
    snakemake,
    lambda log: tables.write_verdicts(
        keys=snakemake.params.questions,
        runs_csv=snakemake.input.runs,
        optimum_json=snakemake.input.get("optimum"),
        study=snakemake.params.config,
        outputs={key: snakemake.output[key] for key in ("csv", "md", "html")},
        log=log,
    ),
)
