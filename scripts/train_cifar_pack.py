"""Part A pack job (training.engine: scan): a pack of CNNs in one compiled program (see rules/part_a.smk)."""

from nnstudy import jobs
from nnstudy.train import pack_job

training = snakemake.config["training"]
jobs.run(
    snakemake,
    lambda log: pack_job.train_cifar_pack(
        runs=snakemake.params.runs,
        settings={"threads": snakemake.threads} | {key: training[key] for key in ("chunk_epochs", "deadline")},
        inputs=dict(snakemake.input.items()),
        manifest=snakemake.params.manifest,
        gpu=training["gpu"],
        log=log,
    ),
)
