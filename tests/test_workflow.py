"""The real workflow on the smoke preset and the course data."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml
from conftest import (
    CIFAR_DIR,
    REPO,
    SNAKEMAKE,
    copy_workflow,
    nnstudy_status,
    smoke_config,
    smoke_run_config,
    snakemake,
    status_rows,
)

from nnstudy import metrics

pytestmark = pytest.mark.integration

TABLES = ["a2", "a4", "b5", "b6", "masking"]


def assert_runs(paths, backend, engine):
    """Every run's files, 2 epochs each, trained by `backend`'s `engine` on the CPU."""
    for path in paths:
        document = metrics.read(path)
        assert [entry["epoch"] for entry in document["history"]] == [1, 2]
        assert document["device"]["type"] == "CPU"
        assert document["device"]["backend"] == document["hyperparameters"]["backend"] == backend
        assert document["hyperparameters"].get("engine", "fit") == engine
        assert {backend, "keras", "python"} <= document["versions"].keys()
        assert 0 <= document["summary"]["max_test_accuracy"] <= 1
        for plot in ("costs.png", "accuracies.png", "model.keras"):
            assert (path.parent / plot).stat().st_size > 0


def test_smoke_study_produces_every_output(smoke_run):
    """The whole smoke study: the grid and A3 a–d with the chosen pair, packed on the scan
    engine; B5, B6 and the masked runs (CNNs on TensorFlow, RNNs on JAX). Every run keeps
    its own files and log lines."""
    runs = smoke_run / "results/part_b/runs"
    part_a = sorted((smoke_run / "results/part_a/runs").glob("*/metrics.json"))
    part_b = sorted(runs.glob("*/metrics.json"))
    cnns = [path for path in part_b if "-cnn_" in path.parent.name]
    rnns = [path for path in part_b if path not in cnns]
    assert (len(part_a), len(cnns), len(rnns)) == (4 + 4 + 1, 4, 17 + 2)  # the ablations: course layout, global norm
    assert_runs(part_a, "jax", "scan")
    assert_runs(cnns, "tensorflow", "fit")
    assert_runs(rnns, "jax", "fit")
    a1 = metrics.read(smoke_run / "results/part_a/runs/c1-50_c2-60_sgd_dropout-0_seed-1/metrics.json")
    assert a1["parameters"] == 378_570 and a1["hyperparameters"]["train_size"] == 256
    assert {metrics.read(path)["hyperparameters"]["matmul_precision"] for path in part_a} == {"float32"}
    packs = sorted(path.name.split("_")[0] for path in (smoke_run / "logs/part_a/packs").glob("*.log"))
    assert packs == ["a3", "grid"]
    a1_log = (smoke_run / "logs/results/part_a/runs/c1-50_c2-60_sgd_dropout-0_seed-1.log").read_text()
    assert "] epoch 2/2  train loss" in a1_log and "done: max test accuracy" in a1_log
    grid = pd.read_csv(smoke_run / "results/tables/a2.csv")
    assert len(grid) == 4
    optimum = json.loads((smoke_run / "results/part_a/optimum.json").read_text())
    assert (optimum["c1"], optimum["c2"]) == (grid.loc[0, "c1"], grid.loc[0, "c2"])
    a4 = pd.read_csv(smoke_run / "results/tables/a4.csv")
    assert {
        "A1 SGD",
        "A2 SGD (grid optimum)",
        "A3a SGD + momentum",
        "A3b RMSProp",
        "A3c Adam",
        "A3d SGD + dropout",
    } == set(a4["experiment"])
    assert len(pd.read_csv(smoke_run / "results/tables/b5.csv")) == 8
    assert len(pd.read_csv(smoke_run / "results/tables/b6.csv")) == 10
    for table in TABLES:
        assert (smoke_run / f"results/tables/{table}.md").read_text().startswith("|")
        assert "<table" in (smoke_run / f"results/tables/{table}.html").read_text()
    for index in (1, 2):
        assert (smoke_run / f"results/part_a/feature_maps/test_image_{index}.png").stat().st_size > 0
    vocabulary = json.loads((smoke_run / "results/part_b/data/vocabulary.json").read_text())
    assert vocabulary["num_classes"] == 14 and vocabulary["vocabulary"][:2] == ["<pad>", "<unk>"]
    masked = [metrics.read(path)["hyperparameters"]["mask_padding"] for path in part_b if "padding-masked" in str(path)]
    assert masked == [True] * 5
    # Finished runs keep their last state: a retried packed allocation rewrites them from it.
    states = sorted((smoke_run / "resume").rglob("history.json"))
    assert len(states) == 32
    assert all(len(json.loads(state.read_text())["history"]) == 2 for state in states)
    benchmark = next((smoke_run / "benchmarks").rglob("*.tsv"))
    assert benchmark.read_text().startswith("s\t")
    assert_clean_logs(smoke_run / "logs", 32)


def assert_clean_logs(folder, runs):
    """No TensorFlow / XLA C++ chatter: setup lines, one line per epoch, the result."""
    logs = list(folder.rglob("*.log"))
    assert len(logs) > runs
    for path in logs:
        for line in path.read_text().splitlines():
            assert not re.match(r"[IWE]\d{4} ", line) and "absl::InitializeLog" not in line, f"{path}: {line}"
    training_log = folder / "results/part_b/runs/char-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1.log"
    lines = training_log.read_text().splitlines()
    first_words = [line.split("] ", 1)[1].split()[0] for line in lines]
    assert first_words == ["no", "probed", "training", "epoch", "epoch", "done:"]


def test_status_of_a_finished_study(smoke_run):
    result = nnstudy_status(smoke_run, *smoke_run_config())
    rows = status_rows(result.stdout)
    assert len(rows) == 4 + 4 + 1 + 16 + 5 + 2
    assert {cells[0] for cells in rows.values()} == {"done"} and {cells[1] for cells in rows.values()} == {"2/2"}
    assert result.stdout.rstrip().splitlines()[-1] == "32 runs: 32 done."


def test_nothing_left_to_do_after_the_study(smoke_run):
    result = snakemake(smoke_run, "-n", *smoke_run_config())
    assert "Nothing to be done" in result.stdout + result.stderr


def test_rerun_one_target(smoke_run):
    target = "results/part_b/runs/word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1/metrics.json"
    before = metrics.read(smoke_run / target)
    (smoke_run / target).unlink()
    result = snakemake(smoke_run, "--cores", "2", target, *smoke_run_config())
    assert "1 of 1 steps (100%) done" in result.stderr
    after = metrics.read(smoke_run / target)
    assert [e["test_accuracy"] for e in after["history"]] == [e["test_accuracy"] for e in before["history"]]


def test_killed_training_job_resumes(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    extra = tmp_path / "longer.yaml"
    # Checkpoint after every epoch, so that the kill comes after a known one.
    extra.write_text(
        yaml.safe_dump(
            {
                "presets": {"smoke": {"part_a": {"epochs": 8, "train_limit": 512}}},
                "training": {"checkpoint_seconds": 0},
            }
        )
    )
    run_dir = "results/part_a/runs/c1-10_c2-20_sgd_dropout-0_seed-1"
    args = [str(SNAKEMAKE), "--cores", "1", f"{run_dir}/metrics.json", "--configfile", str(extra), *smoke_config()]
    state = workflow / "resume" / run_dir / "history.json"
    job = subprocess.Popen(
        args, cwd=workflow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and job.poll() is None:
        if state.is_file() and len(json.loads(state.read_text())["history"]) >= 2:
            break
        time.sleep(0.2)
    assert job.poll() is None, "the job finished before it could be killed"
    running = status_rows(nnstudy_status(workflow, "--configfile", str(extra), *smoke_config()).stdout)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    done = len(json.loads(state.read_text())["history"])
    assert 2 <= done < 8
    assert not (workflow / run_dir / "metrics.json").exists()
    run = run_dir.rsplit("/", 1)[1]
    state_name, epochs = running.pop(run)[:2]
    assert state_name == "running" and 2 <= int(epochs.split("/")[0]) <= 8 and epochs.endswith("/8")
    assert {cells[0] for cells in running.values()} == {"waiting"}

    # A SIGKILL leaves Snakemake's lock behind; a user unlocks, then reruns.
    snakemake(workflow, "--unlock", *smoke_config())
    killed = nnstudy_status(workflow, "--configfile", str(extra), *smoke_config())
    assert status_rows(killed.stdout)[run][:2] == ["interrupted", f"{done}/8"]
    assert "1 interrupted" in killed.stdout and "4 more (A3 momentum" in killed.stdout
    snakemake(workflow, "--cores", "1", f"{run_dir}/metrics.json", "--configfile", str(extra), *smoke_config())
    history = metrics.read(workflow / run_dir / "metrics.json")["history"]
    assert [entry["epoch"] for entry in history] == list(range(1, 9))
    log = (workflow / "logs" / f"{run_dir}.log").read_text()
    assert f"resuming after epoch {done} of 8" in log
    # The finished run keeps its final state (all 8 epochs) for a rerun.
    assert [entry["epoch"] for entry in json.loads(state.read_text())["history"]] == list(range(1, 9))


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


def test_precision_and_tensorboard_reach_the_job(tmp_path):
    """A word CNN in mixed bfloat16 with TensorBoard scalars: its metrics.json says what trained it."""
    workflow = copy_workflow(tmp_path / "workflow")
    run = "word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1"
    options = "training={precision: {text_cnn: mixed_bfloat16}, tensorboard: true}"
    snakemake(workflow, "--cores", "1", f"results/part_b/runs/{run}/metrics.json", *smoke_config(options))
    document = metrics.read(workflow / "results/part_b/runs" / run / "metrics.json")
    assert document["hyperparameters"]["precision"] == document["device"]["precision"] == "mixed_bfloat16"
    assert [entry["epoch"] for entry in document["history"]] == [1, 2]
    for split in ("train", "validation"):
        events = list((workflow / "logs/tensorboard" / run / split).glob("events.out.tfevents.*"))
        assert len(events) == 1 and b"epoch_accuracy" in events[0].read_bytes()


def test_masking_refuses_models_without_padding_to_mask(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    char = "results/part_b/runs/char-gru_layers-1_dropout-0_clip-none_padding-masked_seed-1"
    result = snakemake(workflow, "--cores", "1", f"{char}/metrics.json", *smoke_config(), check=False)
    assert result.returncode != 0
    assert (
        "error in rule train_text: padding can be masked for word-level recurrent models only, not char gru"
        in result.stderr
    )
    assert not (workflow / char / "metrics.json").exists()


def test_broken_resume_state_is_discarded_and_the_job_starts_afresh(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    run_dir = "results/part_b/runs/word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1"
    state = workflow / "resume" / run_dir
    state.mkdir(parents=True)
    (state / "history.json").write_text('{"fingerprint": {"level": "word"}, "model_file": "epoch-00001.ker')
    snakemake(workflow, "--cores", "1", f"{run_dir}/metrics.json", *smoke_config())
    log = (workflow / "logs" / f"{run_dir}.log").read_text()
    assert f"discarding resume state in resume/{run_dir}: unreadable history.json" in log
    history = metrics.read(workflow / run_dir / "metrics.json")["history"]
    assert [entry["epoch"] for entry in history] == [1, 2]
    # The broken state was replaced by the run's own final one.
    assert json.loads((state / "history.json").read_text())["history"] == history


def test_a_pack_trains_its_runs_side_by_side_and_survives_a_switch(tmp_path):
    """cluster.runs_per_allocation: 2 makes packs of two runs, one job each, whose runs
    train at once; switching packing off again leaves them done."""
    workflow = copy_workflow(tmp_path / "workflow")
    packed = smoke_config("cluster={runs_per_allocation: 2}")
    plan_text = snakemake(workflow, "-n", *packed).stdout
    assert re.search(r"^train_pack_24\s+1$", plan_text, re.M) and not re.search(r"^train_pack_25\b", plan_text, re.M)
    snakemake(workflow, "--cores", "2", "train_pack_0", *packed)
    pack_log = (workflow / "logs/packs/pack-0.log").read_text()
    runs = re.search(r"training 2 runs side by side: (\S+), (\S+)$", pack_log, re.M).groups()
    assert "Execute 2 jobs..." in pack_log  # both at once, one GPU slot each
    folders = [next(workflow.glob(f"results/part_*/runs/{run}")) for run in runs]
    first = [metrics.read(folder / "metrics.json")["history"] for folder in folders]
    assert [len(history) for history in first] == [2, 2]
    done = snakemake(workflow, "-n", "train_pack_0", *packed)
    assert "Nothing to be done" in done.stdout + done.stderr

    # A pack runs the runs' own rule in a nested Snakemake: unpacked, they are done as they are.
    targets = [str((folder / "metrics.json").relative_to(workflow)) for folder in folders]
    unpacked = snakemake(workflow, "-n", *targets, *smoke_config())
    assert "Nothing to be done" in unpacked.stdout + unpacked.stderr


def test_a_finished_runs_state_outlives_a_refactor_but_not_a_change_to_what_it_computes(tmp_path):
    """--forcerun writes a finished run from its state while the code computes the same (nnstudy.train.identity):
    after a comment in the networks' module it still does; after a change to a network the run trains afresh,
    and its twin of the same kind shows as stale; a change to the report is neither."""
    workflow = copy_workflow(tmp_path / "workflow")
    shutil.copytree(REPO / "nnstudy", workflow / "nnstudy")  # the jobs import the checkout's own package
    runs = [
        f"results/part_b/runs/word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-{seed}" for seed in (1, 2)
    ]
    run, twin = runs
    log = workflow / "logs" / f"{run}.log"
    config = smoke_config("questions=[b5]", "seeds=[1, 2]")
    snakemake(workflow, "--cores", "1", *(f"{folder}/metrics.json" for folder in runs), *config)
    first = metrics.read(workflow / run / "metrics.json")
    assert len(first["code"]["source"]) == 16 and first["code"]["behaviour"]

    def forcerun():
        snakemake(workflow, "--cores", "1", f"{run}/metrics.json", "--forcerun", f"{run}/metrics.json", *config)
        return log.read_text()

    def state(folder):
        return status_rows(nnstudy_status(workflow, *config).stdout)[folder.rsplit("/", 1)[1]][0]

    assert "all 2 epochs are in the resume state" in forcerun() and state(run) == "done"
    models = workflow / "nnstudy/train/models.py"
    models.write_text(models.read_text() + "\n# a comment: another source, the same numbers\n")
    assert "all 2 epochs are in the resume state" in forcerun() and state(run) == state(twin) == "done"
    models.write_text(
        models.read_text().replace("filters: int = 10, window: int = 20", "filters: int = 10, window: int = 19")
    )
    retrained = forcerun()
    assert "the training code changed since it was saved" in retrained and "] epoch 1/2" in retrained
    second = metrics.read(workflow / run / "metrics.json")
    assert second["code"]["behaviour"] != first["code"]["behaviour"] and state(run) == "done"
    status = nnstudy_status(workflow, *config).stdout
    assert state(twin) == "stale (code changed)" and "1 stale (code changed)" in status.splitlines()[-1]
    with (workflow / "nnstudy/report/html.py").open("a") as module:
        module.write("\n# a change to the report\n")
    assert state(run) == "done" and "all 2 epochs are in the resume state" in forcerun()


def test_a_run_trains_again_for_the_settings_it_is_labelled_with(smoke_run, tmp_path):
    """A changed setting plans its runs' training jobs, and only those; status says which setting; a table over
    runs of mixed settings stops with one line; the study's own config trains nothing."""
    changed = smoke_run_config("part_b={learning_rate: 0.02}")  # a setting the preset leaves as it is
    plan_text = snakemake(smoke_run, "-n", *changed).stdout
    assert re.search(r"^train_text\s+23$", plan_text, re.M) and not re.search(r"^train_cifar", plan_text, re.M)
    assert re.search(r"^settings_changed\s+23$", plan_text, re.M)
    status = nnstudy_status(smoke_run, *changed).stdout
    rows = status_rows(status)
    word_cnn = rows["word-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1"]
    assert word_cnn[0] == "stale (settings: learning_rate 0.01 → 0.02)"
    assert "23 stale (settings changed)" in status.splitlines()[-1]
    quick = snakemake(smoke_run, "-n", *smoke_run_config("preset=quick"))
    assert re.search(r"^train_text\s+23$", quick.stdout, re.M)
    assert re.search(r"^note: \d+ finished runs were trained with other settings", quick.stderr, re.M)
    mixed = tmp_path / "study"
    shutil.copytree(smoke_run, mixed, symlinks=True)
    table = snakemake(
        mixed, "results/tables/b5.csv", "--cores", "1", "--forcerun", "results/tables/b5.csv",
        "--allowed-rules", "question_table", *changed, check=False,
    )  # fmt: skip
    errors = [line for line in table.stderr.splitlines() if line.startswith("error in rule question_table")]
    assert table.returncode != 0 and len(errors) == 1 and "trained with other settings than the config's" in errors[0]
    # Another test reruns one target, so the tables may be due; no run may be.
    unchanged = snakemake(smoke_run, "-n", *smoke_run_config()).stdout
    assert not re.search(r"^(train_\w+|settings_changed)\s", unchanged, re.M)
