"""The shape of a run's learning curves (nnstudy.analysis.curves), on histories with a known shape."""

import numpy as np
import pandas as pd

from nnstudy.analysis import curves


def history(test_loss, test_accuracy):
    epochs = np.arange(1, len(test_loss) + 1)
    return pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 2.0 / epochs,
            "train_accuracy": 1 - 1 / (epochs + 1),
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
        }
    )


def test_an_over_fitting_run_peaks_early_and_its_test_cost_turns_upward():
    epochs = np.arange(1, 201)
    loss = 1.0 + ((epochs - 60) / 100.0) ** 2  # lowest at epoch 60, then rising
    accuracy = 0.5 - ((epochs - 50) / 400.0) ** 2  # best at epoch 50
    found = curves.shape(history(loss, accuracy))
    assert (found["peak_epoch"], found["lowest_test_loss_epoch"], found["epochs"]) == (50, 60, 200)
    assert found["max_test_accuracy"] == 0.5 and found["test_loss_turns_upward"]
    assert found["final_test_loss"] > found["lowest_test_loss"] + 1


def test_a_run_still_learning_does_not_turn_upward():
    rng = np.random.default_rng(0)
    epochs = np.arange(1, 101)
    found = curves.shape(history(2.0 / np.sqrt(epochs) + rng.normal(0, 1e-3, 100), 1 - 1 / (epochs + 1)))
    assert found["peak_epoch"] == 100 and not found["test_loss_turns_upward"]
