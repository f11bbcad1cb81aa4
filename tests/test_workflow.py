"""The real workflow on the smoke preset and the course data."""

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml
from conftest import CIFAR_DIR, SNAKEMAKE, copy_workflow, smoke_config, snakemake

from nnstudy import metrics

pytestmark = pytest.mark.integration

TABLES = ["a2_grid", "a4_comparison", "b5_models", "b6_rnn_variants"]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_smoke_study_produces_every_output(request, backend):
    """The whole smoke study, once on each Keras backend (CPU)."""
    smoke_run = request.getfixturevalue("smoke_run" if backend == "tensorflow" else "smoke_run_jax")
    part_a = sorted((smoke_run / "results/part_a/runs").glob("*/metrics.json"))
    part_b = sorted((smoke_run / "results/part_b/runs").glob("*/metrics.json"))
    assert len(part_a) == 25 + 4  # the grid, then A3 a–d with the chosen pair
    assert len(part_b) == 16
    for path in part_a + part_b:
        document = metrics.read(path)
        assert [entry["epoch"] for entry in document["history"]] == [1, 2]
        assert document["device"]["type"] == "CPU"
        assert document["device"]["backend"] == document["hyperparameters"]["backend"] == backend
        assert {backend, "keras", "python"} <= document["versions"].keys()
        assert 0 <= document["summary"]["max_test_accuracy"] <= 1
        for plot in ("costs.png", "accuracies.png", "model.keras"):
            assert (path.parent / plot).stat().st_size > 0
    a1 = metrics.read(smoke_run / "results/part_a/runs/c1-50_c2-60_sgd_dropout-0_seed-1/metrics.json")
    assert a1["parameters"] == 378_570 and a1["hyperparameters"]["train_size"] == 256
    grid = pd.read_csv(smoke_run / "results/tables/a2_grid.csv")
    assert len(grid) == 25
    optimum = json.loads((smoke_run / "results/part_a/optimum.json").read_text())
    assert (optimum["c1"], optimum["c2"]) == (grid.loc[0, "c1"], grid.loc[0, "c2"])
    a4 = pd.read_csv(smoke_run / "results/tables/a4_comparison.csv")
    assert {"A1 SGD", "A2 SGD (grid optimum)", "A3a SGD + momentum", "A3b RMSProp", "A3c Adam", "A3d SGD + dropout"} == set(a4["experiment"])
    assert len(pd.read_csv(smoke_run / "results/tables/b5_models.csv")) == 8
    assert len(pd.read_csv(smoke_run / "results/tables/b6_rnn_variants.csv")) == 10
    for table in TABLES:
        assert (smoke_run / f"results/tables/{table}.md").read_text().startswith("|")
        assert "<table" in (smoke_run / f"results/tables/{table}.html").read_text()
    for index in (1, 2):
        assert (smoke_run / f"results/part_a/feature_maps/test_image_{index}.png").stat().st_size > 0
    vocabulary = json.loads((smoke_run / "results/part_b/data/vocabulary.json").read_text())
    assert vocabulary["num_classes"] == 14 and vocabulary["vocabulary"][:2] == ["<pad>", "<unk>"]
    assert not list((smoke_run / "resume").rglob("*.keras")), "resume state left after success"
    benchmark = next((smoke_run / "benchmarks").rglob("*.tsv"))
    assert benchmark.read_text().startswith("s\t")


def test_nothing_left_to_do_after_the_study(smoke_run):
    result = snakemake(smoke_run, "-n", *smoke_config())
    assert "Nothing to be done" in result.stdout + result.stderr


def test_rerun_one_target(smoke_run):
    target = "results/part_b/runs/word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1/metrics.json"
    before = metrics.read(smoke_run / target)
    (smoke_run / target).unlink()
    result = snakemake(smoke_run, "--cores", "2", target, *smoke_config())
    assert "1 of 1 steps (100%) done" in result.stderr
    after = metrics.read(smoke_run / target)
    assert [e["test_accuracy"] for e in after["history"]] == [e["test_accuracy"] for e in before["history"]]


def test_killed_training_job_resumes(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    extra = tmp_path / "longer.yaml"
    # Checkpoint after every epoch, so that the kill comes after a known one.
    extra.write_text(yaml.safe_dump({
        "presets": {"smoke": {"part_a": {"epochs": 8, "train_limit": 512}}},
        "training": {"checkpoint_seconds": 0},
    }))
    run_dir = "results/part_a/runs/c1-10_c2-20_sgd_dropout-0_seed-1"
    args = [str(SNAKEMAKE), "--cores", "1", f"{run_dir}/metrics.json", "--configfile", str(extra), *smoke_config()]
    state = workflow / "resume" / run_dir / "history.json"
    job = subprocess.Popen(args, cwd=workflow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None:
        if state.is_file() and len(json.loads(state.read_text())["history"]) >= 2:
            break
        time.sleep(0.2)
    assert job.poll() is None, "the job finished before it could be killed"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    done = len(json.loads(state.read_text())["history"])
    assert 2 <= done < 8
    assert not (workflow / run_dir / "metrics.json").exists()

    # A SIGKILL leaves Snakemake's lock behind; a user unlocks, then reruns.
    snakemake(workflow, "--unlock", *smoke_config())
    snakemake(workflow, "--cores", "1", f"{run_dir}/metrics.json", "--configfile", str(extra), *smoke_config())
    history = metrics.read(workflow / run_dir / "metrics.json")["history"]
    assert [entry["epoch"] for entry in history] == list(range(1, 9))
    log = (workflow / "logs" / f"{run_dir}.log").read_text()
    assert f"resuming after epoch {done} of 8" in log
    assert not state.exists()


def test_corrupt_data_fails_the_job_with_one_line(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    data = tmp_path / "cifar10"
    data.mkdir()
    for name in ("test_batch_trim", "batches.meta"):
        (data / name).write_bytes((CIFAR_DIR / name).read_bytes())
    (data / "data_batch_1").write_bytes((CIFAR_DIR / "data_batch_1").read_bytes()[:100_000])
    target = "results/part_a/runs/c1-10_c2-20_sgd_dropout-0_seed-1/metrics.json"
    result = snakemake(workflow, "--cores", "1", target, "--config", "preset=smoke", f"cifar10_dir={data}", check=False)
    assert result.returncode != 0
    assert f"error in rule train_cifar: {data}/data_batch_1: truncated or corrupt pickle" in result.stderr
    log = (workflow / "logs" / target.replace("/metrics.json", ".log")).read_text()
    assert "Traceback" not in log
    assert not (workflow / target).exists()


def test_backend_and_precision_per_model_family(tmp_path):
    """Word GRU on JAX in float32, word CNN on TensorFlow in bfloat16: each metrics.json says what trained it."""
    workflow = copy_workflow(tmp_path / "workflow")
    extra = tmp_path / "engine.yaml"
    extra.write_text(yaml.safe_dump({"training": {"backend": {"text_rnn": "jax"}, "precision": {"text_cnn": "mixed_bfloat16"}}}))
    runs = {
        ("jax", "float32"): "results/part_b/runs/word-gru_layers-1_dropout-0.5_clip-none_padding-unmasked_seed-1",
        ("tensorflow", "mixed_bfloat16"): "results/part_b/runs/word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1",
    }
    targets = [f"{run}/metrics.json" for run in runs.values()]
    snakemake(workflow, "--cores", "2", *targets, "--configfile", str(extra), *smoke_config())
    for (backend, precision), run in runs.items():
        document = metrics.read(workflow / run / "metrics.json")
        assert document["device"]["backend"] == document["hyperparameters"]["backend"] == backend
        assert document["hyperparameters"]["precision"] == document["device"]["precision"] == precision
        assert backend in document["versions"]
        assert [entry["epoch"] for entry in document["history"]] == [1, 2]


def test_masking_ablation_runs_and_refuses_models_without_padding_to_mask(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    masked = "results/part_b/runs/word-lstm_layers-1_dropout-0_clip-none_padding-masked_seed-1"
    snakemake(workflow, "--cores", "1", f"{masked}/metrics.json", *smoke_config())
    assert metrics.read(workflow / masked / "metrics.json")["hyperparameters"]["mask_padding"] is True

    char = "results/part_b/runs/char-gru_layers-1_dropout-0_clip-none_padding-masked_seed-1"
    result = snakemake(workflow, "--cores", "1", f"{char}/metrics.json", *smoke_config(), check=False)
    assert result.returncode != 0
    assert "error in rule train_text: padding can be masked for word-level recurrent models only, not char gru" in result.stderr
    assert not (workflow / char / "metrics.json").exists()
