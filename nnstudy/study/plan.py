"""The study's training runs: where each run's files live, and the runs of every question of
nnstudy.study.questions, resolved against the config.

rules/common.smk builds its targets and the results jobs' inputs from these, `nnstudy status` reads the
same list, and nnstudy.analysis picks a question's rows by the run names made here, so all always agree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nnstudy.study import questions

# A run folder is its model's name plus the seed; a question's rows are matched by model (nnstudy.analysis.runs).
# A setting whose default predates it is in the name only when not the default (finished runs keep their folders):
# Part A's pixel layout as the suffix "_layout-course", Part B's clip mode as "clip-global-norm-2" ("clip-2": value).
PART_A_MODEL = "c1-{c1}_c2-{c2}_{optimizer}_dropout-{dropout}{layout}"
PART_B_MODEL = "{level}-{arch}_layers-{layers}_dropout-{dropout}_clip-{clip}_padding-{padding}"
PART_A_RUN = f"results/part_a/runs/{PART_A_MODEL}_seed-{{seed}}"
PART_B_RUN = f"results/part_b/runs/{PART_B_MODEL}_seed-{{seed}}"
OPTIMUM_FILE = "results/part_a/optimum.json"


def number(value) -> str:
    """How a number appears in a path: 0.5 → "0.5", 0.0 → "0", 2.0 → "2"."""
    return f"{value:g}"


DEFAULT_LAYOUT, DEFAULT_CLIP_MODE = "images", "value"
# What a wildcard's value may be: a folder-name part without "_", but the layout suffix (which may be empty).
WILDCARD_PATTERNS = {"layout": r"(?:_layout-[a-z]+)?"}


def part_a_run(c1, c2, optimizer="sgd", dropout=0.0, layout=DEFAULT_LAYOUT, *, seed) -> str:
    suffix = "" if layout == DEFAULT_LAYOUT else f"_layout-{layout}"
    return PART_A_RUN.format(c1=c1, c2=c2, optimizer=optimizer, dropout=number(dropout), layout=suffix, seed=seed)


def part_b_run(
    level, arch, layers=1, dropout=0.0, clip=None, padding="unmasked", clip_mode=DEFAULT_CLIP_MODE, *, seed
) -> str:
    if level != "word" or arch == "cnn":
        padding = "unmasked"  # masking only exists for word-level recurrent models
    dropout, clip = number(dropout), "none" if clip is None else clip_name(clip_mode, clip)
    return PART_B_RUN.format(
        level=level, arch=arch, layers=layers, dropout=dropout, clip=clip, padding=padding, seed=seed
    )


def clip_name(mode: str, threshold) -> str:
    """A clip in a folder name: "2" (value clipping at 2), "norm-2", "global-norm-2"."""
    return number(threshold) if mode == DEFAULT_CLIP_MODE else f"{mode.replace('_', '-')}-{number(threshold)}"


def parse_clip(name: str) -> tuple[str | None, float | None]:
    """(clip mode, threshold) of a folder name's clip ("none": (None, None))."""
    if name == "none":
        return None, None
    mode, _, threshold = name.rpartition("-")
    return (mode.replace("-", "_") or DEFAULT_CLIP_MODE), float(threshold)


def run_wildcards(run: str) -> dict[str, str]:
    """The wildcards of a run folder (PART_A_RUN or PART_B_RUN), "part" beside them."""
    for part, pattern in (("part_a", PART_A_RUN), ("part_b", PART_B_RUN)):
        regex = re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}")
        regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{WILDCARD_PATTERNS.get(m[1], '[^/_]+')})", regex)
        if match := re.fullmatch(regex, run):
            return {"part": part, **match.groupdict()}
    raise ValueError(f"not a run folder: {run}")


def model_name(run: str) -> str:
    """A run's folder name without its seed: the model it trains."""
    return Path(run).name.rsplit("_seed-", 1)[0]


# ---- one run's settings and label ------------------------------------------------------

# What the training job of a run takes from its part's config.
_PART_KEYS = {
    "part_a": ("epochs", "batch_size", "learning_rate", "momentum", "train_limit", "test_limit"),
    "part_b": ("epochs", "batch_size", "learning_rate", "optimizer", "train_limit", "test_limit"),
}
_ENGINE_DEFAULTS = {"backend": "tensorflow", "precision": "float32"}


def family(run_settings: dict) -> str:
    """The model family of a run (training.backend / precision may differ per family)."""
    if "c1" in run_settings:
        return "cifar_cnn"
    return "text_cnn" if run_settings["architecture"] == "cnn" else "text_rnn"


def run_settings(study: dict, run: str) -> dict:
    """Everything that decides a run's numbers: its identity (the run folder's name), its part's
    hyper-parameters and the engine of its model family. The training rules pass it as params, so a change
    to it reruns the job; how a job runs (threads, checkpoints, GPU slots) is not part of it."""
    found = run_wildcards(run)
    part = found["part"]
    dropout = float(found["dropout"])
    if part == "part_a":
        identity = {"c1": int(found["c1"]), "c2": int(found["c2"]), "optimizer": found["optimizer"], "dropout": dropout}
        identity["pixel_layout"] = found["layout"].removeprefix("_layout-") or DEFAULT_LAYOUT
    else:
        identity = {"level": found["level"], "architecture": found["arch"], "num_layers": int(found["layers"])}
        clip_mode, clip = parse_clip(found["clip"])
        identity |= {
            "dropout": dropout,
            "clip": clip,
            "clip_mode": clip_mode,
            "mask_padding": found["padding"] == "masked",
        }
    settings = identity | {"seed": int(found["seed"])} | {key: study[part][key] for key in _PART_KEYS[part]}
    settings["deterministic"] = study["training"]["deterministic"]
    for key, default in _ENGINE_DEFAULTS.items():
        value = study["training"][key]
        settings[key] = value if isinstance(value, str) else value.get(family(settings), default)
    if part == "part_a" and study["training"]["engine"] == "scan":  # fit runs' settings stay as they were
        settings |= {"engine": "scan", "matmul_precision": study["training"]["matmul_precision"]}
    return settings


def run_label(settings: dict) -> str:
    """How logs, metrics.json and plots name a run: "CNN (50, 60), sgd", "word GRU, dropout 0.5"."""
    dropout = f", dropout {settings['dropout']}" if settings["dropout"] else ""
    if "c1" in settings:
        layout = settings.get("pixel_layout", DEFAULT_LAYOUT)
        layout = "" if layout == DEFAULT_LAYOUT else f", {layout} pixel layout"
        return f"CNN ({settings['c1']}, {settings['c2']}), {settings['optimizer']}{dropout}{layout}"
    layers = f", {settings['num_layers']} layers" if settings["num_layers"] > 1 else ""
    clip = f", clip {settings['clip_mode']} {settings['clip']}" if settings["clip"] else ""
    return f"{settings['level']} {settings['architecture'].upper()}{layers}{dropout}{clip}"


# ---- Part A ------------------------------------------------------------------------


def grid_pairs(part_a: dict) -> list[tuple[int, int]]:
    return [(c1, c2) for c1 in part_a["grid"]["c1"] for c2 in part_a["grid"]["c2"]]


def pinned_or_chosen_optimum(part_a: dict, workdir: Path = Path(".")) -> tuple[int, int] | None:
    """The A3 pair when known before the grid ends: pinned in config, or already chosen (optimum.json)."""
    if part_a["optimum"]:
        return tuple(part_a["optimum"])
    try:
        chosen = json.loads((workdir / OPTIMUM_FILE).read_text())
        return int(chosen["c1"]), int(chosen["c2"])
    except (OSError, ValueError, KeyError):
        return None


def _pairs(pair: str, part_a: dict, optimum) -> list[tuple[int, int]]:
    """The (c1, c2) pairs a Part A model's `pair` setting stands for."""
    if pair == "a1":
        return [(part_a["c1"], part_a["c2"])]
    if pair == "grid":
        return grid_pairs(part_a)
    return [tuple(optimum)] if optimum is not None else []


# ---- every question ----------------------------------------------------------------


def entry_runs(part: str, settings: dict, config: dict, optimum=None, seed="{seed}") -> list[str]:
    """The run folders of one entry of a question for one seed (by default "{seed}" stays in the name);
    `config` is the part's. A Part A entry at the optimum has none while the optimum is unknown; a Part B
    entry without a padding, clip mode or pixel layout setting takes the study's (part_b.mask_padding, clip_mode,
    part_a.pixel_layout)."""
    if part == "part_a":
        # (a config from before a key, e.g. a publication's, has its default)
        extra = {"layout": config.get("pixel_layout", DEFAULT_LAYOUT)}
        extra |= {key: value for key, value in settings.items() if key != "pair"}
        return [part_a_run(c1, c2, **extra, seed=seed) for c1, c2 in _pairs(settings["pair"], config, optimum)]
    study_wide = {"padding": "masked" if config["mask_padding"] else "unmasked"}
    study_wide["clip_mode"] = config.get("clip_mode", DEFAULT_CLIP_MODE)
    return [part_b_run(**(study_wide | settings), seed=seed)]


def question_models(key: str, config: dict, optimum=None) -> list[tuple[questions.Entry, list[str]]]:
    """Each entry of a question with its runs' model names (no seed); `config` is the question's part's."""
    part = questions.QUESTIONS[key].part
    return [
        (entry, [model_name(run) for run in entry_runs(part, entry.settings, config, optimum)])
        for entry in questions.entries(key, config)
    ]


def needs_optimum(key: str, config: dict) -> bool:
    """Whether some of a question's runs are at A2's optimum (they wait for the grid)."""
    return any(entry.settings.get("pair") == "optimum" for entry in questions.entries(key, config))


def part_seeds(study: dict, part: str) -> list[int]:
    """The seeds of a part's runs: the part's own `seeds` where set, else the study's."""
    return study[part].get("seeds") or study["seeds"]


def question_runs(key: str, study: dict, optimum=None) -> list[str]:
    """Every run folder of a question, each once (all seeds)."""
    part = questions.QUESTIONS[key].part
    runs = [
        run
        for entry in questions.entries(key, study[part])
        for seed in part_seeds(study, part)
        for run in entry_runs(part, entry.settings, study[part], optimum, seed)
    ]
    return list(dict.fromkeys(runs))


def chosen_questions(study: dict) -> list[str]:
    """Config `questions` within the chosen parts; the accuracy-against-time figure goes with B5 and B6."""
    chosen = [key for key in study["questions"] if questions.QUESTIONS[key].part in study["parts"]]
    return chosen + (["b_accuracy_time"] if {"b5", "b6"} <= set(chosen) else [])


def training_runs(study: dict, optimum=None) -> list[str]:
    """Every run of the chosen questions, each once (A3's and A4's only with a known optimum)."""
    runs = [run for key in chosen_questions(study) for run in question_runs(key, study, optimum)]
    return list(dict.fromkeys(runs))


def study_runs(study: dict, workdir: Path = Path(".")) -> tuple[list[str], list[str]]:
    """(run folders of the chosen questions, names of runs not yet known: A3's variants wait for the grid)."""
    waits = "a3" in chosen_questions(study)  # A4 needs A3 (nnstudy.study.settings)
    optimum = pinned_or_chosen_optimum(study["part_a"], workdir) if waits else None
    pending = []
    if waits and optimum is None:
        for entry in questions.entries("a3", study["part_a"]):
            optimizer, dropout = entry.settings.get("optimizer", "sgd"), entry.settings.get("dropout", 0)
            pending.append(f"A3 {optimizer}{' + dropout' if dropout else ''}")
    return training_runs(study, optimum), pending
