import hashlib
import os
import pickle
import tarfile

import numpy as np
import pytest
from conftest import CIFAR_DIR, random_images

from nnstudy import cifar
from nnstudy.errors import DataError


def test_round_trip_in_official_format(tmp_path):
    images, labels = random_images(20)
    cifar.save_batch(tmp_path / "batch", images, labels, "test")
    loaded, loaded_labels = cifar.load_batch(tmp_path / "batch")
    assert loaded.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(loaded, images)
    np.testing.assert_array_equal(loaded_labels, labels)


def test_layout_is_channel_major_rows():
    # Pixel (row 0, col 1) of the red plane is element 1 of the flat row;
    # of the blue plane, element 2048 + 1.
    data = np.zeros((1, 3072), dtype=np.uint8)
    data[0, 1], data[0, 2048 + 1] = 200, 100
    raw = pickle.dumps({b"data": data, b"labels": [3]}, protocol=4)
    batch = cifar._unpickle_bytes(raw)
    images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert images[0, 0, 1, 0] == 200 and images[0, 0, 1, 2] == 100


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/nnstudy-pwned",))


def test_pickle_that_runs_code_is_rejected(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(DataError, match="not a safe CIFAR-10 pickle.*posix.system|not a safe CIFAR-10 pickle.*os.system"):
        cifar.load_batch(path)
    assert not os.path.exists("/tmp/nnstudy-pwned")


def test_truncated_file_is_a_clear_error(tmp_path):
    images, labels = random_images(10)
    cifar.save_batch(tmp_path / "full", images, labels, "test")
    payload = (tmp_path / "full").read_bytes()
    (tmp_path / "cut").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        cifar.load_batch(tmp_path / "cut")


def test_wrong_shape_and_labels_are_clear_errors(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}))
    with pytest.raises(DataError, match="expected N×3072"):
        cifar.load_batch(path)
    path.write_bytes(pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 12]}))
    with pytest.raises(DataError, match="labels outside"):
        cifar.load_batch(path)
    with pytest.raises(DataError, match="file not found"):
        cifar.load_batch(tmp_path / "missing")


@pytest.mark.skipif(not CIFAR_DIR.is_dir(), reason="course data not available")
def test_course_files_load():
    images, labels = cifar.load_batch(CIFAR_DIR / cifar.TRAIN_FILE)
    assert images.shape == (10000, 32, 32, 3) and np.bincount(labels).tolist() == [1000] * 10
    images, labels = cifar.load_batch(CIFAR_DIR / cifar.TEST_FILE)
    assert images.shape == (2000, 32, 32, 3)
    assert cifar.load_label_names(CIFAR_DIR / cifar.META_FILE)[0] == "airplane"


def _official_tarball(path, test_count=2500):
    """A tarball laid out like cifar-10-python.tar.gz, with random images."""
    staging = path.parent / "staging"
    staging.mkdir()
    train, train_labels = random_images(50, seed=1)
    test, test_labels = random_images(test_count, seed=2)
    cifar.save_batch(staging / "data_batch_1", train, train_labels, "training batch 1 of 5")
    cifar.save_batch(staging / "test_batch", test, test_labels, "testing batch 1 of 1")
    (staging / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"] * 10}))
    with tarfile.open(path, "w:gz") as archive:
        for name in ("data_batch_1", "test_batch", "batches.meta"):
            archive.add(staging / name, arcname=f"cifar-10-batches-py/{name}")
    return test, test_labels


def test_download_verifies_and_trims(tmp_path):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    test, test_labels = _official_tarball(tarball)
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    out = tmp_path / "out"
    cifar.download(tarball.as_uri(), md5, out, log=lambda message: None)
    images, labels = cifar.load_batch(out / cifar.TEST_FILE)
    assert images.shape == (2000, 32, 32, 3)
    np.testing.assert_array_equal(images, test[:2000])
    np.testing.assert_array_equal(labels, test_labels[:2000])
    assert cifar.load_batch(out / cifar.TRAIN_FILE)[0].shape == (50, 32, 32, 3)
    assert not list(out.glob("*.part"))


def test_download_rejects_bad_checksum(tmp_path):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    _official_tarball(tarball)
    with pytest.raises(DataError, match="does not match expected"):
        cifar.download(tarball.as_uri(), "0" * 32, tmp_path / "out", log=lambda message: None)
    assert not (tmp_path / "out" / cifar.TRAIN_FILE).exists()


def test_download_unreachable_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        cifar.download((tmp_path / "absent.tar.gz").as_uri(), "0" * 32, tmp_path / "out", log=lambda m: None)
