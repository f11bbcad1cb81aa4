# The CE/CZ4042 study (../shared/SPEC.md): Part A, CIFAR-10 CNNs; Part B,
# text classifiers; tables, figures and one HTML report.
import json
import os
import sys

from snakemake.utils import min_version

min_version("9.20")

# Rules and jobs import the nnstudy package from this checkout, whatever
# environment (venv, conda, container, cluster node) they run in.
sys.path.insert(0, workflow.basedir)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])
    )
)


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/training.smk"
include: "rules/part_a.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        study_targets,
