"""`nnstudy status` and the log filter, without running the workflow
(tests/test_workflow.py runs status on a real finished and a killed study)."""

from __future__ import annotations

import json
import re

from conftest import CIFAR_DIR, copy_workflow, nnstudy_status, snakemake, status_rows

from nnstudy import logfilter


def test_status_lists_the_runs_snakemake_plans(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    (tmp_path / "seeds.yaml").write_text("seeds: [1, 2]\n")
    config = ["--configfile", str(tmp_path / "seeds.yaml"), "--config", "preset=smoke", f"cifar10_dir={CIFAR_DIR}"]
    plan = snakemake(workflow, "-n", *config).stdout
    planned = set(re.findall(r"results/part_[ab]/runs/([^/\s]+)/metrics\.json", plan))
    result = nnstudy_status(workflow, *config)
    rows = status_rows(result.stdout)
    # Before the grid has run, A3's four variants (× 2 seeds) are not known yet. Per seed: the grid, A1 in the
    # course's pixel layout, B5-B6 with the masking ablation, the char and word GRU clipped by global norm.
    assert set(rows) == planned and len(rows) == (25 + 1 + 21 + 2) * 2
    assert {cells[0] for cells in rows.values()} == {"waiting"}
    assert result.stdout.rstrip().endswith(
        "98 runs: 0 done, 98 waiting; 4 more (A3 momentum, A3 rmsprop, A3 adam, A3 sgd + dropout) "
        "once the grid picks the A3 pair. Time left: known once a run has logged an epoch."
    )


def test_status_in_an_empty_directory_is_one_line(tmp_path):
    result = nnstudy_status(tmp_path, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"error: no config.yaml in {tmp_path}: run this in the workflow directory\n"


def test_status_with_a_bad_config_is_one_line(tmp_path):
    workflow = copy_workflow(tmp_path / "workflow")
    result = nnstudy_status(workflow, "--config", "preset=fast", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.startswith("error: config error: preset: 'fast' is not one of")
        and "Traceback" not in result.stderr
    )


def test_log_filter_drops_tensorflow_chatter_and_keeps_errors():
    noise = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1795693844.848787    8625 port.cc:153] oneDNN custom operations are on.\n",
        b"W0000 00:00:1795693844.848787    8625 gpu_device.cc:2344] Cannot dlopen some GPU libraries.\n",
        (
            b"E0000 00:00:1795693851.486681    8625 node_def_util.cc:682] NodeDef mentions attribute "
            b"use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset>\n"
        ),
        (
            b"E0000 00:00:1795701131.686231    2386 util.cc:131] oneDNN supports DT_BOOL only on platforms with "
            b"AVX-512. Falling back to the default Eigen-based implementation if present.\n"
        ),
    ]
    kept = [
        b"[11:50:52] epoch 1/2  train loss 2.6386  acc 0.0625  test loss 2.6498  acc 0.0625  (3.04 s)\n",
        b"E0000 00:00:1795693851.486681    8625 cuda_driver.cc:1] "
        b"failed to allocate 12.00GiB: CUDA_ERROR_OUT_OF_MEMORY\n",
        b"Traceback (most recent call last):\n",
    ]
    assert all(logfilter.is_noise(line) for line in noise)
    assert not any(logfilter.is_noise(line) for line in kept)


def test_a_failed_run_and_a_resumable_one_read_from_their_files(tmp_path):
    """A job that ended in an error, and one killed with a resume state while Snakemake was not running."""
    workflow = copy_workflow(tmp_path / "workflow")
    failed = "results/part_b/runs/char-cnn_layers-1_dropout-0_clip-none_padding-unmasked_seed-1"
    (workflow / "logs" / failed).parent.mkdir(parents=True)
    (workflow / "logs" / f"{failed}.log").write_text(
        "[10:00:01] training char CNN on 256 documents, testing on 128\n[10:00:02] error: out of memory\n"
    )
    killed = "results/part_b/runs/word-gru_layers-1_dropout-0_clip-none_padding-unmasked_seed-1"
    history = [{"epoch": 1, "test_accuracy": 0.25, "seconds": 2.0}]
    (workflow / "resume" / killed).mkdir(parents=True)
    (workflow / "resume" / killed / "history.json").write_text(json.dumps({"history": history}))
    result = nnstudy_status(workflow, "--config", "preset=smoke", "parts=[part_b]", "seeds=[1]")
    rows = status_rows(result.stdout)
    assert rows[failed.rsplit("/", 1)[1]][:2] == ["failed", "0/2"]
    assert rows[killed.rsplit("/", 1)[1]] == ["interrupted", "1/2", "0.2500", "0.2500", "2.00", "2.0 s"]
    assert "23 runs: 0 done, 1 interrupted, 1 failed, 21 waiting." in result.stdout
