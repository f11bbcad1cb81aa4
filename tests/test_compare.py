"""`nnstudy compare`: the publication against itself and against changed copies of it, damaged and foreign
input; the smoke study (smoke_run) against itself and against the publication, at other settings."""

from __future__ import annotations

import math
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, nnstudy

from nnstudy.analysis import compare

PUBLISHED = REPO / "docs/paper-results"
WORD_CNN = "word-cnn_layers-1_dropout-0_clip-none_padding-unmasked"


def run_compare(workdir, *args, check=True):
    return nnstudy(workdir, "compare", *map(str, args), check=check)


def table(path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""]).set_index("configuration")


def publication_copy(tmp_path, name="copy"):
    copy = tmp_path / name
    shutil.copytree(PUBLISHED, copy)
    return copy, pd.read_csv(copy / "all_runs.csv")


class _Sources(HTMLParser):
    """What a page loads from elsewhere: src and stylesheet links."""

    def __init__(self):
        super().__init__()
        self.loaded = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.loaded += [attrs[key] for key in ("src",) if key in attrs]
        if tag == "link":
            self.loaded.append(attrs.get("href"))


def test_publication_against_itself_is_reproduced(tmp_path):
    result = run_compare(REPO, PUBLISHED, PUBLISHED, "--out", tmp_path / "out", "--fail-on", "differs")
    rows = table(tmp_path / "out/comparison.csv")
    assert len(rows) == 22 and set(rows["verdict"]) == {compare.REPRODUCED}
    assert (rows["difference"] == 0).all()
    verdicts = pd.read_csv(tmp_path / "out/comparison_verdicts.csv")
    # One seed: the publication's verdicts resolve nothing, so there is none to hold.
    assert len(verdicts) == 19 and set(verdicts["outcome"]) == {compare.NO_VERDICT}
    assert "22 configurations: 22 reproduced." in result.stdout
    assert "±0.050 of max test accuracy" in result.stdout
    page = (tmp_path / "out/comparison.html").read_text(encoding="utf-8")
    sources = _Sources()
    sources.feed(page)
    assert sources.loaded == [] and "22 configurations: 22 reproduced." in page
    assert page.count('class="text verdict-reproduced"') == 22


def test_one_run_shifted_by_a_tenth_differs(tmp_path):
    copy, runs = publication_copy(tmp_path)
    runs.loc[runs["run"] == f"{WORD_CNN}_seed-1", "max_test_accuracy"] -= 0.1
    runs.to_csv(copy / "all_runs.csv", index=False)
    result = run_compare(REPO, PUBLISHED, copy, "--out", tmp_path / "out", "--fail-on", "differs", check=False)
    assert result.returncode == 3 and result.stderr == "--fail-on: 1 differs\n"
    rows = table(tmp_path / "out/comparison.csv")
    assert rows.loc[WORD_CNN, "verdict"] == compare.DIFFERS
    assert math.isclose(rows.loc[WORD_CNN, "difference"], -0.1, abs_tol=1e-9)
    assert set(rows.drop(WORD_CNN)["verdict"]) == {compare.REPRODUCED}
    assert "22 configurations: 21 reproduced, 1 differs." in result.stdout
    # Without --fail-on, a difference found is a comparison made.
    assert run_compare(REPO, PUBLISHED, copy).returncode == 0


def test_other_settings_are_named_and_other_versions_are_notes(tmp_path):
    copy, runs = publication_copy(tmp_path)
    part_b = runs["part"] == "B"
    runs.loc[part_b, "epochs"] = 10
    runs.loc[part_b & (runs["architecture"] == "cnn"), "train_size"] = 2800
    runs.loc[runs["part"] == "A", "tensorflow_version"] = "2.20.0"
    runs.to_csv(copy / "all_runs.csv", index=False)
    run_compare(REPO, PUBLISHED, copy, "--out", tmp_path / "out")
    rows = table(tmp_path / "out/comparison.csv")
    a1 = rows.loc["c1-50_c2-60_sgd_dropout-0"]
    assert a1["verdict"] == compare.REPRODUCED and a1["notes"] == "tensorflow 2.21.0 vs 2.20.0"
    assert (rows.loc[rows["part"] == "B", "verdict"] == compare.NOT_COMPARABLE).all()
    assert rows.loc[WORD_CNN, "settings"] == "epochs 250 vs 10; train_size 5600 vs 2800"
    assert rows.loc["word-gru_layers-1_dropout-0_clip-none_padding-unmasked", "settings"] == "epochs 250 vs 10"
    assert rows.loc[rows["part"] == "B", "difference"].isna().all()
    verdicts = pd.read_csv(tmp_path / "out/comparison_verdicts.csv")
    assert set(verdicts["outcome"]) == {compare.NOT_COMPARABLE}  # every verdict of the publication is Part B's
    assert set(verdicts["note"]) == {"epochs 250 vs 10; train_size 5600 vs 2800"}


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text[: len(text) // 2], " fields, its header 45)"),
        (lambda text: "", "No columns to parse from file"),
        (lambda text: text.replace("max_test_accuracy", "best", 1), "no column max_test_accuracy"),
        (lambda text: text.replace(",0.5659999847412109,", ",,", 1), "line 2 has no max_test_accuracy"),
        (lambda text: text.replace(",0.5659999847412109,", ",1.5659999847412109,", 1), "line 2: max_test_accuracy"),
    ],
    ids=["cut short", "empty", "no column", "empty cell", "not an accuracy"],
)
def test_a_damaged_table_is_one_line(tmp_path, damage, message):
    copy, _ = publication_copy(tmp_path)
    path = copy / "all_runs.csv"
    path.write_text(damage(path.read_text()))
    result = run_compare(REPO, PUBLISHED, copy, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}: damaged table (") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_not_a_study_and_two_studies_are_one_line(tmp_path):
    result = run_compare(REPO, PUBLISHED, tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {tmp_path}: no study's table of all runs there (a study's results folder has "
        "tables/all_runs.csv; a publication has all_runs.csv)\n"
    )
    part_a, runs = publication_copy(tmp_path, "part_a")
    runs[runs["part"] == "A"].to_csv(part_a / "all_runs.csv", index=False)
    part_b = tmp_path / "part_b/tables"
    part_b.mkdir(parents=True)
    runs[runs["part"] == "B"].to_csv(part_b / "all_runs.csv", index=False)
    result = run_compare(REPO, part_a, part_b.parent, check=False)
    assert result.returncode == 1
    assert (
        result.stderr == f"error: {part_a} and {part_b.parent} have no configuration in common: two different studies\n"
    )


def test_the_noise_of_one_run_is_the_measured_one():
    """RUN_NOISE is the largest same-seed difference between the first publication's runs and this one's."""
    runs = pd.read_csv(PUBLISHED / "all_runs.csv").set_index("run")
    first = pd.read_csv(PUBLISHED / "first_publication_runs.csv").set_index("run")
    differences = (runs.loc[first.index, compare.STATISTIC] - first[compare.STATISTIC]).abs()
    assert len(differences) == 21 and round(differences.max(), 3) == compare.RUN_NOISE
    # That largest difference (35 of 700 test documents, in float32) is within the noise.
    largest = differences.idxmax()
    reference, candidate = (_runs([side.loc[largest, compare.STATISTIC]], [1]) for side in (runs, first))
    assert compare.verdict(reference, candidate, compare.RUN_NOISE)[0] == compare.REPRODUCED


def _runs(values, seeds):
    return pd.DataFrame({"seed": seeds, compare.STATISTIC: values})


@pytest.mark.parametrize(
    "reference, candidate, found",
    [
        # Several reference seeds: the candidate's mean within their range widened by the noise.
        (_runs([0.80, 0.82, 0.84], [1, 2, 3]), _runs([0.89, 0.90, 0.91], [1, 2, 3]), compare.DIFFERS),
        (_runs([0.80, 0.82, 0.84], [1, 2, 3]), _runs([0.87, 0.88, 0.89], [1, 2, 3]), compare.REPRODUCED),
        # One reference seed, several candidate ones: the reference within the candidate's range so widened.
        (_runs([0.70], [1]), _runs([0.74, 0.76, 0.78], [1, 2, 3]), compare.REPRODUCED),
        (_runs([0.70], [1]), _runs([0.78, 0.80, 0.82], [1, 2, 3]), compare.DIFFERS),
        # One seed a side: the same seed differs beyond the noise, another seed cannot say.
        (_runs([0.70], [1]), _runs([0.76], [1]), compare.DIFFERS),
        (_runs([0.70], [1]), _runs([0.76], [2]), compare.NOT_RESOLVED),
        (_runs([0.70], [1]), _runs([0.74], [2]), compare.REPRODUCED),
    ],
)
def test_verdict_rules(reference, candidate, found):
    assert compare.verdict(reference, candidate, compare.RUN_NOISE)[0] == found


def test_the_difference_has_welchs_interval_from_two_seeds_a_side():
    low, high = compare.difference_interval(np.array([0.80, 0.82, 0.84]), np.array([0.90, 0.91]))
    assert math.isclose((low + high) / 2, 0.085) and 0 < low < high
    assert all(map(math.isnan, compare.difference_interval(np.array([0.8]), np.array([0.9, 0.91]))))


# ---- on the smoke study ------------------------------------------------------------------


@pytest.mark.integration
def test_smoke_study_against_itself_and_a_shifted_copy(smoke_run, tmp_path):
    result = run_compare(smoke_run, "results", "results", "--out", tmp_path / "same")
    rows = table(tmp_path / "same/comparison.csv")
    assert set(rows["verdict"]) == {compare.REPRODUCED} and len(rows) == len(set(rows.index))
    assert f"{len(rows)} configurations: {len(rows)} reproduced." in result.stdout
    outcomes = pd.read_csv(tmp_path / "same/comparison_verdicts.csv")["outcome"]
    assert set(outcomes) <= {compare.HOLDS, compare.NO_VERDICT} and len(outcomes)
    shifted = tmp_path / "shifted/tables"
    shutil.copytree(smoke_run / "results/tables", shifted)
    runs = pd.read_csv(shifted / "all_runs.csv")
    changed = runs["run"].iloc[0]
    runs.loc[0, "max_test_accuracy"] += 0.1 if runs.loc[0, "max_test_accuracy"] < 0.9 else -0.1
    runs.to_csv(shifted / "all_runs.csv", index=False)
    result = run_compare(smoke_run, "results", shifted.parent, "--out", tmp_path / "out", "--fail-on", "differs",
                         check=False)  # fmt: skip
    assert result.returncode == 3
    rows = table(tmp_path / "out/comparison.csv")
    model = changed.rsplit("_seed-", 1)[0]
    assert rows.loc[model, "verdict"] == compare.DIFFERS
    assert set(rows.drop(model)["verdict"]) == {compare.REPRODUCED}


@pytest.mark.integration
def test_smoke_study_against_the_publication_is_not_comparable(smoke_run, tmp_path):
    """The smoke preset against the paper settings: no row in both is compared, each names epochs and data sizes."""
    result = run_compare(smoke_run, PUBLISHED, "results", "--out", tmp_path / "out")
    rows = table(tmp_path / "out/comparison.csv")
    both = rows[rows["verdict"] != compare.ONLY_IN_ONE]
    assert len(both) == 22 and set(both["verdict"]) == {compare.NOT_COMPARABLE}
    for settings in both["settings"]:
        assert {"epochs", "train_size", "test_size"} <= {item.split()[0] for item in settings.split("; ")}
    assert both.loc["c1-50_c2-60_sgd_dropout-0", "settings"].startswith("epochs 1000 vs 2; train_size 10000 vs 256")
    assert both["difference"].isna().all()
    verdicts = pd.read_csv(tmp_path / "out/comparison_verdicts.csv")
    assert set(verdicts.loc[verdicts["note"] != "only in the candidate", "outcome"]) == {compare.NOT_COMPARABLE}
    assert "not comparable" in result.stdout and "epochs 1000 vs 2" in result.stdout
