"""A run trained with other settings than the config's: what changed, for its training job to train it again."""

import json
from pathlib import Path

Path(snakemake.output[0]).write_text(json.dumps({"changes": snakemake.params.changes}) + "\n")
Path(snakemake.log[0]).write_text(f"{snakemake.wildcards.folder}: {', '.join(snakemake.params.changes)}\n")
