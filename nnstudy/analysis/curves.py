"""The shape of a run's learning curves, in numbers: where test accuracy peaks,
whether the test cost turns upward (over-fitting) and how far.

The spec's A1a asks for the cost and accuracy curves over all 1000 epochs; these
numbers let a publication compare their shape with the reference's in words,
computed from the run's history rather than read off a figure.
"""

from __future__ import annotations

import pandas as pd


def shape(history: pd.DataFrame, window: int = 10, rise: float = 0.05) -> dict:
    """The curves of one run (its history: epoch, train/test loss and accuracy).

    Test accuracy: max (and its epoch), mean, final. Test cost: its lowest value
    and epoch, and its final value, the mean of the last `window` epochs; it
    "turns upward" when that lies more than `rise` (5 %) above the lowest mean
    of `window` consecutive epochs (a margin over the epoch-to-epoch noise).
    """
    history = history.sort_values("epoch")
    accuracy, loss = history["test_accuracy"], history["test_loss"]
    lowest = loss.idxmin()
    smoothed = loss.rolling(window, min_periods=1).mean()
    tail = loss.tail(window)
    return {
        "epochs": len(history),
        "max_test_accuracy": float(accuracy.max()),
        "peak_epoch": int(history.loc[accuracy.idxmax(), "epoch"]),
        "mean_test_accuracy": float(accuracy.mean()),
        "final_test_accuracy": float(accuracy.iloc[-1]),
        "lowest_test_loss": float(loss.min()),
        "lowest_test_loss_epoch": int(history.loc[lowest, "epoch"]),
        "final_test_loss": float(tail.mean()),
        "test_loss_turns_upward": bool(tail.mean() > (1 + rise) * smoothed.min()),
        "final_train_loss": float(history["train_loss"].iloc[-1]),
        "final_train_accuracy": float(history["train_accuracy"].iloc[-1]),
    }
