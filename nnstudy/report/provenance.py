"""Where the study's results come from: the checkout, the software and the
machines that made them, and what they cost."""

from __future__ import annotations

import platform
from importlib import metadata

import pandas as pd
import yaml

from nnstudy.analysis.runs import VERSION_KEYS


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(runs: pd.DataFrame, config: dict, commit: str | None) -> dict:
    """Config, seeds, versions, devices and compute time of the study (runs: all of them)."""
    versions = {}
    for key in VERSION_KEYS:
        found = sorted({str(v) for v in runs.get(f"{key}_version", pd.Series(dtype=str)).dropna()})
        versions[f"{key} (training jobs)"] = ", ".join(found) or "unknown"
    for name in ("snakemake", "pandas", "matplotlib", "seaborn", "jinja2"):
        versions[f"{name} (report job)"] = _package_version(name)
    versions["python (report job)"] = platform.python_version()
    devices = (
        runs.assign(device_name=runs["device_name"].fillna("?"))
        .groupby(["device", "device_name"], dropna=False)
        .size()
        .reset_index(name="runs")
    )
    jobs = runs[["part", "run", "label", "seed", "epochs_run", "train_seconds", "job_seconds"]].copy()
    per_part = runs.groupby("part")["job_seconds"].agg(["count", "sum"]).reset_index()
    return {
        "config_yaml": yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=100),
        "preset": config.get("preset", "?"),
        "seeds": config.get("seeds", []),
        "commit": commit,
        "versions": versions,
        "devices": devices.to_dict("records"),
        "jobs": jobs.to_dict("records"),
        "per_part": per_part.to_dict("records"),
        "total_job_seconds": float(runs["job_seconds"].sum()),
        "total_train_seconds": float(runs["train_seconds"].sum()),
        "runs": len(runs),
    }
