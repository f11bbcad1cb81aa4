import json

import numpy as np
import pytest

from nnstudy import metrics, models, training


def small_split(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((96, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, size=96)
    return training.Split(x[:64], y[:64], x[64:], y[64:])


def run(tmp_path, name, epochs, dropout=0.0, optimizer="adam", logs=None):
    def build():
        return training.compile_model(models.cifar_cnn(10, 20, dropout), models.optimizer(optimizer, 0.001))

    _, history = training.fit(
        build, small_split(), epochs=epochs, batch_size=16, seed=3,
        state_dir=tmp_path / name, fingerprint={"dropout": dropout, "optimizer": optimizer},
        log=(logs.append if logs is not None else lambda message: None),
    )
    return history


def curves(history):
    return [[entry[key] for key in training.HISTORY_KEYS] for entry in history]


def test_same_seed_same_metrics(tmp_path):
    assert curves(run(tmp_path, "a", 2)) == curves(run(tmp_path, "b", 2))


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_resumed_run_equals_uninterrupted_run(tmp_path, dropout):
    logs = []
    run(tmp_path, "resumed", 2, dropout)  # "killed" after epoch 2
    resumed = run(tmp_path, "resumed", 4, dropout, logs=logs)
    straight = run(tmp_path, "straight", 4, dropout)
    assert any("resuming after epoch 2 of 4" in line for line in logs)
    assert [entry["epoch"] for entry in resumed] == [1, 2, 3, 4]
    np.testing.assert_allclose(curves(resumed), curves(straight), rtol=1e-6)


def test_state_from_other_settings_is_discarded(tmp_path):
    logs = []
    run(tmp_path, "state", 1, optimizer="adam")
    history = run(tmp_path, "state", 2, optimizer="rmsprop", logs=logs)
    assert any("settings changed" in line for line in logs)
    assert [entry["epoch"] for entry in history] == [1, 2]


def test_state_keeps_one_model_file_and_names_it(tmp_path):
    run(tmp_path, "state", 3)
    saved = json.loads((tmp_path / "state" / "history.json").read_text())
    assert [p.name for p in (tmp_path / "state").glob("*.keras")] == [saved["model_file"]] == ["epoch-00003.keras"]


def test_summary():
    history = [
        {"epoch": 1, "train_loss": 2.0, "test_loss": 2.1, "test_accuracy": 0.2, "seconds": 3.0},
        {"epoch": 2, "train_loss": 1.5, "test_loss": 1.9, "test_accuracy": 0.5, "seconds": 2.0},
        {"epoch": 3, "train_loss": 1.2, "test_loss": 2.0, "test_accuracy": 0.4, "seconds": 1.0},
    ]
    summary = metrics.summarize(history)
    assert summary["best_epoch"] == 2
    assert summary["max_test_accuracy"] == 0.5
    assert summary["final_test_accuracy"] == 0.4
    assert summary["mean_test_accuracy"] == pytest.approx(1.1 / 3)
    assert summary["train_seconds"] == 6.0 and summary["seconds_per_epoch"] == 2.0
