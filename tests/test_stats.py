"""Seed-aware statistics (nnstudy/analysis/stats.py) on generated runs with known values: metrics
documents as the training jobs write them, whose histories give each run a chosen max and final
test accuracy, read into the all_runs.csv frame and named by question as the table jobs do."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from generated_study import CONFIG
from scipy import stats as scipy_stats

from nnstudy import metrics
from nnstudy.analysis import reference, stats, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.report import readme
from nnstudy.study import plan, questions

T_2 = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom (printed tables: 4.303)
T_1 = 12.706204736174707  # the same with 1 degree of freedom (12.706)
FINAL_BELOW = 0.02  # every run's final epoch lies this far under its best
PART_B = CONFIG["part_b"]
# B5's max test accuracy at seeds 1, 2, 3.
B5 = {
    ("Char CNN", "without dropout"): [0.690, 0.700, 0.680],
    ("Char CNN", "with dropout"): [0.710, 0.690, 0.700],  # +0.020, −0.010, +0.020: not resolved
    ("Word CNN", "without dropout"): [0.870, 0.880, 0.875],
    ("Word CNN", "with dropout"): [0.780, 0.795, 0.780],  # −0.090, −0.085, −0.095: resolved
    ("Char RNN", "without dropout"): [0.700, 0.720, 0.690],
    ("Char RNN", "with dropout"): [0.710, 0.700, 0.720],
    ("Word RNN", "without dropout"): [0.860, 0.900, 0.850],
    ("Word RNN", "with dropout"): [0.860, 0.890, 0.900],
}


def document(folder: str, seed: int, best: float) -> dict:
    """A run's metrics document; its history (0.3, best, best − FINAL_BELOW) has max `best`."""
    wildcards = plan.run_wildcards(folder)
    if wildcards["part"] == "part_a":
        keys = {"c1": int, "c2": int, "optimizer": str, "dropout": float}
        settings = {key: kind(wildcards[key]) for key, kind in keys.items()}
    else:
        settings = {
            "level": wildcards["level"],
            "architecture": wildcards["architecture"],
            "layers": int(wildcards["layers"]),
        }
        settings |= {"dropout": float(wildcards["dropout"]), "mask_padding": wildcards["padding"] == "masked"}
    history = [
        {"epoch": epoch, "train_loss": 2.0 / epoch, "train_accuracy": min(accuracy + 0.1, 1.0),
         "test_loss": 2.0 - accuracy, "test_accuracy": accuracy, "seconds": 2.0 + seed / 10}
        for epoch, accuracy in enumerate((0.3, best, best - FINAL_BELOW), start=1)
    ]  # fmt: skip
    name = Path(folder).name
    return {
        "run": name, "part": wildcards["part"][-1].upper(), "label": name, "seed": seed,
        "hyperparameters": settings | {"epochs": len(history), "train_size": 5600, "test_size": 700},
        "history": history, "summary": metrics.summarize(history), "parameters": 1000, "job_seconds": 10.0,
        "device": {"type": "CPU", "name": "x86_64"}, "versions": {"python": "3.11.7"},
    }  # fmt: skip


def generated(key: str, accuracy, seeds=(1, 2, 3), config=PART_B, optimum=None):
    """(the question's rows, the documents) of a study whose run of an entry
    (names, folder) at a seed has max test accuracy accuracy(names, folder, seed)."""
    part = questions.QUESTIONS[key].part
    documents = {
        f"{folder}/metrics.json": document(folder, seed, accuracy(tuple(entry.names.values()), folder, seed))
        for entry in questions.entries(key, config)
        for seed in seeds
        for folder in plan.entry_runs(part, entry.settings, config, optimum, seed)
    }
    frame = study_runs.runs_frame(documents)
    return study_runs.question_runs(key, frame, config, optimum), documents


def b5_accuracy(names, folder, seed):
    return B5[names][seed - 1]


@pytest.fixture(scope="module")
def b5():
    return generated("b5", b5_accuracy)[0]


def test_seed_statistics_is_the_student_t_interval(b5):
    table = stats.seed_statistics(b5, questions.QUESTIONS["b5"].keys)
    assert len(table) == 8 * 3 and list(table.columns[:3]) == ["model", "dropout_label", "statistic"]
    row = table[(table["model"] == "Char CNN") & (table["dropout_label"] == "with dropout")].set_index("statistic")
    best = row.loc["max_test_accuracy"]
    assert best["n"] == 3 and best["mean"] == pytest.approx(0.70) and best["sd"] == pytest.approx(0.01)
    half = T_2 * 0.01 / math.sqrt(3)  # 0.02484
    assert (best["ci_low"], best["ci_high"]) == pytest.approx((0.70 - half, 0.70 + half))
    assert (best["low"], best["high"]) == pytest.approx((0.69, 0.71))
    final = row.loc["final_test_accuracy"]
    assert final["mean"] == pytest.approx(0.70 - FINAL_BELOW) and final["sd"] == pytest.approx(0.01)
    mean = row.loc["mean_test_accuracy"]  # the mean of (0.3, best, best − 0.02) over epochs, then over seeds
    assert mean["mean"] == pytest.approx((0.3 + 0.70 + 0.68) / 3)


def test_seed_statistics_with_one_and_two_seeds():
    two = generated("b5", b5_accuracy, seeds=(1, 2))[0]
    row = stats.seed_statistics(two, ["model", "dropout_label"], ["max_test_accuracy"]).iloc[0]  # Char CNN
    sd = pd.Series([0.69, 0.70]).std()
    assert row["ci_high"] - row["mean"] == pytest.approx(T_1 * sd / math.sqrt(2))
    one = stats.seed_statistics(generated("b5", b5_accuracy, seeds=(1,))[0], ["model", "dropout_label"])
    assert (one["n"] == 1).all() and one[["sd", "ci_low", "ci_high"]].isna().all().all()
    assert one["mean"].notna().all() and (one["low"] == one["high"]).all()


def test_optimism_sentence_quotes_the_frames_numbers(b5):
    runs = b5.assign(final_test_accuracy=b5["max_test_accuracy"] - ([0.01] * 23 + [0.25]))
    found = stats.optimism(runs)
    assert found["mean_gap"] == pytest.approx((0.01 * 23 + 0.25) / 24) and found["largest_gap"] == pytest.approx(0.25)
    assert found["largest_run"] == "Word RNN + dropout" and found["epochs"] == 3
    error = math.sqrt(b5["max_test_accuracy"].mean() * (1 - b5["max_test_accuracy"].mean()) / 700)
    assert stats.optimism_sentence(runs) == (
        "The max test accuracy is the best of 3 epochs chosen on the test set itself, so it is optimistic: over "
        "these 24 runs it lies 0.0200 above the final epoch's on average (most: 0.2500, Word RNN + dropout), where "
        f"one accuracy on 700 test documents has a binomial standard error of about ±{error:.4f}."
    )


def test_paired_difference_interval_and_k_of_n():
    a, b = pd.Series([0.80, 0.83, 0.79], index=[1, 2, 3]), pd.Series([0.80, 0.78, 0.80, 0.9], index=[2, 1, 3, 4])
    found = stats.paired(a, b)  # seed by seed: +0.02, +0.03, −0.01; seed 4 has no partner
    assert found["n"] == 3 and found["difference"] == pytest.approx(0.04 / 3)
    half = T_2 * pd.Series([0.02, 0.03, -0.01]).std() / math.sqrt(3)
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((0.04 / 3 - half, 0.04 / 3 + half))
    assert found["k"] == 2  # seeds whose difference has the mean's sign (+)
    assert found["p"] == pytest.approx(scipy_stats.ttest_rel([0.80, 0.83, 0.79], [0.78, 0.80, 0.80]).pvalue)
    same = stats.paired(pd.Series([0.75, 0.5], index=[1, 2]), pd.Series([0.5, 0.25], index=[1, 2]))
    assert same["p"] == 0.0 and same["ci_low"] == same["ci_high"] == 0.25 and same["k"] == 2
    one = stats.paired(pd.Series([0.6], index=[1]), pd.Series([0.5], index=[1]))
    assert one["n"] == 1 and math.isnan(one["p"]) and math.isnan(one["ci_low"])


def test_holm_against_a_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 → monotone: 0.04 becomes 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = stats.holm([0.01, float("nan"), 0.04])  # NaN is no test: m = 2
    assert adjusted[[0, 2]] == pytest.approx([0.02, 0.04]) and math.isnan(adjusted[1])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert len(stats.holm([])) == 0


def test_b5_verdicts_resolved_and_not(b5):
    verdicts = stats.verdicts("b5", b5)
    assert list(verdicts.columns) == stats.VERDICT_COLUMNS
    assert len(verdicts) == 6 * 2 and set(verdicts["statistic"]) == set(stats.VERDICT_STATISTICS)
    best = verdicts[verdicts["statistic"] == "max_test_accuracy"].set_index("comparison")
    word = best.loc["Word CNN, with dropout − Word CNN, without dropout"]
    sd = pd.Series([-0.090, -0.085, -0.095]).std()
    t = -0.09 / (sd / math.sqrt(3))
    p = 2 * scipy_stats.t.sf(abs(t), 2)
    assert word["p"] == pytest.approx(p) and word["k"] == 3 and word["n"] == 3
    # Holm over B5's six comparisons: this p is the smallest, so times 6.
    assert best["p"].min() == word["p"] and word["p_holm"] == pytest.approx(6 * p) and word["resolved"]
    half = T_2 * sd / math.sqrt(3)
    assert word["sentence"] == (
        f"resolved: dropout lowers Word CNN by 0.0900 [{0.09 - half:.4f}, {0.09 + half:.4f}], 3/3 seeds"
    )
    char = best.loc["Char CNN, with dropout − Char CNN, without dropout"]
    half = T_2 * pd.Series([0.02, -0.01, 0.02]).std() / math.sqrt(3)
    assert not char["resolved"] and char["difference"] == pytest.approx(0.01)
    assert char["sentence"] == (
        f"not resolved at n = 3: dropout raises Char CNN by 0.0100 [{0.01 - half:.4f}, {0.01 + half:.4f}], 2/3 seeds"
    )
    cnn_rnn = best.loc["Char CNN, without dropout − Char RNN, without dropout"]  # −0.01, −0.02, −0.01
    assert cnn_rnn["sentence"].startswith("not resolved at n = 3: Char CNN trails Char RNN by 0.0133 [")
    final = verdicts[verdicts["statistic"] == "final_test_accuracy"].set_index("comparison")
    assert final.loc[word.name, "difference"] == pytest.approx(-0.09)
    assert final.loc[word.name, "sentence"].endswith("3/3 seeds (final epoch)")


def test_one_seed_gives_no_verdict():
    verdicts = stats.verdicts("b5", generated("b5", b5_accuracy, seeds=(1,))[0])
    assert (verdicts["n"] == 1).all() and not verdicts["resolved"].any() and verdicts["p_holm"].isna().all()
    word = verdicts.set_index(["comparison", "statistic"]).loc[
        ("Word CNN, with dropout − Word CNN, without dropout", "max_test_accuracy")
    ]
    assert word["sentence"] == "one seed: no verdict possible (difference -0.0900)"


def test_seeds_on_one_side_only_are_left_out_and_said(b5):
    runs = b5[~((b5["model"] == "Word CNN") & (b5["dropout_label"] == "without dropout") & (b5["seed"] == 3))]
    verdicts = stats.verdicts("b5", runs, statistics=["max_test_accuracy"]).set_index("comparison")
    word = verdicts.loc["Word CNN, with dropout − Word CNN, without dropout"]
    assert word["n"] == 2 and word["difference"] == pytest.approx(-0.0875)
    assert word["unpaired"] == "seed 3 only in Word CNN, with dropout"
    assert word["sentence"].endswith("2/2 seeds; left out: seed 3 only in Word CNN, with dropout")
    assert verdicts.loc["Char CNN, with dropout − Char CNN, without dropout", "unpaired"] == ""


def test_every_declared_comparison_names_rows_of_its_question():
    study = {"part_a": CONFIG["part_a"], "part_b": PART_B}
    for comparison in questions.COMPARISONS:
        question = questions.QUESTIONS[comparison.question]
        names = [entry.names for entry in questions.entries(question, study[question.part])]
        for side in (comparison.a, comparison.b):
            assert side == {questions.RANK: side.get(questions.RANK)} or any(side.items() <= n.items() for n in names)
        assert "{verb}" in comparison.says


def test_b6_masking_a4_and_a2_verdicts():
    # Sums of powers of two: every seed's difference is exactly the same.
    accuracy = lambda names, folder, seed: 0.5 + seed / 64 + 0.125 * ("LSTM" in names)  # noqa: E731
    b6 = stats.verdicts("b6", generated("b6", accuracy)[0], statistics=["max_test_accuracy"])
    assert len(b6) == 8 and b6["comparison"].str.endswith("− GRU (B3 / B4), char").sum() == 4
    lstm = b6.set_index("comparison").loc["LSTM, word − GRU (B3 / B4), word"]
    assert lstm["difference"] == 0.125 and lstm["p"] == 0.0 and lstm["resolved"]
    assert lstm["sentence"] == "resolved: word: LSTM beats the one-layer GRU by 0.1250 [0.1250, 0.1250], 3/3 seeds"
    masking = stats.verdicts("masking", generated("masking", accuracy)[0])
    assert len(masking) == 5 * 2 and masking["sentence"].str.startswith("not resolved").all()  # no difference
    assert masking["comparison"].iloc[0] == "GRU (B3 / B4), masked − GRU (B3 / B4), unmasked"

    part_a = CONFIG["part_a"] | {"optimizers": ["adam"]}  # A3a and A3b are not run: left out
    grid = {(10, 20): 0.50, (10, 60): 0.56, (50, 20): 0.52, (50, 60): 0.55}
    pair = lambda folder: tuple(int(plan.run_wildcards(folder)[c]) for c in ("c1", "c2"))  # noqa: E731
    a4 = stats.verdicts("a4", generated("a4", lambda n, f, s: 0.5 + 0.01 * s, config=part_a, optimum=(10, 60))[0])
    assert list(a4["comparison"].unique()) == [
        "A3c Adam − A2 SGD (grid optimum)",
        "A3d SGD + dropout − A2 SGD (grid optimum)",
    ]
    a2 = generated("a2", lambda names, folder, seed: grid[pair(folder)] + 0.001 * seed, config=part_a)[0]
    verdict = stats.verdicts("a2", a2, statistics=["max_test_accuracy"]).iloc[0]
    assert tables.best_pair(a2) == (10, 60) and verdict["comparison"] == "(10, 60) − (50, 60)"
    assert verdict["sentence"].startswith("resolved: the best pair (10, 60) beats the runner-up (50, 60) by 0.0100")


def test_to_explain_needs_the_reference_outside_spread_and_band():
    assert not stats.to_explain(0.05, 0.70, 0.68, 0.76, 3)  # inside our seeds' range
    assert stats.to_explain(0.05, 0.70, 0.74, 0.76, 3)  # outside range and band
    assert stats.to_explain(-0.05, 0.80, 0.74, 0.76, 3)
    assert not stats.to_explain(0.02, 0.70, 0.71, 0.73, 3)  # within the band
    assert stats.to_explain(0.05, 0.70, 0.75, 0.75, 1) and not stats.to_explain(0.02, 0.70, 0.72, 0.72, 1)
    assert not stats.to_explain(float("nan"), float("nan"), 0.7, 0.7, 3)


def test_reference_inside_our_range_and_interval(b5):
    theirs = reference.read_reference([REPO / "data/reference/part_b.csv"])
    table = stats.reference_uncertainty(reference.reference_comparison("b5", b5, theirs, PART_B), b5, "b5")
    rows = table.set_index(["model", "dropout_label"])
    # Word CNN + dropout: ours 0.780, 0.795, 0.780 (mean 0.785 ± 0.0215); the reference's 0.7914 inside both.
    word = rows.loc[("Word CNN", "with dropout")]
    assert (word["range_low_max_test_accuracy"], word["range_high_max_test_accuracy"]) == pytest.approx((0.78, 0.795))
    assert word["in_range_max_test_accuracy"] and word["in_ci_max_test_accuracy"]
    # Char CNN + dropout: ours 0.69–0.71, the reference's 0.6542 outside both, and 0.0458 beyond the band.
    char = rows.loc[("Char CNN", "with dropout")]
    assert not char["in_range_max_test_accuracy"] and not char["in_ci_max_test_accuracy"]
    assert char["explain_max_test_accuracy"] and not word["explain_max_test_accuracy"]
    # Word CNN: ours 0.870–0.880, the reference's 0.8471 outside the range but within the band.
    plain = rows.loc[("Word CNN", "without dropout")]
    assert not plain["in_range_max_test_accuracy"] and not plain["explain_max_test_accuracy"]
    assert table["explain_max_test_accuracy"].sum() == 1
    assert "in_ci_mean_test_accuracy" in table and "in_ci_train_seconds" not in table
    none = b5.iloc[:0]  # models only the reference has: nothing to be inside of, nothing to explain
    table = stats.reference_uncertainty(reference.reference_comparison("b5", none, theirs, PART_B), none, "b5")
    assert table["in_range_max_test_accuracy"].isna().all() and not table["explain_max_test_accuracy"].any()


def test_with_one_seed_explaining_is_the_band_alone():
    """The published one-seed run: a difference beyond 0.03 is to be explained, as publish's README says."""
    folder = REPO / "docs/paper-results"
    published, config = study_runs.read_all_runs(folder / "all_runs.csv"), CONFIG["part_b"]  # names runs as paper
    for key in ("b5", "b6"):
        runs = study_runs.question_runs(key, published, config)
        theirs = reference.read_reference(questions.reference_files(key, REPO / "data/reference"))
        table = stats.reference_uncertainty(reference.reference_comparison(key, runs, theirs, config), runs, key)
        beyond = (table["difference_max_test_accuracy"].abs() > stats.EXPLAIN_ABOVE).tolist()
        rows = readme.comparison_rows(key, folder, published, config)  # from the published comparison table
        assert table["explain_max_test_accuracy"].tolist() == beyond == [row["explain"] for row in rows]
        assert table["in_ci_max_test_accuracy"].isna().all()


def test_histories_frame_round_trip(tmp_path):
    documents = generated("b5", b5_accuracy)[1]
    frame = stats.histories_frame(documents)
    assert list(frame.columns) == stats.HISTORY_COLUMNS and len(frame) == 24 * 3
    assert frame[["part", "run", "epoch"]].equals(frame.sort_values(["part", "run", "epoch"])[["part", "run", "epoch"]])
    word = frame[frame["run"] == "word-cnn_layers-1_dropout-0.5_clip-none_padding-unmasked_seed-2"]
    assert word["test_accuracy"].tolist() == pytest.approx([0.3, 0.795, 0.775]) and (word["seed"] == 2).all()
    for name in ("histories.csv", "histories.csv.gz"):
        stats.write_histories(frame, tmp_path / name)
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / name), frame)
    gzipped = (tmp_path / "histories.csv.gz").read_bytes()
    assert gzipped[:2] == b"\x1f\x8b"
    (tmp_path / "again").mkdir()
    stats.write_histories(frame, tmp_path / "again/histories.csv.gz")
    assert (tmp_path / "again/histories.csv.gz").read_bytes() == gzipped  # no time stamp: the same bytes
    assert list(stats.histories_frame({}).columns) == stats.HISTORY_COLUMNS


def test_histories_name_from_the_planned_epochs():
    # The generated study: 8 Part A runs (A2's four pairs, A3's four at the optimum) and 21 Part B
    # runs per seed, 2 seeds, 5 epochs each.
    assert stats.planned_rows(CONFIG) == (8 + 21) * 2 * 5
    pinned = CONFIG | {"part_a": CONFIG["part_a"] | {"optimum": [90, 100]}}  # off the grid: its SGD run too
    assert stats.planned_rows(pinned) == (9 + 21) * 2 * 5
    assert stats.planned_rows(CONFIG | {"parts": ["part_b"]}) == 21 * 2 * 5
    assert stats.histories_name(stats.GZIP_ABOVE_ROWS) == "histories.csv"
    assert stats.histories_name(stats.GZIP_ABOVE_ROWS + 1) == "histories.csv.gz"
