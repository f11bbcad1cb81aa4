"""Shared code of the CE/CZ4042 study workflow: data, models, training, plots."""
