"""What a study covers, in words: the spec's parts and questions it runs and
those it leaves out (and why), and what its preset means for its numbers.

A study may run part of the spec (config `parts`, `questions`); the report
says so, naming the questions as the spec numbers them. Why something is
left out comes from the study's notes (explanations.yaml, key "not run:
part_a"), else from the config key that leaves it out.
"""

from __future__ import annotations

import math

import pandas as pd

from nnstudy.analysis import reference, stats
from nnstudy.data import text
from nnstudy.study import plan, questions

PARTS = {"part_a": "Part A: object recognition on CIFAR-10", "part_b": "Part B: text classification"}
# The questions config `questions` chooses from, as the spec numbers them: B5's
# runs are B1–B4, so choosing B5 answers B1–B5.
SPANS = {
    "a1": ("A", 1, 1),
    "a2": ("A", 2, 2),
    "a3": ("A", 3, 3),
    "a4": ("A", 4, 4),
    "b5": ("B", 1, 5),
    "b6": ("B", 6, 6),
}
NAMES = {"masking": "the masking ablation", "layout": "the pixel layout ablation", "clipping": "the clipping ablation"}
NOT_RUN = "not run: {}"  # the notes' key of why a part is left out
CHANCE = {"part_a": 0.1, "part_b": 1 / text.NUM_CLASSES}
# A run whose best epoch stays below twice chance level learnt little beyond guessing
# (quick Part A's SGD runs: 0.11–0.17 for 10 classes).
NEAR_CHANCE = 2
OPTIMIZERS = {"sgd": "SGD", "momentum": "SGD + momentum", "rmsprop": "RMSProp", "adam": "Adam"}


def join(words) -> str:
    """["a"] → "a", ["a", "b", "c"] → "a, b and c"."""
    words = list(words)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def names(keys) -> str:
    """Questions as the spec numbers them, runs of numbers joined: [a2, a3, a4] →
    "A2–A4", [b5, b6, masking] → "B1–B6 and the masking ablation"."""
    spans = []
    for key in keys:
        if key not in SPANS:
            spans.append(NAMES[key])
            continue
        letter, first, last = SPANS[key]
        if spans and isinstance(spans[-1], list) and spans[-1][0] == letter and spans[-1][2] + 1 == first:
            spans[-1][2] = last
        else:
            spans.append([letter, first, last])
    return join(s if isinstance(s, str) else f"{s[0]}{s[1]}" + (f"–{s[0]}{s[2]}" if s[2] > s[1] else "") for s in spans)


def _sentence(note: str) -> str:
    note = note.strip()
    return note if note.endswith((".", "!", "?")) else note + "."


def coverage(config: dict, notes: dict | None = None) -> list[dict]:
    """Per part of the spec, in its order: its id and title, the questions the
    study runs of it ("run", names or ""), and a sentence saying what it
    covers and, for what it leaves out, why ("sentence"; "rest": the same
    after the title)."""
    notes = notes or {}
    found = []
    for part, title in PARTS.items():
        keys = [key for key in (*SPANS, *NAMES) if questions.QUESTIONS[key].part == part]
        run = [key for key in keys if part in config["parts"] and key in config["questions"]]
        missing = [key for key in keys if key not in run and key in SPANS]  # the ablations are extras
        left = names(missing)
        several = "–" in left or " and " in left
        key = "parts" if part not in config["parts"] else "questions"
        what = "them" if several and key == "questions" else "it"
        why = f"the study's config leaves {what} out ({key}: [{', '.join(config[key])}])"
        why = _sentence(notes.get(NOT_RUN.format(part)) or why)
        if not run:
            rest = f" ({names(missing)}) is not in this study: {why}"
        elif missing:
            rest = f": {names(run)}. {left} {'are' if several else 'is'} not in this study: {why}"
        else:
            rest = f": {names(run)}, all of its questions."
        found.append({"part": part, "id": part.replace("_", "-"), "title": title, "run": names(run), "rest": rest,
                      "sentence": title + rest})  # fmt: skip
    return found


def preset(config: dict, runs: pd.DataFrame) -> list[str]:
    """What the settings mean for the numbers: the settings of each part run, against the spec's; where they
    are not the spec's (a shortened preset, or epochs changed under `paper`), that the numbers say little about
    the models, and which runs stayed at chance because of it."""
    said = []
    for part, rows in _part_rows(config, runs):
        spec, letter = reference.SPEC[part], part[-1].upper()
        epochs, train, test = _scale(rows)
        sizes = f"{train:,} training and {test:,} test {spec['items']}"
        if _part_at_spec(part, rows, config[part]):
            said.append(f"Part {letter}: the spec's settings, {epochs} epochs on {sizes}.")
            continue
        spec_sizes = f"{spec['train']:,} and {spec['test']:,}"
        said.append(
            f"Part {letter}: {epochs} epochs (the spec: {spec['epochs']}) on {sizes} (the spec: {spec_sizes})"
            + "".join(f", {change}" for change in _training_changes(part, config[part]))
            + "."
        )
        said += _at_chance(part, rows, config[part])
    if not at_spec(config, runs):
        said.append(
            "These are not the spec's settings: the numbers are a short run's, not what the models reach, and "
            "their distances from the reference's say little about the models."
        )
    return said


def at_spec(config: dict, runs: pd.DataFrame) -> bool:
    """Whether every part the study ran trained at the spec's length, data, grid, batch and learning rate."""
    return all(_part_at_spec(part, rows, config[part]) for part, rows in _part_rows(config, runs))


def _part_rows(config: dict, runs: pd.DataFrame):
    for part in config["parts"]:
        rows = runs[runs["part"] == part[-1].upper()]
        if not rows.empty:
            yield part, rows


def _scale(rows: pd.DataFrame) -> tuple[int, int, int]:
    return tuple(int(rows[column].max()) for column in ("epochs", "train_size", "test_size"))


def _part_at_spec(part: str, rows: pd.DataFrame, settings: dict) -> bool:
    spec = reference.SPEC[part]
    scale = (spec["epochs"], spec["train"], spec["test"])
    return _scale(rows) == scale and not _training_changes(part, settings)


def _training_changes(part: str, settings: dict) -> list[str]:
    """A preset's grid, batch size and learning rate where they are not the spec's."""
    spec, changes = reference.SPEC[part], []
    if part == "part_a" and settings["grid"] != spec["grid"]:
        shapes = [" × ".join(str(len(grid[key])) for key in ("c1", "c2")) for grid in (settings["grid"], spec["grid"])]
        changes.append(f"A2's grid of {shapes[0]} pairs (the spec: {shapes[1]})")
    if settings["batch_size"] != spec["batch_size"]:
        changes.append(f"batches of {settings['batch_size']} (the spec: {spec['batch_size']})")
    rates = _rates(part, settings)
    if rates != f"{spec['learning_rate']:g}":
        changes.append(f"learning rate {rates} (the spec: {spec['learning_rate']:g})")
    return changes


def _rates(part: str, settings: dict) -> str:
    return learning_rates(settings) if part == "part_a" else f"{settings['learning_rate']:g}"


def learning_rates(part_a: dict) -> str:
    """Part A's learning rate as a sentence shows it: "0.001", or "0.02 (SGD, SGD + momentum), 0.001 (Adam)"."""
    if not isinstance(part_a["learning_rate"], dict):
        return f"{part_a['learning_rate']:g}"
    by_rate = {}
    for optimizer, label in OPTIMIZERS.items():
        by_rate.setdefault(plan.learning_rate(part_a, optimizer), []).append(label)
    return ", ".join(f"{rate:g} ({', '.join(labels)})" for rate, labels in by_rate.items())


def _at_chance(part: str, rows: pd.DataFrame, settings: dict) -> list[str]:
    """A sentence on the runs that stayed near chance, by optimizer (Part A) or model (Part B)."""
    chance = CHANCE[part]
    stuck = rows[rows["max_test_accuracy"] < NEAR_CHANCE * chance]
    if stuck.empty:
        return []
    if part == "part_a":
        kind = rows["optimizer"].map(OPTIMIZERS) + rows["dropout"].gt(0).map({True: " + dropout", False: ""})
    else:
        kind = rows["label"] + rows["mask_padding"].astype(bool).map({True: ", masked", False: ""})
    groups = []
    for name in dict.fromkeys(kind[stuck.index]):
        count, total = int((kind[stuck.index] == name).sum()), int((kind == name).sum())
        groups.append(f"{'every' if count == total else f'{count} of {total}'} {name} run{'s' * (count < total)}")
    spec = reference.SPEC[part]
    batches = math.ceil(rows["train_size"].max() / settings["batch_size"])
    spec_batches = math.ceil(spec["train"] / settings["batch_size"])
    low, high = stuck["max_test_accuracy"].min(), stuck["max_test_accuracy"].max()
    return [
        f"{len(stuck)} of {len(rows)} Part {part[-1].upper()} runs stay near chance (max test accuracy "
        f"{low:.2f}–{high:.2f}; chance is {chance:.2f}): {join(groups)}. Each made "
        f"{settings['epochs'] * batches:,} updates ({settings['epochs']} epochs of {batches} batches) at learning "
        f"rate {_rates(part, settings)}, where the spec's settings make {spec['epochs'] * spec_batches:,}."
    ]


def findings(comparisons: dict[str, pd.DataFrame], digits: int = 3) -> list[dict]:
    """The reference's findings that a shortened study can point to: each comparison the spec asks about whose
    two sides the reference reports with a difference (A4, B5, B6), in the reference's words ("dropout lowers
    Word CNN"), with the reference's difference of max test accuracy, this study's (its seeds' means) and
    whether the two point the same way ("reproduced")."""
    found = []
    for comparison in questions.COMPARISONS:
        frame = comparisons.get(comparison.question)
        if frame is None:
            continue
        sides = [_reference_row(frame, names) for names in (comparison.a, comparison.b)]
        if any(side is None for side in sides):
            continue
        theirs = sides[0]["reference_max_test_accuracy"] - sides[1]["reference_max_test_accuracy"]
        if round(theirs, digits) == 0:  # no direction to reproduce
            continue
        ours = sides[0]["max_test_accuracy"] - sides[1]["max_test_accuracy"]
        seeds = int(min(side["seeds"] for side in sides))
        verb = comparison.verbs[0] if theirs >= 0 else comparison.verbs[1]
        found.append({
            "says": comparison.says.format(verb=verb),
            "reproduced": bool(theirs * ours > 0),
            "numbers": f"the reference {theirs:+.{digits}f}, here {ours:+.{digits}f} "
                       f"({seeds} seed{'s' * (seeds != 1)})",
        })  # fmt: skip
    return found


def _reference_row(frame: pd.DataFrame, names: dict) -> pd.Series | None:
    """The row of a reference comparison with these names, where both numbers are known."""
    if not set(names) <= set(frame.columns):
        return None
    rows = stats.named(frame, names).dropna(subset=["reference_max_test_accuracy", "max_test_accuracy"])
    return rows.iloc[0] if len(rows) == 1 and rows.iloc[0]["seeds"] > 0 else None
