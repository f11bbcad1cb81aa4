"""Figures over many runs (results/figures/): the A2 heatmap, each compared
question's chart against the reference report and its learning curves on
common axes, and Part B's accuracy against training time.

Same seaborn style as the per-run plots of nnstudy.plots (importing it sets the theme).
Every figure is drawn at most WIDTH inches wide, so that the report shows it
at its natural size (report/report.css) and its 11-point tick labels stay
larger than the page's small print; legends of figures with several columns
of panels go below them, not beside.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from nnstudy import plots  # noqa: F401  (imported for the seaborn theme it sets)
from nnstudy.analysis import reference, tables
from nnstudy.analysis import runs as study_runs
from nnstudy.study import questions

_STATISTICS = {"max_test_accuracy": "max over epochs", "mean_test_accuracy": "mean over epochs"}
_SOURCE_COLOURS = {"ours": sns.color_palette()[0], "reference report": sns.color_palette()[7]}
DPI = 110
WIDTH = 10.4  # inches: 1144 px at DPI, within the report's 1352 px column at 1400 px
PANEL = 4.6  # inches per column of panels


def _save(fig, path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def grid_heatmap(runs: pd.DataFrame, optimum: tuple[int, int] | None, path, c1_values=None, c2_values=None) -> None:
    """A2: max test accuracy (mean over seeds) for every c1 × c2 pair; the
    chosen optimum outlined. Pairs without a run stay blank."""
    table = runs.groupby(["c1", "c2"])["max_test_accuracy"].mean().unstack("c2")
    rows = sorted(set(c1_values or []) | set(table.index))
    columns = sorted(set(c2_values or []) | set(table.columns))
    table = table.reindex(index=rows, columns=columns)
    seeds = runs.groupby(["c1", "c2"]).size()
    fig, ax = plt.subplots(figsize=(1.2 * len(columns) + 2.4, 0.8 * len(rows) + 1.8))
    sns.heatmap(
        table,
        annot=True,
        fmt=".3f",
        cmap="viridis",
        linewidths=0.5,
        linecolor="white",
        ax=ax,
        cbar_kws={"label": "max test accuracy"},
    )
    ax.set(xlabel="C2 channels (c2)", ylabel="C1 channels (c1)")
    title = "A2 grid search: max test accuracy over epochs"
    if seeds.max() > 1:
        title += f" (mean of {seeds.max()} seeds)"
    if optimum is not None and optimum[0] in rows and optimum[1] in columns:
        r, c = rows.index(optimum[0]), columns.index(optimum[1])
        ax.add_patch(plt.Rectangle((c, r), 1, 1, fill=False, edgecolor="red", linewidth=3))
        title += f"\nred box: the pair chosen for A3 ({optimum[0]}, {optimum[1]})"
    ax.set_title(title)
    ax.tick_params(axis="y", rotation=0)
    _save(fig, path)


def comparison_chart(
    runs: pd.DataFrame, reference: pd.DataFrame, name: str, title: str, path, row: str | None = None
) -> None:
    """Ours against the reference report: horizontal bars of max and mean test
    accuracy per model (`name` column); per-seed rows in `runs` become a mean
    with ±1 standard deviation error bars when there are several seeds.
    `row` (e.g. dropout or level) splits the models into rows of panels."""
    keys = [name] + ([row] if row else [])
    ours = runs[keys + list(_STATISTICS)].assign(source="ours")
    theirs = reference[keys + list(_STATISTICS)].assign(source="reference report")
    long = pd.concat([ours, theirs], ignore_index=True).melt(
        id_vars=[*keys, "source"], value_vars=list(_STATISTICS), var_name="statistic", value_name="test accuracy"
    )
    long["statistic"] = long["statistic"].map(_STATISTICS)
    order = list(dict.fromkeys(list(runs[name]) + list(reference[name])))
    row_order = list(dict.fromkeys(list(runs[row]) + list(reference[row]))) if row else None
    seeds = runs.groupby(keys).size().max() if len(runs) else 0
    height = 0.45 * len(order) + 1.2
    grid = sns.catplot(
        data=long,
        kind="bar",
        y=name,
        x="test accuracy",
        hue="source",
        col="statistic",
        row=row,
        order=order,
        row_order=row_order,
        hue_order=list(_SOURCE_COLOURS),
        palette=_SOURCE_COLOURS,
        errorbar="sd",
        capsize=0.2,
        err_kws={"linewidth": 1.2},
        height=height,
        aspect=PANEL / height,
        sharey=True,
    )
    for ax in grid.axes.flat:
        ax.set_xlim(0, 1.08)
        for container in ax.containers:
            ax.bar_label(container, fmt="%.3f", padding=3, fontsize=9)
    grid.set_axis_labels("test accuracy", "")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    if row:
        grid.set_titles(template="{row_name}: {col_name}")
    sns.move_legend(grid, "upper center", bbox_to_anchor=(0.5, 0), ncol=2, title=None, frameon=False)
    subtitle = f"ours: mean ± sd of {seeds} seeds" if seeds > 1 else "ours: one seed"
    grid.figure.suptitle(f"{title} ({subtitle})", y=1.02)
    _save(grid.figure, path)


_QUANTITIES = {
    "train_loss": "training cost (nats)",
    "test_loss": "test cost (nats)",
    "test_accuracy": "test accuracy",
}


def curves_overlay(history: pd.DataFrame, name: str, title: str, path, col: str | None = None) -> None:
    """Training cost, test cost and test accuracy against epochs, one line per
    model (`name`), a band of ±1 sd over seeds; `col` splits into columns."""
    columns = list(dict.fromkeys(history[col])) if col else [None]
    hue_order = list(dict.fromkeys(history[name]))
    palette = dict(
        zip(
            hue_order,
            sns.color_palette("tab10", len(hue_order))
            if len(hue_order) <= 10
            else sns.color_palette("husl", len(hue_order)),
        )
    )
    beside = len(columns) == 1  # one column of panels: the legend fits beside it
    fig, axes = plt.subplots(
        len(_QUANTITIES),
        len(columns),
        figsize=(min(PANEL * len(columns) + (2.6 if beside else 0.8), WIDTH), 3.0 * len(_QUANTITIES)),
        sharex=True,
        squeeze=False,
    )
    few_epochs = history["epoch"].nunique() < 30
    for j, value in enumerate(columns):
        subset = history if col is None else history[history[col] == value]
        for i, (quantity, label) in enumerate(_QUANTITIES.items()):
            ax = axes[i, j]
            sns.lineplot(
                data=subset,
                x="epoch",
                y=quantity,
                hue=name,
                hue_order=[h for h in hue_order if h in set(subset[name])],
                palette=palette,
                errorbar="sd",
                marker="o" if few_epochs else None,
                ax=ax,
                legend=False,
            )
            ax.set(ylabel=label if j == 0 else "", xlabel="epoch" if i == len(_QUANTITIES) - 1 else "")
            ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
            if quantity == "test_accuracy":
                ax.set_ylim(0, 1)
            if i == 0 and col:
                ax.set_title(f"{value} input" if col == "level" else f"{col} = {value}")
    handles = [plt.Line2D([], [], color=palette[h], marker="o" if few_epochs else None, label=h) for h in hue_order]
    seeds = int(history.groupby(name)["seed"].nunique().max())
    fig.suptitle(title + (f" (mean ± sd of {seeds} seeds)" if seeds > 1 else ""))
    fig.tight_layout()
    _legend(fig, handles, beside)
    _save(fig, path)


def _legend(fig, handles, beside: bool) -> None:
    """The figure's legend right of its panels, or below them in rows of up to five."""
    if beside:
        fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    else:
        fig.legend(
            handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=min(len(handles), 5), frameon=False
        )


def accuracy_against_time(runs: pd.DataFrame, title: str, path) -> None:
    """Part B: max test accuracy against training time, per run family (in
    the order of their first rows) and input level; ±1 sd error bars in both
    directions with several seeds."""
    summary = (
        runs.groupby(["level", "family"], sort=False)
        .agg(
            accuracy=("max_test_accuracy", "mean"),
            accuracy_sd=("max_test_accuracy", "std"),
            seconds=("train_seconds", "mean"),
            seconds_sd=("train_seconds", "std"),
            seeds=("seed", "count"),
        )
        .reset_index()
    )
    families = list(dict.fromkeys(summary["family"]))
    palette = dict(zip(families, sns.color_palette("tab10", len(families))))
    markers = dict(zip(families, ["o", "s", "D", "^", "v", "P", "X", "*", "<", ">"]))
    levels = list(dict.fromkeys(summary["level"]))
    fig, axes = plt.subplots(1, len(levels), figsize=(PANEL * len(levels) + 0.8, 4.0), sharey=True, squeeze=False)
    for ax, level in zip(axes[0], levels):
        subset = summary[summary["level"] == level]
        for _, point in subset.iterrows():
            several = point["seeds"] > 1
            ax.errorbar(
                point["seconds"],
                point["accuracy"],
                xerr=point["seconds_sd"] if several else None,
                yerr=point["accuracy_sd"] if several else None,
                fmt=markers[point["family"]],
                color=palette[point["family"]],
                markersize=9,
                capsize=3,
                markeredgecolor="black",
                markeredgewidth=0.5,
            )
        ax.set(title=f"{level} input", ylim=(0, 1))
    low, high = summary["seconds"].min(), summary["seconds"].max()
    logarithmic = low > 0 and high / low > 10
    for ax in axes[0]:
        if logarithmic:
            # Ticks at 1, 2 and 5 of every decade: a decade or two of times gets several labels, not one.
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlabel("training time (s, log scale)" if logarithmic else "training time (s)")
    axes[0, 0].set_ylabel("max test accuracy")
    seeds = int(summary["seeds"].max()) if len(summary) else 0
    handles = [
        plt.Line2D(
            [], [], linestyle="", marker=markers[f], color=palette[f], markeredgecolor="black", markersize=9, label=f
        )
        for f in families
    ]
    fig.suptitle(title + (f" (mean ± sd of {seeds} seeds)" if seeds > 1 else ""))
    fig.tight_layout()
    _legend(fig, handles, beside=False)
    _save(fig, path)


# ---- jobs (scripts/grid_heatmap.py, comparison_figures.py, accuracy_time_figure.py) ----


def write_grid_heatmap(runs_csv, optimum_json, config: dict, output, log=print) -> None:
    """A2: the heatmap of the grid's runs (config: part_a), the chosen pair outlined."""
    rows = study_runs.question_runs("a2", study_runs.read_all_runs(runs_csv), config)
    grid = config["grid"]
    grid_heatmap(rows, tables.optimum_pair(optimum_json), output, grid["c1"], grid["c2"])
    log(f"A2 heatmap of {len(rows)} runs")


def write_comparison_figures(
    question, metric_files, reference_files, optimum_json, config: dict, outputs: dict, log=print, study=None
) -> None:
    """A4 / B5 / B6: the chart against the reference and the grouped learning
    curves, from the question's metrics files (config: the part's; study: see runs.read_documents)."""
    spec = questions.QUESTIONS[question]
    documents = study_runs.read_documents(metric_files, study)
    rows = study_runs.question_runs(
        question, study_runs.runs_frame(documents), config, tables.optimum_pair(optimum_json)
    )
    theirs = reference.reference_rows(question, reference.read_reference(reference_files), config)
    row = spec.axis.column if spec.axis else None
    title = f"{spec.title} against the reference report"
    comparison_chart(rows, theirs, spec.column, title, outputs["chart"], row=row)
    # One panel per axis value, or one panel where the names tell the values apart.
    panels = row if spec.axis and spec.axis.panels else None
    hue = spec.column if panels or not spec.axis else "name"
    history = study_runs.history_frame(documents, rows, [hue, "seed", *([panels] if panels else [])])
    curves_overlay(history, hue, f"{spec.title}: learning curves", outputs["curves"], col=panels)
    log(f"{question}: {len(rows)} runs charted")


def write_accuracy_against_time(runs_csv, config: dict, output, log=print) -> None:
    """Part B: every B5 and B6 run by model family (config: part_b)."""
    rows = study_runs.question_runs("b_accuracy_time", study_runs.read_all_runs(runs_csv), config)
    accuracy_against_time(rows, questions.QUESTIONS["b_accuracy_time"].title, output)
    log(f"Part B: {len(rows)} runs")
