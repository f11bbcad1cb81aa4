"""Part B training job: one text classifier (see rules/part_b.smk)."""
from nnstudy import experiments, jobs

wildcards = snakemake.wildcards
jobs.run(
    snakemake,
    lambda log: experiments.train_text(
        level=wildcards.level,
        architecture=wildcards.arch,
        num_layers=int(wildcards.layers),
        dropout=float(wildcards.dropout),
        clip=None if wildcards.clip == "none" else float(wildcards.clip),
        seed=int(wildcards.seed),
        settings=snakemake.params.settings | {"threads": snakemake.threads},
        inputs=dict(snakemake.input.items()),
        outputs=dict(snakemake.output.items()),
        state_dir=snakemake.params.state_dir,
        # GPU placement comes from the config, not params: changing it must
        # not rerun finished training jobs.
        gpu=snakemake.config["training"]["gpu"],
        log=log,
    ),
)
