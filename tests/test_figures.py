"""The summary figures, drawn from a generated study's all_runs table."""

from __future__ import annotations

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import REPO

from nnstudy import figures, report, tables
from generated_study import A1_PAIR, GRID, OPTIMUM, build_study

REFERENCE = report.read_reference(REPO / "data/reference")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, curve_plots):  # noqa: F811
    root = tmp_path_factory.mktemp("figures-study")
    files = build_study(root, curve_plots)
    report.write_all_runs([root / f for f in files], root / "all_runs.csv", log=lambda m: None)
    return report.read_runs(root / "all_runs.csv")


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
    grid_runs = tables.grid_runs(runs, GRID["c1"], GRID["c2"])
    figures.grid_heatmap(grid_runs, OPTIMUM, path, GRID["c1"], GRID["c2"])
    pixels = image(path)
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.1) & (pixels[..., 2] < 0.1)
    assert red.sum() > 100, "no red box around the optimum"


def test_heatmap_leaves_missing_pairs_blank(runs, tmp_path):
    grid_runs = tables.grid_runs(runs, GRID["c1"], GRID["c2"])
    partial = grid_runs[~((grid_runs["c1"] == 50) & (grid_runs["c2"] == 20))]
    figures.grid_heatmap(partial, None, tmp_path / "partial.png", GRID["c1"] + [90], GRID["c2"])
    image(tmp_path / "partial.png")


@pytest.mark.parametrize("question", ["a4", "b5", "b6"])
def test_comparison_chart_error_bars_only_with_seeds(runs, tmp_path, question, monkeypatch):
    chosen = report.question_runs(question, runs, A1_PAIR, OPTIMUM)
    reference = report.reference_rows(question, REFERENCE)
    name = {"a4": "experiment", "b5": "model", "b6": "variant"}[question]
    row = {"a4": None, "b5": "dropout_label", "b6": "level"}[question]
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: (drawn.append(fig), fig.savefig(path), plt.close(fig)))
    figures.comparison_chart(chosen, reference, name, "two seeds", tmp_path / "two.png", row=row)
    figures.comparison_chart(chosen[chosen["seed"] == 1], reference, name, "one seed", tmp_path / "one.png", row=row)
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


def test_curves_overlay_and_accuracy_against_time(runs, tmp_path):
    b6 = tables.b6_models(runs)
    history = figures.history_frame(b6, "variant")
    assert len(history) == len(b6) * 5 and {"epoch", "test_accuracy", "train_loss", "variant", "seed", "level"} <= set(history.columns)
    figures.curves_overlay(history, "variant", "B6", tmp_path / "curves.png", col="level")
    image(tmp_path / "curves.png")
    part_b = runs[runs["part"] == "B"].copy()
    part_b["family"] = [report.part_b_family(row) for _, row in part_b.iterrows()]
    assert set(part_b["family"]) == set(figures.FAMILY_ORDER)
    figures.accuracy_against_time(part_b, tmp_path / "time.png")
    image(tmp_path / "time.png")


def test_write_comparison_figures_job(runs, tmp_path):
    csv = tmp_path / "all_runs.csv"
    runs.to_csv(csv, index=False)
    optimum = tmp_path / "optimum.json"
    optimum.write_text('{"c1": %d, "c2": %d}' % OPTIMUM)
    outputs = {"chart": tmp_path / "chart.png", "curves": tmp_path / "curves.png"}
    messages = []
    figures.write_comparison_figures("b5", csv, REPO / "data/reference", optimum, A1_PAIR, False, outputs, messages.append)
    assert messages == ["b5: 16 runs charted"]
    image(outputs["chart"])
    image(outputs["curves"])
