"""The study's one-file HTML report (report/template.html.j2)."""

from nnstudy import jobs
from nnstudy.report import html

jobs.run(
    snakemake,
    lambda log: html.write_report(
        inputs=dict(snakemake.input.items()), params=dict(snakemake.params.items()), output=snakemake.output[0], log=log
    ),
)
