"""The GPU slot allocator, with real processes competing for real locks."""

import multiprocessing
import os
import stat
import time
import types
from pathlib import Path

import pytest
import yaml

from nnstudy import jobs
from nnstudy.errors import StudyError
from nnstudy.study import settings
from nnstudy.train import devices


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


def test_a_presets_gpu_settings_reach_the_training_job():
    """GPU placement comes from the config with its preset applied (rules/common.smk resolves it for the jobs)."""
    config = yaml.safe_load((Path(__file__).parents[1] / "config.yaml").read_text())
    config["preset"] = "quick"
    config["presets"]["quick"]["training"] = {"gpu": {"jobs_per_gpu": 2, "wait_minutes": 5}, "checkpoint_seconds": 7}
    job = types.SimpleNamespace(
        config=settings.resolve(config),
        threads=1,
        params=types.SimpleNamespace(job={"runs": [], "engine": "fit"}),
    )
    options = jobs.training_options(job)
    assert options["gpu"] == {"jobs_per_gpu": 2, "lock_dir": "", "wait_minutes": 5}
    assert options["threads"] == 1 and options["checkpoint_seconds"] == 7 and options["tensorboard"] is False


def start_holder(lock_dir, gpus=("0",)):
    """A process that holds the first free slot for a minute; returns it once the slot is taken."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    holder = context.Process(target=hold_slot, args=(lock_dir, list(gpus), 1, 60, results), daemon=True)
    holder.start()
    deadline = time.time() + 60
    while time.time() < deadline and read_if_exists(lock_dir / "gpu0-slot0.lock") != f"{holder.pid}\n":
        time.sleep(0.05)
    return holder


def read_if_exists(path):
    return path.read_text() if path.exists() else ""


def test_default_lock_dir_is_the_users_own():
    assert devices.default_lock_dir() == Path(f"/tmp/nnstudy-gpu-slots-{os.getuid()}")


def test_a_new_lock_dir_and_its_files_are_private(tmp_path):
    lock_dir = tmp_path / "deep" / "locks"
    assert devices.acquire(["0", "1"], lock_dir, 2, poll_seconds=0.02, log=lambda m: None) == "0"
    assert stat.S_IMODE(lock_dir.stat().st_mode) == 0o700
    assert sorted(path.name for path in lock_dir.iterdir()) == [
        "gpu0-slot0.lock",
        "gpu0-slot1.lock",
        "gpu1-slot0.lock",
        "gpu1-slot1.lock",
    ]
    assert {stat.S_IMODE(path.stat().st_mode) for path in lock_dir.iterdir()} == {0o600}
    assert (lock_dir / "gpu0-slot0.lock").read_text() == f"{os.getpid()}\n"
    assert [path.name for path in tmp_path.iterdir()] == ["deep"]  # no staging folder left behind


@pytest.mark.parametrize(
    "lock_dir, make, problem",
    [
        ("file/locks", lambda t: (t / "file").write_text(""), "file/locks is not usable: {tmp}/file is not a folder"),
        ("x", lambda t: (t / "x").write_text(""), "x is not usable: {tmp}/x is not a folder"),
        (
            "x",
            lambda t: (t / "real").mkdir(mode=0o700) or (t / "x").symlink_to(t / "real"),
            "x is a symbolic link; set training.gpu.lock_dir to a real folder",
        ),
        (
            "x",
            lambda t: (t / "x").mkdir(mode=0o700) or os.chown(t / "x", 12345, 12345),
            "x belongs to uid 12345, not to you (uid {uid}); set training.gpu.lock_dir elsewhere",
        ),
        (
            "x",
            lambda t: (t / "x").mkdir() or (t / "x").chmod(0o777),
            "x is writable by other users (mode 777); chmod go-w it",
        ),
    ],
    ids=["parent-is-a-file", "is-a-file", "symlink", "other-owner", "world-writable"],
)
def test_an_unusable_lock_dir_is_one_clear_line(tmp_path, lock_dir, make, problem):
    make(tmp_path)
    with pytest.raises(StudyError) as raised:
        devices.acquire(["0"], tmp_path / lock_dir, 1, wait_minutes=0.01, poll_seconds=0.02, log=lambda m: None)
    assert str(raised.value) == f"training.gpu.lock_dir: {tmp_path}/" + problem.format(tmp=tmp_path, uid=os.getuid())


def test_the_wait_is_limited_and_names_the_holder(tmp_path):
    lock_dir = tmp_path / "locks"
    holder = start_holder(lock_dir)
    messages = []
    started = time.monotonic()
    with pytest.raises(StudyError) as raised:
        devices.acquire(["0"], lock_dir, 1, wait_minutes=0.02, poll_seconds=0.02, log=messages.append)
    assert 1.1 < time.monotonic() - started < 10
    assert str(raised.value) == (
        f"training.gpu.wait_minutes: no GPU slot in {lock_dir} came free in 0.02 min "
        f"(held: gpu0-slot0.lock by pid {holder.pid}); end those jobs or raise training.gpu.wait_minutes"
    )
    assert messages == [
        f"all 1 GPU slots in {lock_dir} are busy (gpu0-slot0.lock by pid {holder.pid}); waiting up to 0.02 min for one"
    ]
    holder.kill()


def test_a_planted_symlink_is_not_followed(tmp_path):
    lock_dir, target = tmp_path / "locks", tmp_path / "precious.txt"
    target.write_text("keep me")
    target.chmod(0o644)
    lock_dir.mkdir(mode=0o700)
    (lock_dir / "gpu0-slot0.lock").symlink_to(target)
    with pytest.raises(StudyError) as raised:
        devices.acquire(["0"], lock_dir, 1, wait_minutes=0.01, poll_seconds=0.02, log=lambda m: None)
    assert str(raised.value) == (
        f"training.gpu.lock_dir: {lock_dir}/gpu0-slot0.lock is a symbolic link, not a lock file; remove it"
    )
    assert target.read_text() == "keep me" and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_deleted_held_lock_file_is_put_back_and_the_slot_stays_taken(tmp_path):
    lock_dir = tmp_path / "locks"
    holder = start_holder(lock_dir)
    (lock_dir / "gpu0-slot0.lock").unlink()
    # A waiter that finds the file missing leaves it to its holder for a while, then would create it:
    # waiting longer than that must still find the slot taken, by the same holder.
    with pytest.raises(StudyError, match=f"gpu0-slot0.lock by pid {holder.pid}"):
        devices.acquire(["0"], lock_dir, 1, wait_minutes=0.15, poll_seconds=0.05, log=lambda m: None)
    assert read_if_exists(lock_dir / "gpu0-slot0.lock") == f"{holder.pid}\n"
    holder.kill()
    holder.join()
    assert devices.acquire(["0"], lock_dir, 1, wait_minutes=0.15, poll_seconds=0.05, log=lambda m: None) == "0"


def test_a_lock_on_a_deleted_file_is_not_on_the_path(tmp_path):
    """What lets a job that locked a lock file just as it was deleted try again, not keep a slot guarding nothing."""
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    (tmp_path / "gpu0-slot0.lock").write_text("")
    stale = os.open(tmp_path / "gpu0-slot0.lock", os.O_RDONLY)
    try:
        assert devices._on_path(stale, dir_fd, "gpu0-slot0.lock")
        os.unlink(tmp_path / "gpu0-slot0.lock")
        assert not devices._on_path(stale, dir_fd, "gpu0-slot0.lock")
        (tmp_path / "gpu0-slot0.lock").write_text("")
        assert not devices._on_path(stale, dir_fd, "gpu0-slot0.lock")
    finally:
        os.close(stale)
        os.close(dir_fd)
