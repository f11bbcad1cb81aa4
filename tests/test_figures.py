"""The summary figures, drawn from a generated study's all_runs table."""

from __future__ import annotations

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from generated_study import CONFIG, GRID, OPTIMUM, build_study

from nnstudy.analysis import figures, reference
from nnstudy.analysis import runs as study_runs
from nnstudy.study import questions

REFERENCE_FILES = [REPO / f"data/reference/{name}.csv" for name in ("part_a", "part_b", "b6")]
REFERENCE = reference.read_reference(REFERENCE_FILES)


@pytest.fixture(scope="module")
def study(tmp_path_factory, curve_plots):
    root = tmp_path_factory.mktemp("figures-study")
    files = [root / f for f in build_study(root, curve_plots)]
    study_runs.write_all_runs(files, root / "all_runs.csv", log=lambda m: None)
    return {"root": root, "files": files, "runs": study_runs.read_all_runs(root / "all_runs.csv")}


@pytest.fixture(scope="module")
def runs(study):
    return study["runs"]


def image(path):
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300
    assert pixels[..., :3].std() > 0.05, f"{path} looks blank"
    return pixels


def errorbar_lines(fig) -> int:
    """Error bars seaborn drew: lines with a finite, non-zero extent (one
    Line2D per bar, caps included, NaN between the strokes)."""
    count = 0
    for ax in fig.axes:
        for line in ax.lines:
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            finite = np.isfinite(x) & np.isfinite(y)
            if finite.sum() >= 2 and np.ptp(x[finite]) + np.ptp(y[finite]) > 0:
                count += 1
    return count


def test_grid_heatmap_marks_the_optimum(runs, tmp_path):
    path = tmp_path / "heatmap.png"
    grid_runs = study_runs.question_runs("a2", runs, CONFIG["part_a"])
    assert len(grid_runs) == 4 * 2
    figures.grid_heatmap(grid_runs, OPTIMUM, path, GRID["c1"], GRID["c2"])
    pixels = image(path)
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.1) & (pixels[..., 2] < 0.1)
    assert red.sum() > 100, "no red box around the optimum"


def test_heatmap_leaves_missing_pairs_blank(runs, tmp_path):
    grid_runs = study_runs.question_runs("a2", runs, CONFIG["part_a"])
    partial = grid_runs[~((grid_runs["c1"] == 50) & (grid_runs["c2"] == 20))]
    figures.grid_heatmap(partial, None, tmp_path / "partial.png", GRID["c1"] + [90], GRID["c2"])
    image(tmp_path / "partial.png")


@pytest.mark.parametrize("question", ["a4", "b5", "b6"])
def test_comparison_chart_error_bars_only_with_seeds(runs, tmp_path, question, monkeypatch):
    spec = questions.QUESTIONS[question]
    config = CONFIG[spec.part]
    chosen = study_runs.question_runs(question, runs, config, OPTIMUM)
    theirs = reference.reference_rows(question, REFERENCE, config)
    name, row = spec.column, spec.axis.column if spec.axis else None
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: (drawn.append(fig), fig.savefig(path), plt.close(fig)))
    figures.comparison_chart(chosen, theirs, name, "two seeds", tmp_path / "two.png", row=row)
    figures.comparison_chart(chosen[chosen["seed"] == 1], theirs, name, "one seed", tmp_path / "one.png", row=row)
    image(tmp_path / "two.png")
    image(tmp_path / "one.png")
    with_seeds, single = errorbar_lines(drawn[0]), errorbar_lines(drawn[1])
    models = chosen[[name] + ([row] if row else [])].drop_duplicates()
    assert with_seeds >= len(models) * 2  # one per model and statistic panel
    assert single == 0
    titles = [ax.get_title() for ax in drawn[0].axes]
    assert any("max over epochs" in t for t in titles) and any("mean over epochs" in t for t in titles)
    assert all(ax.get_xlim() == (0, 1.08) for ax in drawn[0].axes)
    assert "mean ± sd of 2 seeds" in drawn[0]._suptitle.get_text()


def test_curves_overlay_and_accuracy_against_time(study, tmp_path):
    documents = study_runs.read_documents(study["files"])
    b6 = study_runs.question_runs("b6", study_runs.runs_frame(documents), CONFIG["part_b"])
    history = study_runs.history_frame(documents, b6, ["variant", "seed", "level"])
    assert len(history) == len(b6) * 5
    assert {"epoch", "test_accuracy", "train_loss", "variant", "seed", "level"} <= set(history.columns)
    figures.curves_overlay(history, "variant", "B6", tmp_path / "curves.png", col="level")
    image(tmp_path / "curves.png")
    families = study_runs.question_runs("b_accuracy_time", study["runs"], CONFIG["part_b"])
    assert list(dict.fromkeys(families["family"])) == [m.name for m in questions.QUESTIONS["b_accuracy_time"].models]
    b5_b6 = pd.concat([study_runs.question_runs(q, study["runs"], CONFIG["part_b"]) for q in ("b5", "b6")])
    assert set(families["run"]) == set(b5_b6["run"])  # every B5 and B6 run, in one family each
    assert families["run"].is_unique
    figures.accuracy_against_time(families, "Part B", tmp_path / "time.png")
    image(tmp_path / "time.png")


def test_write_comparison_figures_job(study, tmp_path):
    outputs = {"chart": tmp_path / "chart.png", "curves": tmp_path / "curves.png"}
    messages = []
    b5_files = [f for f in study["files"] if "part_b" in str(f)]
    reference_files = questions.reference_files("b5", REPO / "data/reference")
    figures.write_comparison_figures("b5", b5_files, reference_files, None, CONFIG["part_b"], outputs, messages.append)
    assert messages == ["b5: 16 runs charted"]
    image(outputs["chart"])
    image(outputs["curves"])


# The report's column at 1400 px (report/report.css): a figure this wide or less is shown at its natural size.
REPORT_COLUMN = 1352


def test_figures_fit_the_report_at_their_natural_size(study, tmp_path):
    outputs = {"chart": tmp_path / "chart.png", "curves": tmp_path / "curves.png"}
    reference_files = questions.reference_files("b6", REPO / "data/reference")
    figures.write_comparison_figures("b6", study["files"], reference_files, None, CONFIG["part_b"], outputs, print)
    families = study_runs.question_runs("b_accuracy_time", study["runs"], CONFIG["part_b"])
    figures.accuracy_against_time(families, "Part B", tmp_path / "time.png")
    for path in (*outputs.values(), tmp_path / "time.png"):  # B6's curves have two columns of panels: the widest
        assert image(path).shape[1] <= REPORT_COLUMN, f"{path.name} is wider than the report shows it"


def test_a_logarithmic_time_axis_has_several_labels(runs, tmp_path, monkeypatch):
    families = study_runs.question_runs("b_accuracy_time", runs, CONFIG["part_b"])
    families = families.assign(train_seconds=np.geomspace(200, 2500, len(families)))  # as at paper settings
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: (drawn.append(fig), fig.savefig(path), plt.close(fig)))
    figures.accuracy_against_time(families, "Part B", tmp_path / "time.png")
    for ax in drawn[0].axes:
        low, high = ax.get_xlim()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and low <= t.get_position()[0] <= high]
        assert ax.get_xscale() == "log" and len(labels) >= 3, labels
