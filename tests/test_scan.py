"""The packed engine (nnstudy.train.scan): packs, resume after SIGKILL, the deadline, the batch order.

The training runs in JAX worker processes (see tests/scan_harness.py); every
comparison here is bitwise (JAX's CPU backend is deterministic).
"""

import json
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scan_harness import curves, finish, job, result, start, worker

from nnstudy.study import plan
from nnstudy.train import fit, scan

# Three shapes, three optimizers, one with dropout; [c1, c2, optimizer, dropout, seed].
PACK = [[10, 20, "sgd", 0.0, 3], [20, 10, "adam", 0.5, 4], [4, 6, "rmsprop", 0.0, 5]]
NAMES = ["_".join(str(part) for part in run) for run in PACK]
EPOCHS, CHUNK = 4, 2
# The run that meets a deadline: the fastest to compile.
STOPPED = 2


def kill_after_first_checkpoint(tmp_path) -> int:
    """Train PACK in a worker and SIGKILL it once its first pack checkpoint is on disk; its epoch."""
    directory = tmp_path / "killed"
    manifest = directory / "pack.json"
    process = worker(
        tmp_path / "killed-plan.json",
        [job("killed", "scan", PACK, directory, EPOCHS, CHUNK)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    for _ in process.stdout:
        if manifest.is_file():
            process.kill()
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the pack ended before it could be killed"
    return min(entry["epoch"] for entry in json.loads(manifest.read_text())["members"].values())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The worker's results by job name, its output, the epoch the killed pack had saved, the folder.

    The worker starts beside the pack to be killed; it resumes that pack last,
    once the kill is done.
    """
    tmp = tmp_path_factory.mktemp("scan")
    killed = tmp / "killed.done"
    jobs = [
        *[job(f"alone-{i}", "scan", [r], tmp / f"alone-{i}", EPOCHS, CHUNK) for i, r in enumerate(PACK)],
        job("deadline-1", "scan", [PACK[STOPPED]], tmp / "deadline", CHUNK, CHUNK),
        job("deadline-2", "scan", [PACK[STOPPED]], tmp / "deadline", EPOCHS, CHUNK, deadline="past"),
        job("deadline-3", "scan", [PACK[STOPPED]], tmp / "deadline", EPOCHS, CHUNK),
        job("straight", "scan", PACK, tmp / "straight", EPOCHS, CHUNK),
        job("resumed", "scan", PACK, tmp / "killed", EPOCHS, CHUNK, after=str(killed)),
        # Last: the job sets the process up as a workflow job does.
        job("pack-job", "pack", PACK, tmp / "pack-job", EPOCHS, CHUNK),
    ]
    process = start(tmp / "plan.json", jobs)
    try:
        saved = kill_after_first_checkpoint(tmp)
    finally:
        killed.touch()
    output = finish(process)
    results = {item["output"].rsplit("/", 1)[1]: result(tmp / item["output"]) for item in jobs}
    return results, output, saved, tmp


def assert_same_runs(first: dict, second: dict, names) -> None:
    for name in names:
        np.testing.assert_array_equal(curves(first["histories"][name]), curves(second["histories"][name]))
        for a, b in zip(first["weights"][name], second["weights"][name], strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_pack_trains_each_run_as_it_trains_alone(trained):
    results, *_ = trained
    assert [entry["epoch"] for entry in results["straight"]["histories"][NAMES[0]]] == list(range(1, EPOCHS + 1))
    for index, name in enumerate(NAMES):
        assert_same_runs(results["straight"], results[f"alone-{index}"], [name])


def test_a_killed_pack_resumes_to_the_uninterrupted_history(trained):
    results, output, saved, tmp = trained
    assert 0 < saved < EPOCHS and saved % CHUNK == 0
    for name in NAMES:
        assert f"resuming after epoch {saved} of {EPOCHS} from {tmp / 'killed' / name}" in output
    assert_same_runs(results["resumed"], results["straight"], NAMES)


def test_the_deadline_stops_at_a_chunk_boundary_and_a_rerun_continues(trained):
    results, *_ = trained
    assert results["deadline-2"] == {
        "error": f"stopped at epoch {CHUNK} of {EPOCHS} by the deadline; rerun to continue",
        "epoch": CHUNK,
    }
    assert_same_runs(results["deadline-3"], results["straight"], [NAMES[STOPPED]])


def test_a_finished_pack_keeps_one_model_file_per_run_and_a_manifest_naming_them(trained):
    *_, tmp = trained
    manifest = json.loads((tmp / "straight" / "pack.json").read_text())
    assert manifest["members"] == {name: {"epoch": EPOCHS, "model_file": f"epoch-{EPOCHS:05d}.keras"} for name in NAMES}
    for name in NAMES:
        state = json.loads((tmp / "straight" / name / "history.json").read_text())
        assert state["model_file"] == f"epoch-{EPOCHS:05d}.keras" and len(state["history"]) == EPOCHS
        assert [p.name for p in (tmp / "straight" / name).glob("*.keras")] == [state["model_file"]]


def test_the_pack_job_writes_each_runs_outputs_and_log(trained):
    """What the workflow's job writes for every run; the scan engine and its precision in the hyper-parameters."""
    results, _, _, tmp = trained
    documents = results["pack-job"]["documents"]
    for spec in PACK:
        folder = plan.part_a_run(*spec[:4], seed=spec[4])
        document = documents[Path(folder).name]
        assert document["run"] == Path(folder).name and document["part"] == "A" and document["seed"] == spec[4]
        assert (
            document["hyperparameters"] | {"engine": "scan", "matmul_precision": "float32"}
            == document["hyperparameters"]
        )
        assert document["settings"]["engine"] == "scan" and document["code"]["behaviour"]
        assert document["hyperparameters"]["backend"] == document["device"]["backend"] == "jax"
        assert [entry["epoch"] for entry in document["history"]] == list(range(1, EPOCHS + 1))
        assert document["summary"]["best_epoch"] in range(1, EPOCHS + 1) and document["parameters"] > 0
        assert all((tmp / "pack-job" / folder / file).stat().st_size > 0 for file in plan.CURVES.values())
        assert (tmp / "pack-job" / folder / "model.keras").stat().st_size > 0
        log = (tmp / "pack-job" / "logs" / f"{folder}.log").read_text()
        assert f"epoch 1/{EPOCHS}  train loss" in log and f"epoch {EPOCHS}/{EPOCHS}  train loss" in log
        assert "done: max test accuracy" in log


@pytest.mark.parametrize("size", [80, 88])
def test_batch_order_is_epoch_batches(size):
    """The scan's batches, full ones first and the remainder last, are EpochBatches' for every epoch."""
    x = np.arange(size)
    batches = fit.EpochBatches(x, x, batch_size=16, seed=7)
    orders = scan.chunk_orders(7, first=3, count=4, size=size)
    for row, epoch in zip(orders, range(3, 7)):
        batches.shuffle_for(epoch)
        assert np.array_equal(row, np.concatenate([batches[i][0] for i in range(len(batches))]))
