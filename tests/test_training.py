import json
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from nnstudy import metrics
from nnstudy.train import fit, models


def small_split(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((96, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, size=96)
    return fit.Split(x[:64], y[:64], x[64:], y[64:])


def run(
    tmp_path, name, epochs, dropout=0.0, optimizer="adam", logs=None, checkpoint_seconds=60.0, log=None, callbacks=()
):
    def build():
        return fit.compile_model(models.cifar_cnn(10, 20, dropout), models.optimizer(optimizer, 0.001))

    _, history = fit.train(
        build,
        small_split(),
        epochs=epochs,
        batch_size=16,
        seed=3,
        state_dir=tmp_path / name,
        fingerprint={"dropout": dropout, "optimizer": optimizer},
        checkpoint_seconds=checkpoint_seconds,
        callbacks=callbacks,
        log=log or (logs.append if logs is not None else lambda message: None),
    )
    return history


def curves(history):
    keys = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
    return [[entry[key] for key in keys] for entry in history]


def test_same_seed_same_metrics(tmp_path):
    assert curves(run(tmp_path, "a", 2)) == curves(run(tmp_path, "b", 2))


def test_a_finished_run_is_rewritten_from_its_state_without_training(tmp_path):
    """A job run again after it finished (a retried packed allocation) trains no epoch."""
    first = run(tmp_path, "done", 2)
    logs = []
    again = run(tmp_path, "done", 2, logs=logs)
    state = tmp_path / "done"
    assert logs == [
        f"all 2 epochs are in the resume state {state}: writing the outputs from it (delete it to train afresh)"
    ]
    assert again == first


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_resumed_run_equals_uninterrupted_run(tmp_path, dropout):
    logs = []
    run(tmp_path, "resumed", 2, dropout)  # "killed" after epoch 2
    resumed = run(tmp_path, "resumed", 4, dropout, logs=logs)
    straight = run(tmp_path, "straight", 4, dropout)
    assert any("resuming after epoch 2 of 4" in line for line in logs)
    assert [entry["epoch"] for entry in resumed] == [1, 2, 3, 4]
    np.testing.assert_allclose(curves(resumed), curves(straight), rtol=1e-6)


def test_sigkill_between_checkpoints_loses_at_most_the_interval(tmp_path):
    """A real SIGKILL of a training process that checkpoints every second.

    The state on disk lags the epochs the process had finished; the rerun
    resumes from it and still ends in the uninterrupted run's history.
    """
    epochs = 60
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parents[1])!r}]\n"
        "from pathlib import Path\n"
        "from test_training import run\n"
        f"run(Path({str(tmp_path)!r}), 'killed', {epochs}, 0.5, checkpoint_seconds=1.0,"
        " log=lambda message: print(message, flush=True))\n"
    )
    job = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    state = tmp_path / "killed" / "history.json"
    finished = 0
    for line in job.stdout:
        if line.startswith("epoch "):
            finished = int(line.split()[1].split("/")[0])
        if state.is_file() and finished >= len(json.loads(state.read_text())["history"]) + 3:
            job.kill()
            break
    job.wait()
    assert job.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    saved = len(json.loads(state.read_text())["history"])
    assert 1 <= saved < finished < epochs

    logs = []
    resumed = run(tmp_path, "killed", epochs, 0.5, logs=logs)
    straight = run(tmp_path, "straight", epochs, 0.5)
    assert f"resuming after epoch {saved} of {epochs} from {tmp_path / 'killed'}" in logs
    assert [entry["epoch"] for entry in resumed] == list(range(1, epochs + 1))
    np.testing.assert_allclose(curves(resumed), curves(straight), rtol=1e-6)


def test_backend_cannot_change_once_keras_runs():
    """A job must not record one backend while Keras trains on another."""
    from nnstudy.errors import StudyError
    from nnstudy.train import runtime

    assert keras.backend.backend() == "tensorflow"
    with pytest.raises(StudyError, match="Keras already runs on tensorflow, not jax"):
        runtime.prepare("jax")


def test_state_from_other_settings_is_discarded(tmp_path):
    logs = []
    run(tmp_path, "state", 1, optimizer="adam")
    history = run(tmp_path, "state", 2, optimizer="rmsprop", logs=logs)
    assert any("settings or data changed" in line for line in logs)
    assert [entry["epoch"] for entry in history] == [1, 2]


def test_state_of_other_data_of_the_same_size_is_discarded(tmp_path):
    logs = []
    run(tmp_path, "state", 1)

    def build():
        return fit.compile_model(models.cifar_cnn(10, 20), models.optimizer("adam", 0.001))

    _, history = fit.train(
        build,
        small_split(seed=1),
        epochs=2,
        batch_size=16,
        seed=3,
        state_dir=tmp_path / "state",
        fingerprint={"dropout": 0.0, "optimizer": "adam"},
        log=logs.append,
    )
    assert (
        logs[0] == f"discarding resume state in {tmp_path / 'state'}: settings or data changed; starting from epoch 1"
    )
    assert [entry["epoch"] for entry in history] == [1, 2]


@pytest.mark.parametrize("damaged", ["history.json", "epoch-00002.keras"])
def test_damaged_state_is_discarded_with_one_line(tmp_path, damaged):
    """A truncated history or model file (a full disk, a copy cut short) costs a fresh start, not a traceback."""
    run(tmp_path, "state", 2)
    path = tmp_path / "state" / damaged
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    logs = []
    history = run(tmp_path, "state", 3, logs=logs)
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    discarded = [line for line in logs if line.startswith("discarding")]
    assert len(discarded) == 1 and f"unreadable {damaged}" in discarded[0]


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


def test_a_state_saved_before_code_identities_is_adopted_once(tmp_path):
    """Finished runs made before states recorded their code keep their results: the
    first load takes the state as today's code's and writes today's identity into it."""
    first = run(tmp_path, "legacy", 2)
    history_file = tmp_path / "legacy" / "history.json"
    saved = json.loads(history_file.read_text())
    del saved["code"]
    history_file.write_text(json.dumps(saved))
    logs = []
    state = fit.ResumeState(tmp_path / "legacy", saved["fingerprint"], code=code("today", [1.0, 2.0]))
    model, history = state.load(2, logs.append)
    assert model is not None and history == first
    assert logs[0] == f"the resume state in {tmp_path / 'legacy'} predates code identities: taken as made by this code"
    assert json.loads(history_file.read_text())["code"]["source"] == "today"


@pytest.mark.parametrize("legacy, kept", [("08256a1fa1d2b038", True), ("0123456789abcdef", False)])
def test_a_legacy_identity_resumes_only_where_measured_equivalent(tmp_path, legacy, kept):
    """A half-finished state saved by an older checkout (its code a hash of seven modules) resumes where
    bench/identity_equivalence.py measured that checkout to compute what today's code computes (f61cc14's JAX
    identity here), and starts afresh otherwise."""
    run(tmp_path, "old", 2)
    history_file = tmp_path / "old" / "history.json"
    saved = json.loads(history_file.read_text())
    history_file.write_text(json.dumps(saved | {"code": legacy}))
    logs = []
    state = fit.ResumeState(tmp_path / "old", saved["fingerprint"], code=code("today", [1.0, 2.0]))
    model, history = state.load(3, logs.append)
    assert (model is not None and len(history) == 2) == kept
    assert any("the training code changed" in line for line in logs) != kept


def code(source, behaviour, device="CPU"):
    environment = {"backend": "tensorflow", "libraries": {"keras": "3"}, "device": device}
    return {"source": source, "environment": environment, "behaviour": behaviour}


@pytest.mark.parametrize(
    "today, kept",
    [
        (code("refactored", [1.0, 2.0 * (1 + 1e-6)]), True),  # another source computing the same: a refactor
        (code("changed", [1.0, 2.1]), False),  # another computation: a changed model, data feed or engine
        (code("saved", [1.0, 2.0], device="GPU"), False),  # the same code on other libraries or devices
    ],
)
def test_a_state_is_reused_by_code_that_computes_the_same(tmp_path, today, kept):
    def load(identity, logs):
        state = fit.ResumeState(tmp_path / "run", {"settings": 1}, code=identity)
        return state.load(2, logs.append)

    model, _ = load(code("saved", [1.0, 2.0]), [])
    assert model is None
    state = fit.ResumeState(tmp_path / "run", {"settings": 1}, code=code("saved", [1.0, 2.0]))
    state.save(training_model(), [{"epoch": 1}])
    logs = []
    model, history = load(today, logs)
    assert (model is not None) == kept and len(history) == int(kept)
    if not kept:
        assert logs[0].startswith(f"discarding resume state in {tmp_path / 'run'}: the ")


def training_model():
    return fit.compile_model(models.cifar_cnn(4, 6), models.optimizer("sgd", 0.001))


def text_split(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 50, size=(80, 20)).astype("int32")
    y = rng.integers(0, 3, size=80)
    return fit.Split(x[:64], y[:64], x[64:], y[64:])


def clipped_run(tmp_path, mode, threshold, epochs=2, optimizer=None):
    def build():
        model = models.text_classifier("word", "gru", 3, 50, 20)
        return fit.compile_model(model, optimizer or models.optimizer("adam", 0.01, 0.0, mode, threshold))

    state = tmp_path / f"{mode}-{threshold}-{optimizer is None}"
    return fit.train(
        build, text_split(), epochs=epochs, batch_size=16, seed=1, state_dir=state, fingerprint={}, log=lambda m: None
    )[1]


@pytest.mark.parametrize("mode", ["value", "norm", "global_norm"])
def test_clip_rate_counts_the_updates_the_clip_acted_on(tmp_path, mode):
    assert [entry["clip_rate"] for entry in clipped_run(tmp_path, mode, 1e-6)] == [1.0, 1.0]
    never = clipped_run(tmp_path, mode, 1e6)
    assert [entry["clip_rate"] for entry in never] == [0.0, 0.0]
    assert metrics.summarize(never)["clip_rate"] == 0.0
    assert "clip_rate" not in clipped_run(tmp_path, None, None)[0]


def test_counting_clips_changes_no_number_and_survives_a_resume(tmp_path):
    plain = keras.optimizers.Adam(0.01, clipvalue=0.05)
    assert curves(clipped_run(tmp_path, "value", 0.05, 3)) == curves(clipped_run(tmp_path, "value", 0.05, 3, plain))
    clipped_run(tmp_path / "resumed", "value", 0.05, 2)
    resumed = clipped_run(tmp_path / "resumed", "value", 0.05, 3)
    assert curves(resumed) == curves(clipped_run(tmp_path, "value", 0.05, 3))
    assert all(0.0 < entry["clip_rate"] <= 1.0 for entry in resumed)
