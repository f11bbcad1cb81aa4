"""A4 / B5 / B6 (the wildcard picks): chart against the reference and grouped learning curves."""
from nnstudy import figures, jobs

jobs.run(
    snakemake,
    lambda log: figures.write_comparison_figures(
        question=snakemake.wildcards.question,
        runs_csv=snakemake.input.runs,
        reference_dir=snakemake.params.reference_dir,
        optimum_json=snakemake.input.optimum,
        a1_pair=snakemake.params.a1_pair,
        mask_padding=snakemake.params.mask_padding,
        outputs=dict(snakemake.output.items()),
        log=log,
    ),
)
