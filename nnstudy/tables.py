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
    Path(paths["md"]).write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n")
    html = table.to_html(index=False, float_format="{:.4f}".format, classes="study-table", border=0)
    Path(paths["html"]).write_text(html + "\n")


_ACCURACY = {"max_test_accuracy": "max test acc", "mean_test_accuracy": "mean test acc"}


def a4_table(frame: pd.DataFrame, a1_pair, optimum_pair) -> pd.DataFrame:
    """A4: A1's network, the grid optimum and A3 a–d side by side."""
    table = over_seeds(frame, ["c1", "c2", "optimizer", "dropout"])

    def experiment(row):
        pair = (row["c1"], row["c2"])
        if row["dropout"] > 0:
            return "A3d SGD + dropout"
        if row["optimizer"] != "sgd":
            return {"momentum": "A3a SGD + momentum", "rmsprop": "A3b RMSProp", "adam": "A3c Adam"}[row["optimizer"]]
        return "A1 SGD" if pair == tuple(a1_pair) else "A2 SGD (grid optimum)"

    table.insert(0, "experiment", table.apply(experiment, axis=1))
    if tuple(a1_pair) == tuple(optimum_pair):
        # The A1 pair is also the grid optimum: show that run under both names.
        duplicate = table[table["experiment"] == "A1 SGD"].assign(experiment="A2 SGD (grid optimum)")
        table = pd.concat([table, duplicate], ignore_index=True)
    table = table.sort_values("experiment", kind="stable").reset_index(drop=True)
    return display(
        table,
        ["experiment", "c1", "c2", "optimizer", "dropout"],
        _ACCURACY | {"final_test_accuracy": "final test acc", "seconds_per_epoch": "s / epoch"},
    )


_TEXT_MODEL = {("char", "cnn"): "Char CNN", ("word", "cnn"): "Word CNN", ("char", "gru"): "Char RNN", ("word", "gru"): "Word RNN"}


def b5_table(frame: pd.DataFrame) -> pd.DataFrame:
    """B5: the four models without and with dropout: accuracy and running time."""
    table = over_seeds(frame, ["level", "architecture", "dropout"])
    table.insert(0, "model", [_TEXT_MODEL[(lv, ar)] for lv, ar in zip(table["level"], table["architecture"])])
    table = table.sort_values(["architecture", "level", "dropout"], kind="stable").reset_index(drop=True)
    return display(
        table,
        ["model", "dropout"],
        _ACCURACY | {"train_seconds": "train time (s)", "seconds_per_epoch": "s / epoch"},
    )


def _b6_variant(row) -> str:
    if row["architecture"] == "rnn":
        return "vanilla RNN"
    if row["architecture"] == "lstm":
        return "LSTM"
    if row["layers"] > 1:
        return f"{row['layers']}-layer GRU"
    if pd.notna(row["clip_threshold"]):
        return f"GRU, gradient clipping ({row['clip_mode']} {row['clip_threshold']:g})"
    return "GRU (B3 / B4)"


def b6_table(frame: pd.DataFrame) -> pd.DataFrame:
    """B6: the recurrent variants for char and word input, the GRU as baseline."""
    frame = frame[(frame["architecture"] != "cnn") & (frame["dropout"] == 0)].copy()
    frame["variant"] = frame.apply(_b6_variant, axis=1)
    table = over_seeds(frame, ["variant", "level"])
    table = display(table, ["variant", "level"], _ACCURACY | {"seconds_per_epoch": "s / epoch"})
    order = {"GRU (B3 / B4)": 0, "vanilla RNN": 1, "LSTM": 2}
    return table.sort_values(
        ["variant", "level"], key=lambda s: s.map(lambda v: order.get(v, 3)) if s.name == "variant" else s,
        kind="stable",
    ).reset_index(drop=True)
