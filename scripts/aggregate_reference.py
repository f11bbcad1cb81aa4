"""A4 / B5 / B6 (the wildcard picks): our numbers beside the reference report's."""
from nnstudy import jobs, report

jobs.run(
    snakemake,
    lambda log: report.write_reference_comparison(
        question=snakemake.wildcards.question,
        runs_csv=snakemake.input.runs,
        reference_dir=snakemake.params.reference_dir,
        optimum_json=snakemake.input.optimum,
        a1_pair=snakemake.params.a1_pair,
        mask_padding=snakemake.params.mask_padding,
        output=snakemake.output[0],
        log=log,
    ),
)
