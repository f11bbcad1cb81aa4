"""A4: A1, the grid optimum and the A3 variants in one table."""
from nnstudy import jobs, tables


def write(log):
    frame = tables.collect(snakemake.input)
    table = tables.a4_table(frame, snakemake.params.a1_pair, snakemake.params.optimum_pair)
    tables.write(table, dict(snakemake.output.items()))
    log(f"{len(table)} models compared")


jobs.run(snakemake, write)
