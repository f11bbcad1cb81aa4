"""The study's one-file HTML report (report/template.html.j2)."""
from nnstudy import jobs, report

jobs.run(
    snakemake,
    lambda log: report.write_report(
        inputs=dict(snakemake.input.items()), params=dict(snakemake.params.items()), output=snakemake.output[0], log=log
    ),
)
