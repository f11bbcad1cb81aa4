"""From per-run metrics.json files to tidy frames and the study's tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nnstudy import metrics

SUMMARY_COLUMNS = [
    "max_test_accuracy",
    "mean_test_accuracy",
    "final_test_accuracy",
    "best_epoch",
    "seconds_per_epoch",
    "train_seconds",
]


def collect(metric_files) -> pd.DataFrame:
    """One row per run: identity, hyper-parameters, summary, cost, device."""
    rows = []
    for path in metric_files:
        document = metrics.read(path)
        rows.append(
            {
                "run": document["run"],
                "part": document["part"],
                "label": document["label"],
                "seed": document["seed"],
                **document["hyperparameters"],
                **document["summary"],
                "parameters": document["parameters"],
                "job_seconds": document["job_seconds"],
                "device": document["device"]["type"],
                "epochs_run": len(document["history"]),
            }
        )
    return pd.DataFrame(rows)


def over_seeds(frame: pd.DataFrame, by: list[str], values=SUMMARY_COLUMNS) -> pd.DataFrame:
    """Mean, standard deviation and count of `values` over seeds, per `by` group."""
    grouped = frame.groupby(by, sort=False, dropna=False)[list(values)]
    summary = grouped.mean()
    spread = grouped.std(ddof=1).add_suffix("_std")
    counts = grouped.size().rename("seeds")
    return pd.concat([summary, spread, counts], axis=1).reset_index()


def with_spread(frame: pd.DataFrame, column: str, digits: int = 4) -> pd.Series:
    """"mean ± std" text when a group has several seeds, else the mean."""
    def cell(row):
        value = f"{row[column]:.{digits}f}"
        if row["seeds"] > 1:
            value += f" ± {row[column + '_std']:.{digits}f}"
        return value

    return frame.apply(cell, axis=1)


def grid_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A2: every (c1, c2) pair with max and mean test accuracy, best first."""
    table = over_seeds(frame, ["c1", "c2"])
    return table.sort_values("max_test_accuracy", ascending=False, kind="stable").reset_index(drop=True)


def best_pair(frame: pd.DataFrame) -> tuple[int, int]:
    """The grid pair with the highest max test accuracy (ties: fewer parameters)."""
    table = over_seeds(frame, ["c1", "c2"], ["max_test_accuracy", "mean_test_accuracy"])
    best = table.sort_values(
        ["max_test_accuracy", "mean_test_accuracy", "c1", "c2"],
        ascending=[False, False, True, True],
        kind="stable",
    ).iloc[0]
    return int(best["c1"]), int(best["c2"])


def display(table: pd.DataFrame, identity: list[str], columns: dict[str, str], digits: int = 4) -> pd.DataFrame:
    """A readable table: identity columns, then "mean ± std" summary columns."""
    shown = table[identity].copy()
    for column, title in columns.items():
        shown[title] = with_spread(table, column, digits)
    shown["seeds"] = table["seeds"]
    return shown


def write(table: pd.DataFrame, paths: dict) -> None:
    """Write a table to the CSV, Markdown and HTML paths given (keys csv/md/html)."""
    table.to_csv(paths["csv"], index=False)
    # The cells are text already ("0.8571 ± 0.0100", "+0.0143"): keep them as they are.
    Path(paths["md"]).write_text(table.to_markdown(index=False, disable_numparse=True) + "\n")
    html = table.to_html(index=False, float_format="{:.4f}".format, classes="study-table", border=0)
    Path(paths["html"]).write_text(html + "\n")


# ---- the study's names for its runs, shared by tables, figures and report ----

A3_NAMES = {"momentum": "A3a SGD + momentum", "rmsprop": "A3b RMSProp", "adam": "A3c Adam"}
TEXT_MODELS = {("char", "cnn"): "Char CNN", ("word", "cnn"): "Word CNN", ("char", "gru"): "Char RNN", ("word", "gru"): "Word RNN"}
B6_ORDER = ["GRU (B3 / B4)", "vanilla RNN", "LSTM", "2-layer GRU", "gradient clipping"]


def _pair(row) -> tuple[int, int]:
    return int(row["c1"]), int(row["c2"])


def a4_models(frame: pd.DataFrame, a1_pair, optimum_pair) -> pd.DataFrame:
    """Part A runs of A4 with an `experiment` column ("A1 SGD" … "A3d SGD + dropout").

    A run of the A1 pair that is also the grid optimum appears under both names.
    """
    a1_pair, optimum_pair = tuple(int(v) for v in a1_pair), tuple(int(v) for v in optimum_pair)
    rows = []
    for _, row in frame[frame["part"] == "A"].iterrows():
        pair, dropout, optimizer = _pair(row), float(row["dropout"]), row["optimizer"]
        names = []
        if optimizer == "sgd" and dropout == 0:
            if pair == a1_pair:
                names.append("A1 SGD")
            if pair == optimum_pair:
                names.append("A2 SGD (grid optimum)")
        elif pair == optimum_pair:
            names.append("A3d SGD + dropout" if dropout > 0 else A3_NAMES.get(optimizer, f"A3 {optimizer}"))
        rows += [row.to_dict() | {"experiment": name} for name in names]
    result = pd.DataFrame(rows, columns=["experiment", *frame.columns])
    return result.sort_values(["experiment", "seed"], kind="stable").reset_index(drop=True)


def grid_runs(frame: pd.DataFrame, c1_values, c2_values) -> pd.DataFrame:
    """A2: the SGD runs without dropout over the configured grid."""
    part_a = frame[(frame["part"] == "A") & (frame["optimizer"] == "sgd") & (frame["dropout"] == 0)]
    return part_a[part_a["c1"].isin(list(c1_values)) & part_a["c2"].isin(list(c2_values))].reset_index(drop=True)


def part_b_study_runs(frame: pd.DataFrame, mask_padding: bool = False) -> pd.DataFrame:
    """The Part B runs of B5 and B6: word-level RNNs with the study's padding
    setting only (the masking ablation trains the other setting too)."""
    part_b = frame[frame["part"] == "B"]
    masked = _masked(part_b)
    ablation_only = (part_b["level"] == "word") & (part_b["architecture"] != "cnn") & (masked != mask_padding)
    return part_b[~ablation_only]


def _masked(runs: pd.DataFrame) -> pd.Series:
    """Whether each run masked its padding (runs from before the setting: no)."""
    if "mask_padding" not in runs:
        return pd.Series(False, index=runs.index)
    return runs["mask_padding"].fillna(False).astype(bool)


def b5_models(frame: pd.DataFrame, mask_padding: bool = False) -> pd.DataFrame:
    """B1–B4 with and without dropout: `model` and `dropout_label` columns."""
    part_b = part_b_study_runs(frame, mask_padding)
    plain = (part_b["layers"] == 1) & part_b["clip_threshold"].isna() & part_b["architecture"].isin(["cnn", "gru"])
    runs = part_b[plain].copy()
    runs["model"] = [TEXT_MODELS[(lv, ar)] for lv, ar in zip(runs["level"], runs["architecture"])]
    runs["dropout_label"] = ["with dropout" if d > 0 else "without dropout" for d in runs["dropout"]]
    order = {name: i for i, name in enumerate(["Char CNN", "Word CNN", "Char RNN", "Word RNN"])}
    runs["_order"] = runs["model"].map(order)
    return runs.sort_values(["_order", "dropout", "seed"], kind="stable").drop(columns="_order").reset_index(drop=True)


def b6_variant(row) -> str | None:
    """The B6 name of a recurrent run without dropout, else None."""
    if row["architecture"] == "cnn" or row["dropout"] > 0:
        return None
    if row["architecture"] == "rnn":
        return "vanilla RNN"
    if row["architecture"] == "lstm":
        return "LSTM"
    if row["layers"] > 1:
        return f"{int(row['layers'])}-layer GRU"
    if pd.notna(row["clip_threshold"]):
        return "gradient clipping"
    return "GRU (B3 / B4)"


def b6_models(frame: pd.DataFrame, mask_padding: bool = False) -> pd.DataFrame:
    """B6: the char / word GRU and its variants, with a `variant` column."""
    part_b = part_b_study_runs(frame, mask_padding).copy()
    part_b["variant"] = [b6_variant(row) for _, row in part_b.iterrows()]
    runs = part_b[part_b["variant"].notna()].copy()
    runs["_order"] = runs["variant"].map(lambda v: B6_ORDER.index(v) if v in B6_ORDER else len(B6_ORDER))
    return runs.sort_values(["_order", "level", "seed"], kind="stable").drop(columns="_order").reset_index(drop=True)



_ACCURACY = {"max_test_accuracy": "max test acc", "mean_test_accuracy": "mean test acc"}


def a4_table(frame: pd.DataFrame, a1_pair, optimum_pair) -> pd.DataFrame:
    """A4: A1's network, the grid optimum and A3 a–d side by side."""
    table = over_seeds(a4_models(frame, a1_pair, optimum_pair), ["experiment", "c1", "c2", "optimizer", "dropout"])
    return display(
        table,
        ["experiment", "c1", "c2", "optimizer", "dropout"],
        _ACCURACY | {"final_test_accuracy": "final test acc", "seconds_per_epoch": "s / epoch"},
    )


def b5_table(frame: pd.DataFrame, mask_padding: bool = False) -> pd.DataFrame:
    """B5: the four models without and with dropout: accuracy and running time."""
    table = over_seeds(b5_models(frame, mask_padding), ["model", "dropout"])
    return display(
        table,
        ["model", "dropout"],
        _ACCURACY | {"train_seconds": "train time (s)", "seconds_per_epoch": "s / epoch"},
    )


def masking_models(frame: pd.DataFrame) -> pd.DataFrame:
    """The masking ablation: word-level RNNs without dropout, with `variant`
    and `padding` ("unmasked" / "masked") columns."""
    runs = frame[(frame["part"] == "B") & (frame["level"] == "word") & (frame["architecture"] != "cnn")].copy()
    runs["variant"] = [b6_variant(row) for _, row in runs.iterrows()]
    runs = runs[runs["variant"].notna()].copy()
    runs["padding"] = _masked(runs).map({True: "masked", False: "unmasked"})
    runs["_order"] = runs["variant"].map(lambda v: B6_ORDER.index(v) if v in B6_ORDER else len(B6_ORDER))
    return runs.sort_values(["_order", "padding", "seed"], ascending=[True, False, True], kind="stable").drop(
        columns="_order"
    ).reset_index(drop=True)


def masking_gains(frame: pd.DataFrame) -> dict:
    """What masking adds to each word-level RNN's max test accuracy (mean over
    seeds): {"mean", "largest", "smallest"}, the last two as (variant, gain);
    None values without both paddings."""
    by_padding = masking_models(frame).groupby(["variant", "padding"], sort=False)["max_test_accuracy"].mean()
    by_padding = by_padding.unstack().reindex(columns=["unmasked", "masked"])
    gains = (by_padding["masked"] - by_padding["unmasked"]).dropna()
    if gains.empty:
        return {"mean": None, "largest": None, "smallest": None}
    return {
        "mean": float(gains.mean()),
        "largest": (str(gains.idxmax()), float(gains.max())),
        "smallest": (str(gains.idxmin()), float(gains.min())),
    }


def masking_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Each word-level RNN unmasked beside masked: max and mean test accuracy
    and what masking adds to the max."""
    summary = over_seeds(masking_models(frame), ["variant", "padding"], list(_ACCURACY))
    unmasked, masked = (
        display(summary[summary["padding"] == padding], ["variant"], {c: f"{t} ({padding})" for c, t in _ACCURACY.items()})
        for padding in ("unmasked", "masked")
    )
    # A left merge keeps the study's order (an outer one sorts by name).
    table = summary[["variant"]].drop_duplicates().merge(unmasked.drop(columns="seeds"), how="left")
    table = table.merge(masked, how="left")
    best = summary.pivot(index="variant", columns="padding", values="max_test_accuracy")
    best = best.reindex(columns=["unmasked", "masked"])
    gain = table["variant"].map(best["masked"] - best["unmasked"])
    table.insert(len(table.columns) - 1, "masking gain (max)", gain.map(lambda v: "–" if pd.isna(v) else f"{v:+.4f}"))
    return table


def b6_table(frame: pd.DataFrame, mask_padding: bool = False) -> pd.DataFrame:
    """B6: the recurrent variants for char and word input, the GRU as baseline."""
    table = over_seeds(b6_models(frame, mask_padding), ["variant", "level"])
    return display(table, ["variant", "level"], _ACCURACY | {"seconds_per_epoch": "s / epoch"})
