"""Seed-aware statistics: how sure each published number and difference is.

A run's max test accuracy is one seed's, and the best of every epoch's look at
the test set, so it is optimistic: choosing the epoch on the test set picks up
noise, and on 700 test documents one accuracy's binomial standard error alone
is about ±0.017. With several seeds (`seeds: [1, 2, 3]`) this module gives:

- per configuration, mean, sd and a 95 % Student-t interval over seeds of the
  max, final-epoch and mean test accuracy (`seed_statistics`), and a sentence on
  how optimistic the max is (`optimism_sentence`);
- a verdict for every comparison the spec asks about (questions.COMPARISONS):
  the two sides' runs paired by seed, the mean difference with its paired-t
  interval, in how many seeds it points the same way, and a paired t-test,
  Holm-corrected within each question (`verdicts`);
- for the reference comparison, whether the reference value lies inside our
  seeds' range and interval, and so whether a difference needs explaining
  (`reference_uncertainty`, `to_explain`);
- every run's per-epoch history as one tidy table (`histories_frame`).

Why pairing and a t-test: runs with the same seed see the same batch order in
every epoch (drawn from seed and epoch) and the same test set, so a − b per
seed removes their shared luck. At n = 3 no rank test can decide anything:
the sign test's and Wilcoxon's smallest two-sided p is 2 / 2³ = 0.25. The
paired t-test can, but with 2 degrees of freedom (t must pass 4.30; after Holm
over B5's six comparisons, 10.9 for the smallest p) and on the unverifiable
assumption of normal differences, so read its verdict with the interval and the
k / n seeds beside it; an effect that is consistent but not resolved needs more
seeds (the sign test reaches 0.05 from n = 6). A2's best pair against the
runner-up is chosen on the same runs it is tested on, so that p is optimistic.

Verdicts compare max test accuracy by default, the number the spec and the
reference report compare, and also the final epoch's, which is not chosen on
the test set. "Resolved" means Holm-corrected p < 0.05; the sentence's
interval is the plain 95 % one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from nnstudy.analysis import formats
from nnstudy.errors import StudyError
from nnstudy.study import plan, questions

ACCURACIES = ("max_test_accuracy", "final_test_accuracy", "mean_test_accuracy")
VERDICT_STATISTICS = ("max_test_accuracy", "final_test_accuracy")
LEVEL, ALPHA = 0.95, 0.05
# |ours − reference| up to this needs no explanation (nnstudy.commands.publish's rule).
EXPLAIN_ABOVE = 0.03
SUFFIX = {"max_test_accuracy": "", "final_test_accuracy": " (final epoch)", "mean_test_accuracy": " (mean)"}
VERDICT_COLUMNS = [
    "question", "comparison", "statistic", "n", "difference", "ci_low", "ci_high", "k", "p", "p_holm",
    "resolved", "unpaired", "sentence",
]  # fmt: skip


def interval(values) -> dict:
    """n, mean, sd and the 95 % Student-t interval of the mean, and the range,
    of the values that are not NaN; with one value sd and interval are NaN."""
    values = np.asarray(pd.Series(values, dtype=float).dropna())
    n = len(values)
    mean = values.mean() if n else np.nan
    sd = values.std(ddof=1) if n > 1 else np.nan
    half = scipy_stats.t.ppf((1 + LEVEL) / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
    low, high = (values.min(), values.max()) if n else (np.nan, np.nan)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "low": low, "high": high}


def seed_statistics(runs: pd.DataFrame, by: list[str], values=ACCURACIES) -> pd.DataFrame:
    """One row per configuration (`by` group, in first-seen order) and statistic:
    `interval` over its seeds, the range as low / high."""
    rows = []
    for names, group in runs.groupby(by, sort=False, dropna=False):
        names = dict(zip(by, names if isinstance(names, tuple) else (names,)))
        rows += [names | {"statistic": value} | interval(group[value]) for value in values]
    numbers = ["mean", "sd", "ci_low", "ci_high", "low", "high"]
    return pd.DataFrame(rows, columns=[*by, "statistic", "n", *numbers]).astype(dict.fromkeys(numbers, float))


def optimism(runs: pd.DataFrame) -> dict:
    """How far each run's max over epochs lies above its final epoch: mean and
    largest gap (with the run's name), runs, epochs and one accuracy's binomial
    standard error at the mean max on the test set's size."""
    gap = runs["max_test_accuracy"] - runs["final_test_accuracy"]
    names = runs.get("name", runs.get("label", runs["run"]))  # a question's names, else all_runs.csv's
    accuracy, documents = runs["max_test_accuracy"].mean(), runs["test_size"].max()
    return {
        "runs": len(runs),
        "epochs": int(runs["epochs_run"].max()),
        "mean_gap": float(gap.mean()),
        "largest_gap": float(gap.max()),
        "largest_run": str(names[gap.idxmax()]),
        "test_size": int(documents),
        "standard_error": float(np.sqrt(accuracy * (1 - accuracy) / documents)),
    }


def optimism_sentence(runs: pd.DataFrame, digits: int = formats.DIGITS, items: str = "test documents") -> str:
    """Why the max over epochs is optimistic, with this frame's numbers (`items`: what the test set holds)."""
    o = optimism(runs)
    return (
        f"The max test accuracy is the best of {o['epochs']} epochs chosen on the test set itself, so it "
        f"is optimistic: over these {o['runs']} runs it lies {o['mean_gap']:.{digits}f} above the final "
        f"epoch's on average (most: {o['largest_gap']:.{digits}f}, {o['largest_run']}), where one accuracy "
        f"on {o['test_size']} {items} has a binomial standard error of about ±{o['standard_error']:.{digits}f}."
    )


def paired(a: pd.Series, b: pd.Series) -> dict:
    """a − b over the seeds both have (Series indexed by seed): n, mean
    difference, its paired-t interval, k (seeds whose difference has the
    mean's sign) and the two-sided paired t-test's p (NaN below two seeds)."""
    seeds = [seed for seed in a.index if seed in b.index]
    differences = (a.loc[seeds] - b.loc[seeds]).to_numpy(float)
    found = interval(differences)
    n, mean, sd = found["n"], found["mean"], found["sd"]
    sign = 1 if not n or mean >= 0 else -1
    if n < 2:
        p = np.nan
    elif sd == 0:  # every seed the same difference: no spread to test against
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(2 * scipy_stats.t.sf(abs(mean) / (sd / np.sqrt(n)), n - 1))
    k = int((differences * sign > 0).sum())
    return {"n": n, "difference": mean, "ci_low": found["ci_low"], "ci_high": found["ci_high"], "k": k, "p": p}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN, not counted): the
    i-th smallest of m is multiplied by m − i + 1, kept monotone, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    steps = p[order] * (len(order) - np.arange(len(order)))
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


def ranked(runs: pd.DataFrame) -> dict[int, dict]:
    """A2's pairs by place, {1: {"c1", "c2"}, …}: mean max test accuracy over
    seeds, then mean accuracy, then the smaller pair (fewer parameters); place
    1 is the pair A2 chooses (nnstudy.analysis.tables.best_pair)."""
    means = runs.groupby(["c1", "c2"])[["max_test_accuracy", "mean_test_accuracy"]].mean().reset_index()
    means = means.sort_values(
        ["max_test_accuracy", "mean_test_accuracy", "c1", "c2"], ascending=[False, False, True, True], kind="stable"
    )
    return {place: {"c1": row.c1, "c2": row.c2} for place, row in enumerate(means.itertuples(), start=1)}


def _side(runs: pd.DataFrame, names: dict, places: dict) -> tuple[pd.DataFrame, str]:
    """A comparison side's rows (none for a place A2 lacks) and how the verdict names it."""
    if questions.RANK in names:
        if names[questions.RANK] not in places:
            return runs.iloc[:0], ""
        names = places[names[questions.RANK]]
        return _side(runs, names, places)[0], f"({names['c1']}, {names['c2']})"
    return named(runs, names), ", ".join(map(str, names.values()))


def named(frame: pd.DataFrame, names: dict) -> pd.DataFrame:
    """The rows of a frame with these values in these columns (a comparison side's names)."""
    return frame[np.logical_and.reduce([frame[column] == value for column, value in names.items()])]


def _sentence(comparison, found: dict, labels: tuple[str, str], statistic: str, digits: int) -> str:
    """The verdict in words; the interval is that of the change the verb names."""
    n, d = found["n"], found["difference"]
    if n == 0:
        text = "no seed on both sides: no verdict possible"
    elif n == 1:
        text = f"one seed: no verdict possible (difference {d:+.{digits}f})"
    else:
        verb = comparison.verbs[0] if d >= 0 else comparison.verbs[1]
        low, high = (found["ci_low"], found["ci_high"]) if d >= 0 else (-found["ci_high"], -found["ci_low"])
        what = comparison.says.format(verb=verb, a=labels[0], b=labels[1])
        head = "resolved" if found["resolved"] else f"not resolved at n = {n}"
        text = f"{head}: {what} by {abs(d):.{digits}f} [{low:.{digits}f}, {high:.{digits}f}], {found['k']}/{n} seeds"
        text += SUFFIX[statistic]
    return text + (f"; left out: {found['unpaired']}" if found["unpaired"] else "")


def verdicts(key: str, runs: pd.DataFrame, statistics=VERDICT_STATISTICS, digits: int = formats.DIGITS) -> pd.DataFrame:
    """The verdicts of one question's comparisons (questions.COMPARISONS) on
    its rows (runs.question_runs), one row per comparison and statistic, Holm
    within the question and statistic. A comparison with a side without runs
    (an A3 optimizer not in part_a.optimizers) is left out; seeds on one side
    only are left out of the pairing and named in `unpaired`."""
    places = ranked(runs) if key == "a2" and len(runs) else {}
    rows, said = [], []
    for comparison in (c for c in questions.COMPARISONS if c.question == key):
        (a, a_label), (b, b_label) = (_side(runs, side, places) for side in (comparison.a, comparison.b))
        if a.empty or b.empty:
            continue
        for side, label in ((a, a_label), (b, b_label)):
            if side["seed"].duplicated().any():
                raise StudyError(f"{key}: {label} has two runs of one seed: {sorted(side['run'])}")
        only = sorted(set(a["seed"]) ^ set(b["seed"]))
        unpaired = ", ".join(f"seed {s} only in {a_label if s in set(a['seed']) else b_label}" for s in only)
        for statistic in statistics:
            found = paired(a.set_index("seed")[statistic], b.set_index("seed")[statistic])
            rows.append({"question": key, "comparison": f"{a_label} − {b_label}", "statistic": statistic} | found)
            rows[-1]["unpaired"] = unpaired
            said.append((comparison, (a_label, b_label)))
    frame = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    frame["p_holm"] = frame.groupby("statistic", sort=False)["p"].transform(holm) if rows else []
    frame["resolved"] = frame["p_holm"] < ALPHA
    records = frame.to_dict("records")
    frame["sentence"] = [
        _sentence(comparison, row, labels, row["statistic"], digits) + _never_clipped(runs, comparison, places)
        for row, (comparison, labels) in zip(records, said)
    ]
    return frame


def _never_clipped(runs: pd.DataFrame, comparison, places) -> str:
    """What a verdict adds when its clipped side's clip acted on no update in any seed: no clipping result."""
    side, _ = _side(runs, comparison.a, places)
    if "clip_rate" not in side or side["clip_threshold"].isna().all() or not (side["clip_rate"] == 0).all():
        return ""
    return " (but the clip never acted: its runs trained as unclipped ones, so this is no clipping result)"


def to_explain(difference, reference, low, high, seeds, band: float = EXPLAIN_ABOVE) -> bool:
    """Whether ours − reference needs a written explanation: beyond the band
    and, with two or more seeds, the reference outside our seeds' range."""
    if pd.isna(difference) or pd.isna(reference):
        return False
    beyond = abs(difference) > band
    return bool(beyond if seeds < 2 else beyond and not low <= reference <= high)


def reference_uncertainty(comparison: pd.DataFrame, runs: pd.DataFrame, key: str, band=EXPLAIN_ABOVE):
    """reference.reference_comparison's table with, per accuracy it compares,
    our seeds' range (range_low_ / range_high_) and 95 % interval (ci_low_ /
    ci_high_), whether the reference lies inside each (in_range_, in_ci_: NA
    where undefined) and whether the difference is to be explained (explain_)."""
    keys = questions.QUESTIONS[key].keys
    compared = [v for v in ACCURACIES if f"reference_{v}" in comparison]
    spread = seed_statistics(runs, keys, compared)
    table = comparison.copy()
    for value in compared:
        ours = spread[spread["statistic"] == value].drop(columns=["statistic", "n", "mean", "sd"])
        ours = ours.rename(columns={c: f"{c}_{value}" for c in ("ci_low", "ci_high")} | {
            "low": f"range_low_{value}", "high": f"range_high_{value}"})  # fmt: skip
        table = table.merge(ours, on=keys, how="left", sort=False)
        theirs = table[f"reference_{value}"]
        for name, low, high, least in (("range", "range_low", "range_high", 1), ("ci", "ci_low", "ci_high", 2)):
            inside = (table[f"{low}_{value}"] <= theirs) & (theirs <= table[f"{high}_{value}"])
            table[f"in_{name}_{value}"] = inside.astype("boolean").where((table["seeds"] >= least) & theirs.notna())
        table[f"explain_{value}"] = [
            to_explain(row[f"difference_{value}"], row[f"reference_{value}"], row[f"range_low_{value}"],
                       row[f"range_high_{value}"], row["seeds"], band)
            for _, row in table.iterrows()
        ]  # fmt: skip
    return table


# ---- per-epoch histories (results/tables/histories.csv or .csv.gz) -------------------

HISTORY_COLUMNS = ["run", "part", "seed", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                   "seconds"]  # fmt: skip
# Above this many epochs the table is gzipped (about 140 bytes an epoch, so
# 1.4 MB plain; a third of that gzipped): the paper study's 34,000 epochs (Part
# A's 29 runs of 1000) are 5 MB as CSV, too large to diff or publish plain. The
# rule counts planned epochs, so a Snakemake rule can name its output up front.
GZIP_ABOVE_ROWS = 10_000


def histories_frame(documents: dict[str, dict]) -> pd.DataFrame:
    """Every epoch of every run (runs.read_documents), one row each, sorted
    like all_runs.csv (part, run) and by epoch."""
    parts = [
        pd.DataFrame(document["history"]).assign(run=document["run"], part=document["part"], seed=document["seed"])
        for document in documents.values()
    ]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    frame = frame.reindex(columns=HISTORY_COLUMNS)
    return frame.sort_values(["part", "run", "epoch"], kind="stable").reset_index(drop=True)


def planned_rows(study: dict) -> int:
    """How many epochs the study's runs will record: the histories table's
    length, known before any run: an A3 pair not pinned is one of the grid's,
    and which one changes no count."""
    part_a = study["part_a"] if "part_a" in study["parts"] else None
    optimum = (tuple(part_a["optimum"]) if part_a["optimum"] else plan.grid_pairs(part_a)[0]) if part_a else None
    runs = plan.training_runs(study, optimum)
    return sum(study[plan.run_wildcards(run)["part"]]["epochs"] for run in runs)


def histories_name(rows: int) -> str:
    """histories.csv, or histories.csv.gz above GZIP_ABOVE_ROWS epochs."""
    return "histories.csv.gz" if rows > GZIP_ABOVE_ROWS else "histories.csv"


def write_histories(frame: pd.DataFrame, path) -> None:
    """The histories as CSV, gzipped when the name ends in .gz (without a time
    stamp, so the same histories give the same bytes); pd.read_csv reads either."""
    gzip = {"method": "gzip", "mtime": 0} if str(path).endswith(".gz") else None
    frame.to_csv(path, index=False, compression=gzip)
