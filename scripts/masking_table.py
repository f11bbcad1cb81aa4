"""The padding-masking ablation table: word-level RNNs unmasked beside masked."""
from nnstudy import jobs, tables


def write(log):
    table = tables.masking_table(tables.collect(snakemake.input))
    tables.write(table, dict(snakemake.output.items()))
    log(f"{len(table)} models, unmasked beside masked")


jobs.run(snakemake, write)
