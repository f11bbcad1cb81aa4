"""The study's training runs, from the resolved config: where each run's files
live and which runs each question needs. rules/common.smk builds its targets
from these, and `nnstudy status` reads the same list, so both always agree."""

from __future__ import annotations

import json
from pathlib import Path

PART_A_RUN = "results/part_a/runs/c1-{c1}_c2-{c2}_{optimizer}_dropout-{dropout}_seed-{seed}"
PART_B_RUN = (
    "results/part_b/runs/{level}-{arch}_layers-{layers}_dropout-{dropout}_clip-{clip}_padding-{padding}_seed-{seed}"
)
OPTIMUM_FILE = "results/part_a/optimum.json"


def number(value) -> str:
    """How a number appears in a path: 0.5 → "0.5", 0.0 → "0", 2.0 → "2"."""
    return f"{value:g}"


def part_a_run(c1, c2, optimizer="sgd", dropout=0.0, *, seed) -> str:
    return PART_A_RUN.format(c1=c1, c2=c2, optimizer=optimizer, dropout=number(dropout), seed=seed)


def part_b_run(level, arch, layers=1, dropout=0.0, clip=None, padding="unmasked", *, seed) -> str:
    # Masking only exists for word-level recurrent models; the others always
    # read the padding.
    if level != "word" or arch == "cnn":
        padding = "unmasked"
    return PART_B_RUN.format(
        level=level,
        arch=arch,
        layers=layers,
        dropout=number(dropout),
        clip="none" if clip is None else number(clip),
        padding=padding,
        seed=seed,
    )


# ---- Part A ------------------------------------------------------------------------


def grid_pairs(part_a: dict) -> list[tuple[int, int]]:
    return [(c1, c2) for c1 in part_a["grid"]["c1"] for c2 in part_a["grid"]["c2"]]


def a3_variants(part_a: dict) -> list[tuple[str, float]]:
    """(optimizer, dropout) of A3 a–c (optimizers) and d (SGD + dropout)."""
    return [(name, 0.0) for name in part_a["optimizers"]] + [("sgd", part_a["dropout"])]


def pinned_or_chosen_optimum(part_a: dict, workdir: Path = Path(".")) -> tuple[int, int] | None:
    """The A3 pair when known before the grid ends: pinned in config, or
    already chosen (optimum.json); None while the grid decides."""
    if part_a["optimum"]:
        return tuple(part_a["optimum"])
    try:
        chosen = json.loads((workdir / OPTIMUM_FILE).read_text())
        return int(chosen["c1"]), int(chosen["c2"])
    except (OSError, ValueError, KeyError):
        return None


def part_a_runs(part_a: dict, seeds: list[int], optimum: tuple[int, int] | None) -> list[str]:
    """The grid, A1 and (with a known optimum) A3, each run once."""
    pairs = [*grid_pairs(part_a), (part_a["c1"], part_a["c2"])]
    runs = [part_a_run(c1, c2, seed=seed) for c1, c2 in pairs for seed in seeds]
    if optimum is not None:
        c1, c2 = optimum
        runs += [part_a_run(c1, c2, seed=seed) for seed in seeds]
        runs += [part_a_run(c1, c2, o, d, seed=seed) for o, d in a3_variants(part_a) for seed in seeds]
    return list(dict.fromkeys(runs))


# ---- Part B ------------------------------------------------------------------------


def b5_runs(part_b: dict) -> list[dict]:
    """B1–B4 (char/word × CNN/GRU), each without and with dropout."""
    return [
        {"level": level, "arch": arch, "dropout": dropout}
        for level in ("char", "word")
        for arch in ("cnn", "gru")
        for dropout in (0.0, part_b["dropout"])
    ]


def b6_runs(part_b: dict) -> list[dict]:
    """B6 for the char and word GRU: vanilla RNN, LSTM, 2 layers, clipping."""
    return [
        variant | {"level": level}
        for level in ("char", "word")
        for variant in (
            {"arch": "rnn"},
            {"arch": "lstm"},
            {"arch": "gru", "layers": 2},
            {"arch": "gru", "clip": part_b["clip_threshold"]},
        )
    ]


def masking_runs(part_b: dict) -> list[dict]:
    """The ablation: the five word-level RNNs of B4 and B6, unmasked and masked."""
    return [
        {"level": "word", "padding": padding} | variant
        for variant in (
            {"arch": "gru"},
            {"arch": "rnn"},
            {"arch": "lstm"},
            {"arch": "gru", "layers": 2},
            {"arch": "gru", "clip": part_b["clip_threshold"]},
        )
        for padding in ("unmasked", "masked")
    ]


def study_padding(part_b: dict) -> str:
    return "masked" if part_b["mask_padding"] else "unmasked"


def part_b_folders(runs: list[dict], part_b: dict, seeds: list[int]) -> list[str]:
    padding = study_padding(part_b)
    return [part_b_run(**({"padding": padding} | run), seed=seed) for run in runs for seed in seeds]


def part_b_runs(part_b: dict, seeds: list[int]) -> list[str]:
    """B5, B6 and the masking ablation, each run once."""
    runs = b5_runs(part_b) + b6_runs(part_b) + masking_runs(part_b)
    return list(dict.fromkeys(part_b_folders(runs, part_b, seeds)))


def study_runs(study: dict, workdir: Path = Path(".")) -> tuple[list[str], list[str]]:
    """(run folders of the chosen parts, names of runs not yet known): A3's
    four variants wait for the grid's optimum unless it is pinned."""
    runs, pending = [], []
    if "part_a" in study["parts"]:
        optimum = pinned_or_chosen_optimum(study["part_a"], workdir)
        runs += part_a_runs(study["part_a"], study["seeds"], optimum)
        if optimum is None:
            pending += [f"A3 {o}{' + dropout' if d else ''}" for o, d in a3_variants(study["part_a"])]
    if "part_b" in study["parts"]:
        runs += part_b_runs(study["part_b"], study["seeds"])
    return runs, pending
