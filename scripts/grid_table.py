"""A2: the grid search table, best pair first."""
from nnstudy import jobs, tables


def write(log):
    table = tables.display(
        tables.grid_table(tables.collect(snakemake.input)),
        ["c1", "c2"],
        {"max_test_accuracy": "max test acc", "mean_test_accuracy": "mean test acc"},
    )
    tables.write(table, dict(snakemake.output.items()))
    log(f"{len(table)} grid pairs")


jobs.run(snakemake, write)
