"""A2: pick the (c1, c2) pair for A3 from the grid, unless config pins one."""
import json

from nnstudy import jobs, tables


def select(log):
    if snakemake.params.pinned:
        c1, c2 = snakemake.params.pinned
        source = "pinned in config (part_a.optimum)"
    else:
        c1, c2 = tables.best_pair(tables.collect(snakemake.input))
        source = f"best max test accuracy of {len(snakemake.input)} grid runs"
    with open(snakemake.output[0], "w") as handle:
        json.dump({"c1": c1, "c2": c2, "source": source}, handle, indent=1)
    log(f"optimal pair ({c1}, {c2}): {source}")


jobs.run(snakemake, select)
