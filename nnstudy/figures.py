"""Figures over many runs: the A2 heatmap, comparison charts against the
reference report, grouped learning curves and Part B accuracy against time.

Same seaborn style as nnstudy.plots (importing it sets the theme).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from nnstudy import metrics, report, tables  # noqa: E402
from nnstudy import plots  # noqa: E402, F401  (sets the shared seaborn theme)

_STATISTICS = {"max_test_accuracy": "max over epochs", "mean_test_accuracy": "mean over epochs"}
_SOURCE_COLOURS = {"ours": sns.color_palette()[0], "reference report": sns.color_palette()[7]}


def _save(fig, path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")
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
        table, annot=True, fmt=".3f", cmap="viridis", linewidths=0.5, linecolor="white", ax=ax,
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


def comparison_chart(runs: pd.DataFrame, reference: pd.DataFrame, name: str, title: str, path, row: str | None = None) -> None:
    """Ours against the reference report: horizontal bars of max and mean test
    accuracy per model (`name` column); per-seed rows in `runs` become a mean
    with ±1 standard deviation error bars when there are several seeds.
    `row` (e.g. dropout or level) splits the models into rows of panels."""
    keys = [name] + ([row] if row else [])
    ours = runs[keys + list(_STATISTICS)].assign(source="ours")
    theirs = reference[keys + list(_STATISTICS)].assign(source="reference report")
    long = pd.concat([ours, theirs], ignore_index=True).melt(
        id_vars=keys + ["source"], value_vars=list(_STATISTICS), var_name="statistic", value_name="test accuracy"
    )
    long["statistic"] = long["statistic"].map(_STATISTICS)
    order = list(dict.fromkeys(list(runs[name]) + list(reference[name])))
    row_order = list(dict.fromkeys(list(runs[row]) + list(reference[row]))) if row else None
    seeds = runs.groupby(keys).size().max() if len(runs) else 0
    grid = sns.catplot(
        data=long, kind="bar", y=name, x="test accuracy", hue="source", col="statistic", row=row,
        order=order, row_order=row_order, hue_order=list(_SOURCE_COLOURS), palette=_SOURCE_COLOURS,
        errorbar="sd", capsize=0.2, err_kws={"linewidth": 1.2},
        height=0.45 * len(order) + 1.2, aspect=max(1.4, 5.0 / (0.45 * len(order) + 1.2)), sharey=True,
    )
    for ax in grid.axes.flat:
        ax.set_xlim(0, 1.08)
        for container in ax.containers:
            ax.bar_label(container, fmt="%.3f", padding=3, fontsize=8)
    grid.set_axis_labels("test accuracy", "")
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    if row:
        grid.set_titles(template="{row_name}: {col_name}")
    grid.legend.set_title(None)
    subtitle = f"ours: mean ± sd of {seeds} seeds" if seeds > 1 else "ours: one seed"
    grid.figure.suptitle(f"{title} ({subtitle})", y=1.02)
    _save(grid.figure, path)


_QUANTITIES = {
    "train_loss": "training cost (nats)",
    "test_loss": "test cost (nats)",
    "test_accuracy": "test accuracy",
}


def history_frame(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per-epoch history of the runs (their metrics_file), one row per epoch,
    with the run's `name` column and seed."""
    parts = []
    for _, run in runs.iterrows():
        document = metrics.read(run["metrics_file"])
        history = pd.DataFrame(document["history"])
        history[name] = run[name]
        history["seed"] = run["seed"]
        for extra in ("level",):
            if extra in runs:
                history[extra] = run[extra]
        parts.append(history)
    return pd.concat(parts, ignore_index=True)


def curves_overlay(history: pd.DataFrame, name: str, title: str, path, col: str | None = None) -> None:
    """Training cost, test cost and test accuracy against epochs, one line per
    model (`name`), a band of ±1 sd over seeds; `col` splits into columns."""
    columns = list(dict.fromkeys(history[col])) if col else [None]
    hue_order = list(dict.fromkeys(history[name]))
    palette = dict(zip(hue_order, sns.color_palette("tab10", len(hue_order)) if len(hue_order) <= 10 else sns.color_palette("husl", len(hue_order))))
    fig, axes = plt.subplots(
        len(_QUANTITIES), len(columns), figsize=(5.2 * len(columns) + 2.6, 3.0 * len(_QUANTITIES)),
        sharex=True, squeeze=False,
    )
    few_epochs = history["epoch"].nunique() < 30
    for j, value in enumerate(columns):
        subset = history if col is None else history[history[col] == value]
        for i, (quantity, label) in enumerate(_QUANTITIES.items()):
            ax = axes[i, j]
            sns.lineplot(
                data=subset, x="epoch", y=quantity, hue=name, hue_order=[h for h in hue_order if h in set(subset[name])],
                palette=palette, errorbar="sd", marker="o" if few_epochs else None, ax=ax, legend=False,
            )
            ax.set(ylabel=label if j == 0 else "", xlabel="epoch" if i == len(_QUANTITIES) - 1 else "")
            if quantity == "test_accuracy":
                ax.set_ylim(0, 1)
            if i == 0 and col:
                ax.set_title(f"{value} input" if col == "level" else f"{col} = {value}")
    handles = [plt.Line2D([], [], color=palette[h], marker="o" if few_epochs else None, label=h) for h in hue_order]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    seeds = int(history.groupby(name)["seed"].nunique().max())
    fig.suptitle(title + (f" (mean ± sd of {seeds} seeds)" if seeds > 1 else ""))
    fig.tight_layout()
    _save(fig, path)


FAMILY_ORDER = ["CNN", "CNN + dropout", "GRU (B3 / B4)", "GRU + dropout", "vanilla RNN", "LSTM", "2-layer GRU", "gradient clipping"]


def accuracy_against_time(runs: pd.DataFrame, path) -> None:
    """Part B: max test accuracy against training time, per run family and
    input level; ±1 sd error bars in both directions with several seeds."""
    summary = (
        runs.groupby(["level", "family"], sort=False)
        .agg(
            accuracy=("max_test_accuracy", "mean"), accuracy_sd=("max_test_accuracy", "std"),
            seconds=("train_seconds", "mean"), seconds_sd=("train_seconds", "std"), seeds=("seed", "count"),
        )
        .reset_index()
    )
    present = set(summary["family"])
    families = [f for f in FAMILY_ORDER if f in present] + sorted(present - set(FAMILY_ORDER))
    palette = dict(zip(families, sns.color_palette("tab10", len(families))))
    markers = dict(zip(families, ["o", "s", "D", "^", "v", "P", "X", "*", "<", ">"]))
    levels = list(dict.fromkeys(summary["level"]))
    fig, axes = plt.subplots(1, len(levels), figsize=(4.4 * len(levels) + 2.2, 4.0), sharey=True, squeeze=False)
    for ax, level in zip(axes[0], levels):
        subset = summary[summary["level"] == level]
        for _, point in subset.iterrows():
            several = point["seeds"] > 1
            ax.errorbar(
                point["seconds"], point["accuracy"],
                xerr=point["seconds_sd"] if several else None, yerr=point["accuracy_sd"] if several else None,
                fmt=markers[point["family"]], color=palette[point["family"]], markersize=9, capsize=3,
                markeredgecolor="black", markeredgewidth=0.5,
            )
        ax.set(title=f"{level} input", ylim=(0, 1))
    low, high = summary["seconds"].min(), summary["seconds"].max()
    logarithmic = low > 0 and high / low > 10
    for ax in axes[0]:
        if logarithmic:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlabel("training time (s, log scale)" if logarithmic else "training time (s)")
    axes[0, 0].set_ylabel("max test accuracy")
    seeds = int(summary["seeds"].max()) if len(summary) else 0
    handles = [
        plt.Line2D([], [], linestyle="", marker=markers[f], color=palette[f], markeredgecolor="black", markersize=9, label=f)
        for f in families
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle("Part B: test accuracy against training time" + (f" (mean ± sd of {seeds} seeds)" if seeds > 1 else ""))
    fig.tight_layout()
    _save(fig, path)


# ---- jobs (scripts/*figure*.py) -------------------------------------------------------

_TITLES = {
    "a4": "A4: all Part A models against the reference report",
    "b5": "B5: text classifiers without and with dropout against the reference report",
    "b6": "B6: recurrent variants against the reference report",
}
_NAME = {"a4": "experiment", "b5": "model", "b6": "variant"}
_ROW = {"a4": None, "b5": "dropout_label", "b6": "level"}
_CURVE_TITLES = {
    "a4": "A4: learning curves of all Part A models",
    "b5": "B5: learning curves of B1–B4 without and with dropout",
    "b6": "B6: learning curves of the recurrent variants",
}


def write_grid_heatmap(runs_csv, optimum_json, grid: dict, output, log=print) -> None:
    runs = tables.grid_runs(report.read_runs(runs_csv), grid["c1"], grid["c2"])
    optimum = report.load_json(optimum_json)
    grid_heatmap(runs, (optimum["c1"], optimum["c2"]), output, grid["c1"], grid["c2"])
    log(f"A2 heatmap of {len(runs)} runs")


def write_comparison_figures(
    question, runs_csv, reference_dir, optimum_json, a1_pair, mask_padding, outputs: dict, log=print
) -> None:
    """A4 / B5 / B6: the chart against the reference and the grouped curves."""
    runs = report.question_runs(
        question, report.read_runs(runs_csv), a1_pair, report.optimum_pair(optimum_json), mask_padding
    )
    reference = report.reference_rows(question, report.read_reference(reference_dir))
    name, row = _NAME[question], _ROW[question]
    comparison_chart(runs, reference, name, _TITLES[question], outputs["chart"], row=row)
    if question == "b5":
        runs = runs.assign(model=[f"{m}{' + dropout' if d > 0 else ''}" for m, d in zip(runs["model"], runs["dropout"])])
    history = history_frame(runs, name)
    curves_overlay(history, name, _CURVE_TITLES[question], outputs["curves"], col="level" if question == "b6" else None)
    log(f"{question}: {len(runs)} runs charted")


def write_accuracy_against_time(runs_csv, mask_padding, output, log=print) -> None:
    part_b = tables.part_b_study_runs(report.read_runs(runs_csv), mask_padding).copy()
    part_b["family"] = [report.part_b_family(row) for _, row in part_b.iterrows()]
    accuracy_against_time(part_b, output)
    log(f"Part B: {len(part_b)} runs")
