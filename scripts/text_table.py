"""B5 / B6: Part B tables (the rule name picks which)."""
from nnstudy import jobs, tables

BUILDERS = {"b5_table": tables.b5_table, "b6_table": tables.b6_table}


def write(log):
    table = BUILDERS[snakemake.rule](tables.collect(snakemake.input), snakemake.params.mask_padding)
    tables.write(table, dict(snakemake.output.items()))
    log(f"{len(table)} rows")


jobs.run(snakemake, write)
