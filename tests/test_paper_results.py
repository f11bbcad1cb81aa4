"""The published paper-scale study (docs/paper-results/): its CSV holds the runs
the workflow plans at paper settings, and its README's numbers are the CSV's."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from conftest import CIFAR_DIR, REPO, copy_workflow, nnstudy, snakemake
from generated_study import CONFIG

from nnstudy import metrics
from nnstudy.analysis import runs as study_runs
from nnstudy.commands import publish
from nnstudy.errors import StudyError
from nnstudy.report import readme

PUBLISHED = REPO / "docs/paper-results"
REFERENCE = REPO / "data/reference"


@pytest.fixture(scope="module")
def runs():
    return study_runs.read_all_runs(PUBLISHED / "all_runs.csv")


def test_published_runs_are_the_workflows_plan(runs, tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    # The config's data path is the repository's (../shared/data), not the copy's.
    config = ["--configfile", str(PUBLISHED / "config.yaml"), "--config", f"cifar10_dir={CIFAR_DIR}"]
    plan = snakemake(workflow, "-n", *config).stdout
    planned = set(re.findall(r"results/part_[ab]/runs/([^/\s]+)/metrics\.json", plan))
    assert set(runs["run"]) == planned and len(runs) == len(planned) == 1 + 21
    # The report of the run the publication's config makes shows the publication's explanations.
    assert str(PUBLISHED / "explanations.yaml") in plan.split("rule html_report:")[1].split("output:")[0]
    # Imported from the publication (its metrics.json rebuilt from the CSVs), the runs are done: no training job.
    nnstudy(workflow, "import", str(PUBLISHED), ".", *config)
    a1 = metrics.read(workflow / "results/part_a/runs/c1-50_c2-60_sgd_dropout-0_seed-1/metrics.json")
    published = runs.set_index("run").loc["c1-50_c2-60_sgd_dropout-0_seed-1"]
    assert len(a1["history"]) == 1000 and a1["summary"]["max_test_accuracy"] == published["max_test_accuracy"]
    after = snakemake(workflow, "-n", *config).stdout
    assert "rule html_report" in after and not re.search(r"^train_\w+\s+\d+$", after, re.M)


def test_published_runs_are_at_paper_settings(runs):
    """A1 (Part A's one question a CPU can do) at 1000 epochs on 10,000 images, and Part B's 21 runs."""
    part_a, part_b = runs[runs["part"] == "A"], runs[runs["part"] == "B"]
    assert list(part_a["run"]) == ["c1-50_c2-60_sgd_dropout-0_seed-1"]
    assert (part_a["epochs_run"] == 1000).all() and (part_a["train_size"] == 10_000).all()
    assert (part_a["test_size"] == 2000).all() and (part_a["learning_rate"] == 0.001).all()
    assert (part_a["optimizer"] == "sgd").all() and (part_a["precision"] == "float32").all()
    assert set(runs["seed"]) == {1} and (runs["batch_size"] == 128).all()
    assert (part_b["epochs"] == 250).all() and (part_b["epochs_run"] == 250).all()
    assert (part_b["train_size"] == 5600).all() and (part_b["test_size"] == 700).all()
    assert (part_b["optimizer"] == "adam").all() and (part_b["learning_rate"] == 0.01).all()
    masked = part_b[part_b["mask_padding"].astype(bool)]
    assert len(masked) == 5 and (masked["level"] == "word").all() and (masked["architecture"] != "cnn").all()


def test_the_readmes_a1_numbers_come_from_the_published_history():
    history = pd.read_csv(next(PUBLISHED.glob("histories.csv*")))
    a1 = history[history["run"] == "c1-50_c2-60_sgd_dropout-0_seed-1"]
    assert list(a1["epoch"]) == list(range(1, 1001))
    text = (PUBLISHED / "README.md").read_text()
    peak = a1.loc[a1["test_accuracy"].idxmax()]
    assert f"| ours | {peak['test_accuracy']:.4f} | {int(peak['epoch'])} | {a1['test_accuracy'].mean():.4f} |" in text


def test_readme_numbers_are_generated_from_the_csv():
    assert (PUBLISHED / "README.md").read_text() == readme.render_readme(PUBLISHED)


def test_project_readme_shows_the_published_b5_table():
    block = readme.README_BLOCK.search((REPO / "README.md").read_text())
    assert block is not None
    assert readme.readme_block(PUBLISHED, "docs/paper-results/README.md") in block[0]


def test_every_large_difference_needs_an_explanation(tmp_path):
    folder = tmp_path / "published"
    shutil.copytree(PUBLISHED, folder)
    explained = [row["key"] for row in readme.readme_context(folder)["explained"]]
    assert explained, "the published run differs from the reference somewhere by more than 0.03"
    (folder / "explanations.yaml").write_text("{}\n")
    with pytest.raises(StudyError, match=f"explanations.yaml: no explanation for b.: {re.escape(explained[0])}"):
        readme.render_readme(folder)


def test_wall_time_comes_from_the_snakemake_log(tmp_path):
    log = tmp_path / "run.snakemake.log"
    log.write_text(
        "Building DAG of jobs...\n[Thu Nov 26 11:42:48 2026]\nlocalrule x:\n[Thu Nov 26 13:05:10 2026]\nFinished\n"
    )
    assert publish.run_times(log) == ("2026-11-26 11:42", 82 * 60 + 22)
    log.write_text("no stamps\n")
    with pytest.raises(StudyError, match="no time stamps"):
        publish.run_times(log)


def test_explanations_quote_the_published_numbers(runs):
    """Every four-decimal figure an explanation quotes can be recomputed from the publication: a run's
    max, mean or final test accuracy (this publication's or the first's), the reference's, an epoch's
    test accuracy, or the mean or sd of a run's last 50 or 200 epochs (histories.csv)."""
    text = (PUBLISHED / "explanations.yaml").read_text()
    reference = pd.concat([pd.read_csv(REFERENCE / f"{name}.csv") for name in ("part_a", "part_b", "b6")])
    first = pd.read_csv(PUBLISHED / "first_publication_runs.csv")
    columns = ("max_test_accuracy", "mean_test_accuracy", "final_test_accuracy")
    summaries = [frame[c].dropna() for frame in (runs, reference, first) for c in columns if c in frame]
    history = pd.read_csv(next(PUBLISHED.glob("histories.csv*"))).sort_values("epoch")
    levels = [
        statistic(accuracy.tail(last))
        for _, accuracy in history.groupby("run")["test_accuracy"]
        for last in (50, 200)
        for statistic in (lambda tail: [tail.mean()], lambda tail: [tail.std(ddof=0)])
    ]  # population sd, as numpy's
    known = {f"{value:.4f}" for values in [*summaries, history["test_accuracy"], *levels] for value in values}
    quoted = re.findall(r"\b0\.\d{4}\b", text)
    assert quoted and set(quoted) <= known, sorted(set(quoted) - known)


def test_readme_of_a_study_with_seeds(generated_report, tmp_path):
    """A publication of two seeds: intervals, verdicts, and every flagged difference explained under its heading."""
    tables = generated_report["root"] / "results/tables"
    runs = study_runs.read_all_runs(tables / "all_runs.csv")
    runs = runs[runs["part"] == "B"].assign(backend="tensorflow", precision="float32")
    runs.to_csv(tmp_path / "all_runs.csv", index=False)
    for name in ("b5_reference.csv", "b6_reference.csv", "verdicts.csv"):
        shutil.copy(tables / name, tmp_path / name)
    shutil.copy(PUBLISHED / "README.md.j2", tmp_path)
    config = {"parts": ["part_b"], "questions": ["b5", "b6", "masking"], "part_b": CONFIG["part_b"]}
    config["training"] = {"deterministic": True, "threads": 1}
    publication = {"command": "snakemake", "note": "", "config": config, "commit": "abc", "machine": "test",
                   "started": "2026-12-01 10:00", "wall_seconds": 60, "snakemake_invocations": 1}  # fmt: skip
    (tmp_path / "publication.json").write_text(json.dumps(publication))
    (tmp_path / "explanations.yaml").write_text("{}\n")
    flagged = [row["explanation_key"] for q in readme.COMPARED
               for row in readme.comparison_rows(q, tmp_path, runs, CONFIG["part_b"]) if row["explain"]]  # fmt: skip
    (tmp_path / "explanations.yaml").write_text("".join(f'"{key}": why {i}\n' for i, key in enumerate(flagged)))
    text = readme.render_readme(tmp_path)
    assert re.search(r"\| Word CNN, with dropout \| 0\.\d{4} \(0\.\d{4}–0\.\d{4}\) \| 0\.7914 \|", text)
    verdicts = pd.read_csv(tmp_path / "verdicts.csv", dtype=str)
    b5 = verdicts[(verdicts["question"] == "b5") & (verdicts["statistic"] == "max_test_accuracy")]
    assert all(f"- {sentence}\n" in text for sentence in b5["sentence"])
    for key in flagged:
        question, row = key.split(": ", 1)
        assert (
            f"### {question.upper()}: {row}\n" in text and f"(#{readme.anchor(f'{question.upper()}: {row}')})" in text
        )
