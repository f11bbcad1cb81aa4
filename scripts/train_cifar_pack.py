"""Part A pack job (training.engine: scan): a pack of CNNs in one compiled program (see rules/part_a.smk)."""

from nnstudy import jobs, scan_jobs

training = snakemake.config["training"]
jobs.run(
    snakemake,
    lambda log: scan_jobs.train_cifar_pack(
        runs=snakemake.params.runs,
        settings={"threads": snakemake.threads} | {key: training[key] for key in ("chunk_epochs", "deadline")},
        inputs=dict(snakemake.input.items()),
        manifest=snakemake.params.manifest,
        gpu=training["gpu"],
        log=log,
    ),
)
