"""The study's tables and the reference comparison, on a generated study
(tests/generated_study.py, conftest's generated_report)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import REPO
from generated_study import A1_PAIR, CONFIG, OPTIMUM, SEEDS

from nnstudy import metrics
from nnstudy.analysis import reference
from nnstudy.analysis import runs as study_runs
from nnstudy.report import cells

REFERENCE_FILES = [REPO / f"data/reference/{name}.csv" for name in ("part_a", "part_b", "b6")]


@pytest.fixture
def study(generated_report):
    return generated_report


def test_all_runs_one_row_per_run_one_column_per_setting(study):
    runs = pd.read_csv(study["root"] / "results/tables/all_runs.csv")
    assert len(runs) == len(study["files"]) == (4 + 4) * 2 + (16 + 5) * 2
    assert runs["run"].is_unique
    expected = {
        "c1",
        "c2",
        "optimizer",
        "momentum",
        "level",
        "architecture",
        "layers",
        "dropout",
        "clip_threshold",
        "mask_padding",
        "learning_rate",
        "batch_size",
        "epochs",
        "max_test_accuracy",
        "mean_test_accuracy",
        "final_test_accuracy",
        "best_epoch",
        "final_train_loss",
        "train_seconds",
        "job_seconds",
        "parameters",
        "device",
        "device_name",
        "tensorflow_version",
        "metrics_file",
    }
    assert expected <= set(runs.columns)
    part_b = runs[runs["part"] == "B"]
    assert part_b["c1"].isna().all() and runs[runs["part"] == "A"]["level"].isna().all()
    # whole numbers stay whole in the CSV despite the gaps
    assert "10,20,sgd" in (study["root"] / "results/tables/all_runs.csv").read_text()
    first = runs.set_index("run").loc["char-gru_layers-1_dropout-0_clip-2_padding-unmasked_seed-2"]
    document = metrics.read(study["root"] / first["metrics_file"])
    assert first["max_test_accuracy"] == pytest.approx(document["summary"]["max_test_accuracy"])
    assert first["clip_threshold"] == 2.0 and first["seed"] == 2


def test_a4_names_follow_the_study_table(study):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    a4 = study_runs.question_runs("a4", runs, CONFIG["part_a"], OPTIMUM)
    table = pd.read_csv(study["root"] / "results/tables/a4.csv")
    assert list(dict.fromkeys(a4["experiment"])) == table["experiment"].tolist()
    assert a4.groupby("experiment").size().eq(len(SEEDS)).all()
    # A1's pair as the optimum: one run under both names
    same = study_runs.question_runs("a4", runs, CONFIG["part_a"], A1_PAIR)
    assert {"A1 SGD", "A2 SGD (grid optimum)"} <= set(same["experiment"])
    assert (
        same[same["experiment"] == "A1 SGD"]["run"].tolist()
        == same[same["experiment"] == "A2 SGD (grid optimum)"]["run"].tolist()
    )


def test_reference_comparison_differences_and_notes(study):
    tables_dir = study["root"] / "results/tables"
    a4 = pd.read_csv(tables_dir / "a4_reference.csv").set_index("experiment")
    reference = pd.read_csv(REPO / "data/reference/part_a.csv").set_index("experiment")
    runs = study_runs.question_runs(
        "a4", study_runs.read_all_runs(tables_dir / "all_runs.csv"), CONFIG["part_a"], OPTIMUM
    )
    for name in reference.index:
        ours = runs[runs["experiment"] == name]["max_test_accuracy"]
        assert a4.loc[name, "max_test_accuracy"] == pytest.approx(ours.mean())
        assert a4.loc[name, "max_test_accuracy_sd"] == pytest.approx(ours.std(ddof=1))
        assert a4.loc[name, "difference_max_test_accuracy"] == pytest.approx(
            ours.mean() - reference.loc[name, "max_test_accuracy"]
        )
        assert a4.loc[name, "seeds"] == len(SEEDS)
    assert "failed to learn" in a4.loc["A3c Adam", "note"]
    # Two seeds: the reference within our range and interval, and whether a difference needs explaining.
    for flag in ("in_range", "in_ci", "explain"):
        assert a4[f"{flag}_max_test_accuracy"].notna().all()
    assert a4.loc["A3c Adam", "explain_max_test_accuracy"]  # ours learns where the reference's Adam did not
    assert a4.loc["A2 SGD (grid optimum)", ["c1", "c2", "reference_c1", "reference_c2"]].tolist() == [*OPTIMUM, 90, 100]
    b5 = pd.read_csv(tables_dir / "b5_reference.csv")
    assert len(b5) == 8 and b5["reference_train_seconds"].notna().all() and b5["difference_train_seconds"].notna().all()
    row = b5[(b5["model"] == "Word RNN") & (b5["dropout_label"] == "with dropout")].iloc[0]
    assert row["reference_max_test_accuracy"] == 0.8842
    b6 = pd.read_csv(tables_dir / "b6_reference.csv")
    assert len(b6) == 10 and b6["reference_max_test_accuracy"].notna().all()
    baseline = b6[(b6["variant"] == "GRU (B3 / B4)") & (b6["level"] == "char")].iloc[0]
    assert baseline["reference_max_test_accuracy"] == 0.7142  # the reference's B5 Char RNN


def test_reference_keeps_models_we_did_not_run(study):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    runs = runs[~((runs["part"] == "A") & (runs["optimizer"] == "adam"))]
    chosen = study_runs.question_runs("a4", runs, CONFIG["part_a"], OPTIMUM)
    table = reference.reference_comparison("a4", chosen, reference.read_reference(REFERENCE_FILES), CONFIG["part_a"])
    adam = table.set_index("experiment").loc["A3c Adam"]
    assert math.isnan(adam["max_test_accuracy"]) and adam["reference_max_test_accuracy"] == 0.1 and adam["seeds"] == 0
    shown = cells.comparison("a4", table, CONFIG["part_a"])
    adam = next(row["cells"] for row in shown["rows"] if row["cells"][0]["lines"] == ["A3c Adam"])
    assert adam[2]["lines"] == ["–"] and adam[3]["lines"] == ["0.1000"]  # ours (none), the reference's
    assert table["experiment"].tolist()[-2:] == ["A3c Adam", "A3d SGD + dropout"]  # the study's order


def _spec_tables(text: str) -> list[list[list[str]]]:
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def test_reference_data_is_the_spec(tmp_path):
    spec = REPO.parent / "shared" / "SPEC.md"
    if not spec.is_file():
        pytest.skip(f"{spec} not available")
    part_a, part_b, b6 = _spec_tables(spec.read_text())[-3:]
    numbers = reference.read_reference(REFERENCE_FILES)
    ours_a = numbers["part_a"]
    assert [[float(r[3]), float(r[4].split()[0])] for r in part_a[1:]] == ours_a[
        ["max_test_accuracy", "mean_test_accuracy"]
    ].values.tolist()
    assert [[int(r[1]), int(r[2])] for r in part_a[1:]] == ours_a[["c1", "c2"]].values.tolist()
    ours_b = numbers["part_b"].set_index(["model", "dropout"])
    names = {"CharCNN": "Char CNN", "WordCNN": "Word CNN", "CharRNN": "Char RNN", "WordRNN": "Word RNN"}
    for row in part_b[1:]:
        assert ours_b.loc[(names[row[0]], "no")].tolist()[:3] == [float(row[1]), float(row[2]), float(row[3])]
        assert ours_b.loc[(names[row[0]], "yes")].tolist()[:3] == [float(row[4]), float(row[5]), float(row[6])]
    ours_b6 = numbers["b6"].set_index(["variant", "level"])
    variants = {
        "vanilla RNN": "vanilla RNN",
        "LSTM": "LSTM",
        "2-layer GRU": "2-layer GRU",
        "gradient clipping": "gradient clipping",
    }
    for row in b6[1:]:
        assert ours_b6.loc[(variants[row[0]], "char"), "max_test_accuracy"] == float(row[1])
        assert ours_b6.loc[(variants[row[0]], "char"), "mean_test_accuracy"] == float(row[2])
        assert ours_b6.loc[(variants[row[0]], "word"), "max_test_accuracy"] == float(row[3])
        assert ours_b6.loc[(variants[row[0]], "word"), "mean_test_accuracy"] == float(row[4])


@pytest.mark.parametrize("mask_padding", [False, True])
def test_b5_and_b6_take_the_study_padding_setting(study, mask_padding):
    runs = study_runs.read_all_runs(study["root"] / "results/tables/all_runs.csv")
    config = CONFIG["part_b"] | {"mask_padding": mask_padding}
    for question in ("b5", "b6"):
        chosen = study_runs.question_runs(question, runs, config)
        word_rnns = chosen[(chosen["level"] == "word") & (chosen["architecture"] != "cnn")]
        assert len(word_rnns) and (word_rnns["mask_padding"] == mask_padding).all()
        assert chosen["run"].is_unique
    assert len(study_runs.question_runs("b6", runs, config)) == 10 * len(SEEDS)
