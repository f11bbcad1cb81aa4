"""The study's training runs: where each run's files live, and the runs of every question of
nnstudy.study.questions, resolved against the config.

rules/common.smk builds its targets and the results jobs' inputs from these, `nnstudy status` reads the
same list, and nnstudy.analysis picks a question's rows by the run names made here, so all always agree.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from nnstudy.study import questions

# A run folder is its model's name plus the seed; a question's rows are matched by model (nnstudy.analysis.runs).
# A setting whose default predates it is in the name only when not the default (finished runs keep their folders):
# Part A's pixel layout as the suffix "_layout-course", Part B's clip mode as "clip-global-norm-2" ("clip-2": value).
PART_A_MODEL = "c1-{c1}_c2-{c2}_{optimizer}_dropout-{dropout}{layout}"
PART_B_MODEL = "{level}-{architecture}_layers-{layers}_dropout-{dropout}_clip-{clip}_padding-{padding}"
PART_A_RUN = f"results/part_a/runs/{PART_A_MODEL}_seed-{{seed}}"
PART_B_RUN = f"results/part_b/runs/{PART_B_MODEL}_seed-{{seed}}"
OPTIMUM_FILE = "results/part_a/optimum.json"
DEFAULT_LAYOUT, DEFAULT_CLIP_MODE = "images", "value"
# What a wildcard's value may be: a folder-name part without "_", but the layout suffix (which may be empty).
WILDCARD_PATTERNS = {"layout": r"(?:_layout-[a-z]+)?"}
# Training and test examples of the spec's data (the course files): what no limit means.
FULL_DATA = {"part_a": (10_000, 2_000), "part_b": (5_600, 700)}


def number(value) -> str:
    """How a number appears in a path: 0.5 → "0.5", 0.0 → "0", 2.0 → "2"."""
    return f"{value:g}"


def part_a_run(c1, c2, optimizer="sgd", dropout=0.0, pixel_layout=DEFAULT_LAYOUT, *, seed) -> str:
    layout = "" if pixel_layout == DEFAULT_LAYOUT else f"_layout-{pixel_layout}"
    return PART_A_RUN.format(c1=c1, c2=c2, optimizer=optimizer, dropout=number(dropout), layout=layout, seed=seed)


def part_b_run(
    level,
    architecture,
    layers=1,
    dropout=0.0,
    clip_threshold=None,
    clip_mode=DEFAULT_CLIP_MODE,
    mask_padding=False,
    *,
    seed,
) -> str:
    masked = mask_padding and can_mask(level, architecture)
    clip = "none" if clip_threshold is None else clip_name(clip_mode, clip_threshold)
    return PART_B_RUN.format(
        level=level,
        architecture=architecture,
        layers=layers,
        dropout=number(dropout),
        clip=clip,
        padding="masked" if masked else "unmasked",
        seed=seed,
    )


def can_mask(level, architecture) -> bool:
    """Only word-level recurrent models have padding steps to mask (a char document fills its length)."""
    return level == "word" and architecture != "cnn"


def clip_name(mode: str, threshold) -> str:
    """A clip in a folder name: "2" (value clipping at 2), "norm-2", "global-norm-2"."""
    return number(threshold) if mode == DEFAULT_CLIP_MODE else f"{mode.replace('_', '-')}-{number(threshold)}"


def parse_clip(name: str) -> tuple[str | None, float | None]:
    """(clip mode, threshold) of a folder name's clip ("none": (None, None))."""
    if name == "none":
        return None, None
    mode, _, threshold = name.rpartition("-")
    return (mode.replace("-", "_") or DEFAULT_CLIP_MODE), float(threshold)


def run_wildcards(folder: str) -> dict[str, str]:
    """The wildcards of a run folder (PART_A_RUN or PART_B_RUN), "part" beside them."""
    for part, pattern in (("part_a", PART_A_RUN), ("part_b", PART_B_RUN)):
        regex = re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}")
        regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{WILDCARD_PATTERNS.get(m[1], '[^/_]+')})", regex)
        if match := re.fullmatch(regex, folder):
            return {"part": part, **match.groupdict()}
    raise ValueError(f"not a run folder: {folder}")


def model_name(folder: str) -> str:
    """A run's folder name without its seed: the model it trains."""
    return Path(folder).name.rsplit("_seed-", 1)[0]


# ---- one run ----------------------------------------------------------------------------

# The settings that decide a run's numbers, in the one vocabulary of run names (part_a_run, part_b_run), question
# settings, metrics.json and all_runs.csv. How a job runs (threads, checkpoints, GPU slots) is not among them.
NAMED = {
    "part_a": ("c1", "c2", "optimizer", "dropout", "pixel_layout"),
    "part_b": ("level", "architecture", "layers", "dropout", "clip_threshold", "clip_mode", "mask_padding"),
}
FROM_PART = ("epochs", "batch_size", "learning_rate", "train_limit", "test_limit")
FROM_TRAINING = ("backend", "precision", "deterministic", "engine", "matmul_precision")
CURVES = {"cost": "costs.png", "accuracy": "accuracies.png"}


@dataclass(frozen=True)
class Run:
    """One training run: its folder (results/part_a/runs/<model>_seed-<seed>), where its files live, and the
    settings that decide its numbers (its name's, its part's and the engine's)."""

    folder: str
    settings: dict = field(compare=False, hash=False)

    @property
    def part(self) -> str:
        return self.folder.split("/")[1]

    @property
    def name(self) -> str:
        return Path(self.folder).name

    @property
    def model(self) -> str:
        return model_name(self.folder)

    @property
    def seed(self) -> int:
        return self.settings["seed"]

    @property
    def metrics(self) -> str:
        return f"{self.folder}/metrics.json"

    @property
    def curves(self) -> dict[str, str]:
        return {plot: f"{self.folder}/{file}" for plot, file in CURVES.items()}

    @property
    def model_file(self) -> str:
        """The trained model (written beside the outputs: a run imported without its weights has none)."""
        return f"{self.folder}/model.keras"

    @property
    def log(self) -> str:
        return f"logs/{self.folder}.log"

    @property
    def benchmark(self) -> str:
        return f"benchmarks/{self.folder}.tsv"

    def state_dir(self, resume_dir: str) -> str:
        """Where its resume state lives: its folder mirrored under training.resume_dir."""
        return f"{resume_dir}/{self.folder}"

    @property
    def family(self) -> str:
        """Its model family (training.backend and precision may differ per family)."""
        return family(self.settings)

    @property
    def label(self) -> str:
        return run_label(self.settings)

    def changes(self, recorded: dict) -> list[str]:
        """How `recorded` (recorded_settings of its metrics.json) differs from its settings: "epochs 10 → 1000"."""
        return [
            f"{key} {_shown(recorded[key])} → {_shown(value)}"
            for key, value in self.settings.items()
            if key in recorded and recorded[key] != value
        ]


def _shown(value) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


SPEC_LEARNING_RATE = 0.001


def learning_rate(part_a: dict, optimizer: str) -> float:
    """part_a.learning_rate: one for every optimizer, or one per optimizer (one left out: the spec's)."""
    rate = part_a["learning_rate"]
    return rate.get(optimizer, SPEC_LEARNING_RATE) if isinstance(rate, dict) else rate


def family(settings: dict) -> str:
    if "c1" in settings:
        return "cifar_cnn"
    return "text_cnn" if settings["architecture"] == "cnn" else "text_rnn"


# What a family left out of a per-family training setting uses (the schema's defaults).
FAMILY_DEFAULTS = {"deterministic": True, "backend": "tensorflow", "precision": "float32"}


def family_setting(training: dict, key: str, family_name: str):
    """A training setting given for every model family, or per family (a family left out: FAMILY_DEFAULTS)."""
    value = training[key]
    return value.get(family_name, FAMILY_DEFAULTS[key]) if isinstance(value, dict) else value


def run(study: dict, folder: str) -> Run:
    """The run of a folder under the study's config."""
    found = run_wildcards(folder)
    part = found.pop("part")
    config, training = study[part], study["training"]
    if part == "part_a":
        settings = {"c1": int(found["c1"]), "c2": int(found["c2"]), "optimizer": found["optimizer"]}
        settings |= {"dropout": float(found["dropout"])}
        settings["pixel_layout"] = found["layout"].removeprefix("_layout-") or DEFAULT_LAYOUT
        settings["momentum"] = config["momentum"] if settings["optimizer"] == "momentum" else None
    else:
        clip_mode, clip_threshold = parse_clip(found["clip"])
        settings = {"level": found["level"], "architecture": found["architecture"], "layers": int(found["layers"])}
        settings |= {"dropout": float(found["dropout"]), "clip_threshold": clip_threshold, "clip_mode": clip_mode}
        settings |= {"mask_padding": found["padding"] == "masked", "optimizer": config["optimizer"]}
    settings |= {"seed": int(found["seed"])} | {key: config[key] for key in FROM_PART}
    if part == "part_a":
        settings["learning_rate"] = learning_rate(config, settings["optimizer"])
    for key in ("deterministic", "backend", "precision"):
        settings[key] = family_setting(training, key, family(settings))
    scan = part == "part_a" and training["engine"] == "scan"
    settings["engine"] = "scan" if scan else "fit"
    settings["matmul_precision"] = training["matmul_precision"] if scan else None
    return Run(folder, settings)


def recorded_settings(document: dict) -> dict:
    """The settings a metrics.json says its run was made with, in Run.settings' vocabulary. Documents written
    before they recorded them have their hyper-parameters instead: the same names, sizes for limits (the full
    data means none), and no record of `deterministic` or the requested matmul precision (not compared)."""
    if "settings" in document:
        return document["settings"]
    hyperparameters = document["hyperparameters"]
    part = "part_a" if document["part"] == "A" else "part_b"
    found = {key: hyperparameters[key] for key in (*NAMED[part], *FROM_PART) if key in hyperparameters}
    found |= {
        key: hyperparameters[key] for key in ("momentum", "optimizer", "backend", "precision") if key in hyperparameters
    }
    full_train, full_test = FULL_DATA[part]
    found["train_limit"] = None if hyperparameters["train_size"] == full_train else hyperparameters["train_size"]
    found["test_limit"] = None if hyperparameters["test_size"] == full_test else hyperparameters["test_size"]
    if part == "part_a":
        found.setdefault("pixel_layout", DEFAULT_LAYOUT)
    found["engine"] = hyperparameters.get("engine", "fit")
    return found | {"seed": document["seed"]}


def changes_of(run: Run, workdir: Path = Path(".")) -> list[str]:
    """How the settings its metrics.json records differ from the run's (none: not finished, damaged, or the same)."""
    path = Path(workdir) / run.metrics
    try:
        modified = path.stat().st_mtime_ns
    except OSError:
        return []
    recorded = _recorded(str(path), modified)
    return [] if recorded is None else run.changes(recorded)


@functools.lru_cache(maxsize=4096)
def _recorded(path: str, modified: int) -> dict | None:
    """recorded_settings of a metrics.json, read once per version of the file."""
    try:
        return recorded_settings(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def settings_notes(study: dict, workdir: Path = Path(".")) -> list[str]:
    """One line on the study's finished runs whose metrics.json records other settings than the config's."""
    folders, _ = study_runs(study, workdir)
    changed = {folder: changes_of(run(study, folder), workdir) for folder in folders}
    changed = {folder: changes for folder, changes in changed.items() if changes}
    if not changed:
        return []
    folder, changes = next(iter(changed.items()))
    return [
        f"note: {len(changed)} finished run{'s were' if len(changed) > 1 else ' was'} trained with other settings "
        f"than this config's (e.g. {folder}: {', '.join(changes)}); snakemake trains "
        f"{'them' if len(changed) > 1 else 'it'} again, and no table or report is built from "
        f"{'them' if len(changed) > 1 else 'it'} until then"
    ]


def changes_file(run: Run, resume_dir: str) -> str:
    """What the settings_changed rule writes for a run to train again (rules/training.smk)."""
    return f"{resume_dir}/changes/{run.folder}.json"


def run_label(settings: dict) -> str:
    """How logs, metrics.json and plots name a run: "CNN (50, 60), sgd", "word GRU, dropout 0.5"."""
    dropout = f", dropout {settings['dropout']}" if settings["dropout"] else ""
    if "c1" in settings:
        layout = settings.get("pixel_layout", DEFAULT_LAYOUT)
        layout = "" if layout == DEFAULT_LAYOUT else f", {layout} pixel layout"
        return f"CNN ({settings['c1']}, {settings['c2']}), {settings['optimizer']}{dropout}{layout}"
    layers = f", {settings['layers']} layers" if settings["layers"] > 1 else ""
    clip = f", clip {settings['clip_mode']} {settings['clip_threshold']}" if settings["clip_threshold"] else ""
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
    `config` is the part's. A Part A entry at the optimum has none while the optimum is unknown; an entry
    without a pixel layout, clip mode or padding setting takes the study's (part_a.pixel_layout,
    part_b.clip_mode, part_b.mask_padding; a config from before a key, e.g. a publication's, its default)."""
    if part == "part_a":
        named = {"pixel_layout": config.get("pixel_layout", DEFAULT_LAYOUT)}
        named |= {key: value for key, value in settings.items() if key != "pair"}
        return [part_a_run(c1, c2, **named, seed=seed) for c1, c2 in _pairs(settings["pair"], config, optimum)]
    named = {"mask_padding": config["mask_padding"], "clip_mode": config.get("clip_mode", DEFAULT_CLIP_MODE)}
    return [part_b_run(**(named | settings), seed=seed)]


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
