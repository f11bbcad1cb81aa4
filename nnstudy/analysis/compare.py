"""Does one study reproduce another? Two studies' runs and verdicts side by side (`nnstudy compare`).

Each side is a study's results folder (tables/all_runs.csv, tables/verdicts.csv) or a publication
(all_runs.csv, verdicts.csv). A configuration is a run without its seed (plan.model_name), so the settings in
its name (channels, optimizer, dropout, layout, clip, padding) are the configuration itself. The settings that
decide its numbers without being in its name (SETTINGS: epochs, data sizes, precision …) are compared first: where
one differs, the row is *not comparable* and names it, and its numbers are not compared. Library versions, the
device and the training code are named as notes: what they change is run-to-run noise, which a reproduction allows.

Numbers compared: the max test accuracy, which the spec, the reference report and the verdicts compare. The
final epoch's is not: two builds of JAX put it up to 0.41 apart at one seed (a word GRU whose last epochs
collapse). The noise of one run, RUN_NOISE, is measured: docs/paper-results/first_publication_runs.csv holds
the first publication's runs, the same seed and settings as all_runs.csv's but another build of JAX; their max
test accuracies differ by 0.007 at the median and by 0.050 at most (TensorFlow's CNNs: by 1e-7). A configuration
present on both sides is

- *reproduced* when the candidate's mean lies within the reference's seed range widened by RUN_NOISE on each side
  (with one reference seed and several candidate ones: the reference within the candidate's range so widened;
  with one seed a side: a difference of at most RUN_NOISE);
- *differs* when it lies outside (one seed a side: the same seed, more than RUN_NOISE apart);
- *not resolved* with one seed a side, different seeds and more than RUN_NOISE apart: how far two seeds lie
  apart is measured on neither side, so too few seeds to say.

The difference is candidate − reference, of the means, with Welch's 95 % interval where both sides have two
seeds or more. A question's verdicts (verdicts.csv, paired by seed) hold when the candidate's is resolved the
same way; they are not comparable where settings differ in the question's part.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from nnstudy.analysis import formats, stats
from nnstudy.analysis import runs as study_runs
from nnstudy.errors import StudyError
from nnstudy.study import plan, questions

STATISTIC = "max_test_accuracy"
RUN_NOISE = 0.05
# Accuracies are float32 counts of test examples: 35 / 700 is recorded as 0.05000012, and is within 0.05.
SLACK = 1e-6
# Where each kind of folder keeps its tables: (all runs, verdicts).
LAYOUTS = {
    "study's results folder": ("tables/all_runs.csv", "tables/verdicts.csv"),
    "publication": ("all_runs.csv", "verdicts.csv"),
}
# Settings outside a run's name that decide its numbers (all_runs.csv's columns; those of Run.settings that it
# records). An older table without engine recorded the fit engine, the only one there was.
SETTINGS = ("epochs", "train_size", "test_size", "batch_size", "learning_rate", "momentum", "optimizer", "backend",
            "precision", "engine", "matmul_precision", "length", "vocabulary_size")  # fmt: skip
UNRECORDED = {"engine": "fit"}
# Named beside a row, never a reason not to compare it.
NOTED = (*(f"{key}_version" for key in study_runs.VERSION_KEYS), "device", "code_identity")
RUN_COLUMNS = ("run", "part", "seed", STATISTIC)
VERDICT_COLUMNS = ("question", "comparison", "statistic", "n", "difference", "resolved")

VERDICTS = REPRODUCED, DIFFERS, NOT_RESOLVED, NOT_COMPARABLE, ONLY_IN_ONE = (
    "reproduced", "differs", "not resolved", "not comparable", "only in one")  # fmt: skip
# Whether a reference verdict holds in the candidate (or is not comparable, or only in one).
HOLDS, REVERSED, UNRESOLVED, NO_VERDICT = "holds", "reversed", "not resolved", "no verdict"
OUTCOMES = (HOLDS, REVERSED, UNRESOLVED, NO_VERDICT, NOT_COMPARABLE, ONLY_IN_ONE)


@dataclass(frozen=True)
class Study:
    """One side: its folder, its runs (all_runs.csv) and its verdicts (None: a study without comparisons)."""

    folder: Path
    runs: pd.DataFrame
    verdicts: pd.DataFrame | None


def _read_table(path: Path, required) -> pd.DataFrame:
    """A CSV with `required` columns, each cell of them filled; a damaged one is named in one line."""
    try:
        with open(path, newline="", encoding="utf-8") as lines:  # pandas fills a row cut short with empty cells
            reader = csv.reader(lines)
            header = next(reader, [])
            short = next(((reader.line_num, len(row)) for row in reader if len(row) != len(header)), None)
        table = study_runs.integer_columns(pd.read_csv(path))
    except (OSError, ValueError, csv.Error) as err:  # a file that is not text, pandas' parser errors: ValueErrors
        raise StudyError(f"{path}: damaged table ({str(err).splitlines()[0]})") from None
    if short:
        line, fields = short
        raise StudyError(f"{path}: damaged table (line {line} has {fields} fields, its header {len(header)})")
    missing = [column for column in required if column not in table]
    if missing:
        raise StudyError(f"{path}: damaged table (no column {', '.join(missing)})")
    empty = np.flatnonzero(table[list(required)].isna().any(axis=1))
    if len(empty):  # a cell emptied
        columns = [column for column in required if pd.isna(table[column].iloc[empty[0]])]
        raise StudyError(f"{path}: damaged table (line {empty[0] + 2} has no {', '.join(columns)})")
    return table


def read_runs(path: Path) -> pd.DataFrame:
    """all_runs.csv, checked: every run once, with its part, seed and a max test accuracy between 0 and 1."""
    runs = _read_table(path, RUN_COLUMNS)
    accuracy = pd.to_numeric(runs[STATISTIC], errors="coerce")
    if not accuracy.between(0, 1).all():
        line = int(np.flatnonzero(~accuracy.between(0, 1))[0]) + 2
        raise StudyError(f"{path}: damaged table (line {line}: {STATISTIC} is not an accuracy)")
    twice = runs["run"][runs["run"].duplicated()]
    if len(twice):
        raise StudyError(f"{path}: damaged table (run {twice.iloc[0]} twice)")
    return runs.assign(**{STATISTIC: accuracy, "configuration": runs["run"].map(plan.model_name)})


def read_verdicts(path: Path) -> pd.DataFrame:
    """verdicts.csv's rows of the compared statistic, with numbers for differences and a boolean `resolved`."""
    table = _read_table(path, VERDICT_COLUMNS)
    table = table[table["statistic"] == STATISTIC].reset_index(drop=True)
    difference = pd.to_numeric(table["difference"], errors="coerce")  # "–": no seed on both sides
    resolved = table["resolved"].astype(str).str.lower().isin(["yes", "true"])
    return table.assign(difference=difference, resolved=resolved)


def read_study(folder) -> Study:
    """A study's results folder or a publication folder, its tables read and checked."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StudyError(f"{folder}: no such folder")
    for runs_name, verdicts_name in LAYOUTS.values():
        if (folder / runs_name).is_file():
            verdicts = folder / verdicts_name
            return Study(folder, read_runs(folder / runs_name), read_verdicts(verdicts) if verdicts.is_file() else None)
    kinds = "; ".join(f"a {kind} has {runs}" for kind, (runs, _) in LAYOUTS.items())
    raise StudyError(f"{folder}: no study's table of all runs there ({kinds})")


# ---- configurations ----------------------------------------------------------------------


def _shown(values: pd.Series, setting: str) -> str:
    """A side's values of one setting over its seeds, as a row names them: "250", "0.001", "fit", "10/20"."""
    shown = ["none" if pd.isna(v) else f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    if setting in UNRECORDED:
        shown = [UNRECORDED[setting] if text == "none" else text for text in shown]
    return "/".join(sorted(set(shown)))


def differences(reference: pd.DataFrame, candidate: pd.DataFrame, columns) -> list[str]:
    """How the two sides' runs of a configuration differ in `columns`: ["epochs 250 vs 2", …], reference first;
    a column one side lacks counts as unrecorded."""
    found = []
    for column in columns:
        ours, theirs = (
            _shown(side[column] if column in side else pd.Series([None] * len(side)), column)
            for side in (reference, candidate)
        )
        if ours != theirs:
            found.append(f"{column} {ours} vs {theirs}")
    return found


def _notes(reference: pd.DataFrame, candidate: pd.DataFrame) -> list[str]:
    """What differs without making a configuration incomparable: versions, device, code (where both record it)."""
    recorded = [side.columns[side.notna().all()] for side in (reference, candidate)]
    known = [column for column in NOTED if column in recorded[0] and column in recorded[1]]
    versions = [column for column in known if column != "code_identity"]
    notes = [note.replace("_version ", " ", 1) for note in differences(reference, candidate, versions)]
    if "code_identity" in known and differences(reference, candidate, ["code_identity"]):
        notes.append("training code differs (code identity)")
    return notes


def difference_interval(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """Welch's 95 % interval of mean(candidate) − mean(reference); NaN below two seeds on a side."""
    if len(reference) < 2 or len(candidate) < 2:
        return np.nan, np.nan
    sides = (candidate, reference)
    shares = np.array([side.var(ddof=1) / len(side) for side in sides])  # each mean's variance
    difference, error = candidate.mean() - reference.mean(), np.sqrt(shares.sum())
    if error == 0:  # every seed of both sides alike
        return difference, difference
    freedom = shares.sum() ** 2 / sum(share**2 / (len(side) - 1) for share, side in zip(shares, sides))  # Welch's
    half = scipy_stats.t.ppf((1 + stats.LEVEL) / 2, freedom) * error
    return difference - half, difference + half


def verdict(reference: pd.DataFrame, candidate: pd.DataFrame, noise: float) -> tuple[str, float, float]:
    """(verdict, low, high) of a configuration with the same settings on both sides: the range its other side's
    mean must lie in (NaN with one seed a side, where the difference itself is held to `noise`)."""
    ours, theirs = reference[STATISTIC].to_numpy(float), candidate[STATISTIC].to_numpy(float)
    noise += SLACK
    if len(ours) > 1 or len(theirs) > 1:
        spread, other = (ours, theirs) if len(ours) > 1 else (theirs, ours)
        low, high = spread.min() - noise, spread.max() + noise
        return (REPRODUCED if low <= other.mean() <= high else DIFFERS), low, high
    within = abs(theirs[0] - ours[0]) <= noise
    same_seed = reference["seed"].iloc[0] == candidate["seed"].iloc[0]
    return (REPRODUCED if within else DIFFERS if same_seed else NOT_RESOLVED), np.nan, np.nan


def _seeds(runs: pd.DataFrame) -> str:
    return " ".join(map(str, sorted(runs["seed"])))


def compare_configurations(reference: pd.DataFrame, candidate: pd.DataFrame, noise: float = RUN_NOISE):
    """One row per configuration of either side (sorted by part, then name): seeds, mean ± sd, the difference
    with its interval, the range the verdict used, the verdict, the settings that differ and notes."""
    rows = []
    configurations = pd.concat([reference, candidate])[["part", "configuration"]].drop_duplicates()
    for part, name in configurations.sort_values(["part", "configuration"]).itertuples(index=False):
        ours, theirs = (side[side["configuration"] == name] for side in (reference, candidate))
        row = {"configuration": name, "part": part}
        for side, runs in (("reference", ours), ("candidate", theirs)):
            found = stats.interval(runs[STATISTIC])
            row |= {f"{side}_seeds": _seeds(runs), f"{side}_mean": found["mean"], f"{side}_sd": found["sd"]}
        row |= dict.fromkeys(["difference", "ci_low", "ci_high", "accepted_low", "accepted_high"], np.nan)
        if not (len(ours) and len(theirs)):
            rows.append(row | {"verdict": ONLY_IN_ONE, "settings": "",
                               "notes": "only in the reference" if len(ours) else "only in the candidate"})  # fmt: skip
            continue
        settings, notes = differences(ours, theirs, SETTINGS), "; ".join(_notes(ours, theirs))
        if settings:
            rows.append(row | {"verdict": NOT_COMPARABLE, "settings": "; ".join(settings), "notes": notes})
            continue
        found, low, high = verdict(ours, theirs, noise)
        ci_low, ci_high = difference_interval(ours[STATISTIC].to_numpy(float), theirs[STATISTIC].to_numpy(float))
        row |= {"difference": row["candidate_mean"] - row["reference_mean"], "ci_low": ci_low, "ci_high": ci_high,
                "accepted_low": low, "accepted_high": high}  # fmt: skip
        rows.append(row | {"verdict": found, "settings": "", "notes": notes})
    return pd.DataFrame(rows)


# ---- questions ---------------------------------------------------------------------------


def _direction(a: float, b: float) -> str:
    if pd.isna(a) or pd.isna(b):  # a verdict without a seed on both sides has no difference
        return "no direction to compare"
    return "same direction" if np.sign(a) == np.sign(b) else "opposite direction"


def _outcome(ours: pd.Series, theirs: pd.Series) -> tuple[str, str]:
    """Whether the reference's verdict holds in the candidate, and a note on how."""
    direction = _direction(ours["difference"], theirs["difference"])
    if not ours["resolved"]:
        return NO_VERDICT, f"candidate {'resolved' if theirs['resolved'] else 'not resolved'}, {direction}"
    if theirs["resolved"]:
        return (HOLDS if direction == "same direction" else REVERSED), ""
    return UNRESOLVED, f"at n = {theirs['n']}, {direction}"


def compare_verdicts(reference: pd.DataFrame, candidate: pd.DataFrame, incomparable: dict[str, str]):
    """Per verdict of either side (the reference's first, in its order): both sides' differences, n and
    whether resolved, and whether the reference's holds (`incomparable`: {part: its settings that differ})."""
    rows = []
    keys = ["question", "comparison"]
    theirs_by_key = candidate.set_index(keys)
    for _, ours in reference.iterrows():
        key = (ours["question"], ours["comparison"])
        row = {"question": key[0], "comparison": key[1]}
        row |= {"reference_n": ours["n"], "reference_difference": ours["difference"],
                "reference_resolved": ours["resolved"]}  # fmt: skip
        part = questions.QUESTIONS[key[0]].part if key[0] in questions.QUESTIONS else None
        if key not in theirs_by_key.index:
            rows.append(row | {"outcome": ONLY_IN_ONE, "note": "only in the reference"})
            continue
        theirs = theirs_by_key.loc[key]
        row |= {"candidate_n": theirs["n"], "candidate_difference": theirs["difference"],
                "candidate_resolved": theirs["resolved"]}  # fmt: skip
        if part in incomparable:
            rows.append(row | {"outcome": NOT_COMPARABLE, "note": incomparable[part]})
        else:
            outcome, note = _outcome(ours, theirs)
            rows.append(row | {"outcome": outcome, "note": note})
    known = set(zip(reference["question"], reference["comparison"]))
    for _, theirs in candidate.iterrows():
        if (theirs["question"], theirs["comparison"]) not in known:
            rows.append({"question": theirs["question"], "comparison": theirs["comparison"],
                         "candidate_n": theirs["n"], "candidate_difference": theirs["difference"],
                         "candidate_resolved": theirs["resolved"], "outcome": ONLY_IN_ONE,
                         "note": "only in the candidate"})  # fmt: skip
    columns = ["question", "comparison", "reference_n", "reference_difference", "reference_resolved", "candidate_n",
               "candidate_difference", "candidate_resolved", "outcome", "note"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def incomparable_parts(configurations: pd.DataFrame) -> dict[str, str]:
    """{part (part_a, part_b): the settings that differ in its configurations} for the parts where some do."""
    found = {}
    for part, rows in configurations[configurations["verdict"] == NOT_COMPARABLE].groupby("part"):
        settings = [item for text in rows["settings"] for item in text.split("; ")]
        found[f"part_{part.lower()}"] = "; ".join(dict.fromkeys(settings))
    return found


@dataclass(frozen=True)
class Comparison:
    """The answer: per configuration, per verdict, and the noise band used."""

    reference: Study
    candidate: Study
    configurations: pd.DataFrame
    verdicts: pd.DataFrame | None  # None: neither side has verdicts
    noise: float


def compare(reference: Study, candidate: Study, noise: float = RUN_NOISE) -> Comparison:
    """The candidate study against the reference; two studies without a configuration in common stop it."""
    common = set(reference.runs["configuration"]) & set(candidate.runs["configuration"])
    if not common:
        raise StudyError(
            f"{reference.folder} and {candidate.folder} have no configuration in common: two different studies"
        )
    configurations = compare_configurations(reference.runs, candidate.runs, noise)
    sides = [study.verdicts for study in (reference, candidate)]
    found = None
    if any(side is not None for side in sides):
        empty = pd.DataFrame(columns=list(VERDICT_COLUMNS))
        ours, theirs = (empty if side is None else side for side in sides)
        found = compare_verdicts(ours, theirs, incomparable_parts(configurations))
    return Comparison(reference, candidate, configurations, found, noise)


def counts(verdicts: pd.Series, names) -> str:
    """How many rows have each of `names`, in that order, those with none left out: "20 reproduced, 1 differs"."""
    return ", ".join(f"{(verdicts == name).sum()} {name}" for name in names if (verdicts == name).any())


def band_sentence(noise: float) -> str:
    """The noise band a comparison allowed, and where it comes from."""
    source = (
        "the largest of 21 differences at one seed between two runs of one configuration, measured in "
        "docs/paper-results/first_publication_runs.csv"
        if noise == RUN_NOISE
        else f"set by --noise; the measured one is {formats.accuracy(RUN_NOISE, digits=3)}"
    )
    return f"Noise of one run: ±{formats.accuracy(noise, digits=3)} of max test accuracy ({source})."
