"""The GPU slot allocator, with real processes competing for real locks."""

import multiprocessing
import os
import time

import pytest

from nnstudy import devices


def hold_slot(lock_dir, gpus, jobs_per_gpu, hold, results, ready=None):
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    if ready is not None:
        ready.wait(timeout=60)  # all workers compete at once, however slowly they started
    started = time.monotonic()
    gpu = devices.acquire(gpus, lock_dir, jobs_per_gpu, poll_seconds=0.02, log=lambda m: None)
    acquired = time.monotonic()
    time.sleep(hold)
    results.put((gpu, acquired, time.monotonic(), acquired - started))


def compete(tmp_path, workers, gpus, jobs_per_gpu, hold=0.4):
    context = multiprocessing.get_context("spawn")
    results, ready = context.Queue(), context.Barrier(workers)
    processes = [
        context.Process(target=hold_slot, args=(tmp_path / "locks", gpus, jobs_per_gpu, hold, results, ready))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    records = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return records


def most_at_once(records, gpu):
    events = sorted(
        [(start, 1) for g, start, _, _ in records if g == gpu] + [(end, -1) for g, _, end, _ in records if g == gpu]
    )
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def test_each_job_gets_its_own_gpu(tmp_path):
    records = compete(tmp_path, workers=6, gpus=["0", "1", "2"], jobs_per_gpu=1)
    assert sorted({gpu for gpu, *_ in records}) == ["0", "1", "2"]
    for gpu in ("0", "1", "2"):
        assert most_at_once(records, gpu) == 1
    # Three slots for six jobs: three of them had to wait for a slot.
    assert sum(waited > 0.2 for *_, waited in records) == 3


def test_k_jobs_share_a_gpu(tmp_path):
    records = compete(tmp_path, workers=4, gpus=["0", "1"], jobs_per_gpu=2)
    # Breadth-first: with four slots and four jobs each GPU runs exactly two.
    assert most_at_once(records, "0") == 2 and most_at_once(records, "1") == 2
    assert all(waited < 0.3 for *_, waited in records)


def test_a_killed_holder_frees_its_slot(tmp_path):
    context = multiprocessing.get_context("spawn")
    holder = context.Process(target=hold_slot, args=(tmp_path / "locks", ["0"], 1, 60, context.Queue()))
    holder.start()
    deadline = time.time() + 30
    while time.time() < deadline and not (tmp_path / "locks" / "gpu0-slot0.lock").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    holder.kill()
    holder.join()
    started = time.monotonic()
    assert devices.acquire(["0"], tmp_path / "locks", 1, poll_seconds=0.02, log=lambda m: None) == "0"
    assert time.monotonic() - started < 5


def test_existing_cuda_visible_devices_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    messages = []
    devices.assign_gpu(tmp_path / "locks", 1, log=messages.append)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert messages == ["using CUDA_VISIBLE_DEVICES=3 as given"]
    assert not (tmp_path / "locks").exists()


@pytest.mark.skipif(devices.visible_gpus() != [], reason="this machine has a GPU")
def test_no_gpu_means_cpu_and_no_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    devices.assign_gpu(tmp_path / "locks", 1, log=lambda m: None)
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
