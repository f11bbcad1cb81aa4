import base64
import hashlib
import http.server
import os
import pickle
import socket
import struct
import tarfile
import threading
import time

import numpy as np
import pytest
import yaml
from conftest import CIFAR_DIR, copy_workflow, random_images, snakemake

from nnstudy.data import cifar
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
    batch = cifar._unpickle_bytes(raw, "batch")
    images = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    assert images[0, 0, 1, 0] == 200 and images[0, 0, 1, 2] == 100


def test_course_layout_is_the_courses_reshape_of_the_raw_row(tmp_path):
    """The course's loader hands Reshape((32, 32, 3)) the file's row as it is: 1,024 red, green, blue values."""
    images, labels = random_images(4)
    cifar.save_batch(tmp_path / "batch", images, labels, "test")
    raw_rows = pickle.loads((tmp_path / "batch").read_bytes())[b"data"]
    loaded, _ = cifar.load_batch(tmp_path / "batch")
    course = cifar.arrange(loaded, "course")
    np.testing.assert_array_equal(course, raw_rows.reshape(-1, 32, 32, 3))
    np.testing.assert_array_equal(course[0, 0, 0], raw_rows[0, :3])  # a "pixel" is three neighbouring red values
    assert not np.array_equal(course, loaded)
    np.testing.assert_array_equal(cifar.arrange(loaded, "images"), images)
    with pytest.raises(ValueError, match="unknown pixel layout"):
        cifar.arrange(loaded, "rgb")


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/nnstudy-pwned",))


def test_pickle_that_runs_code_is_rejected(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(DataError, match=r"not a safe CIFAR-10 pickle.*(posix|os)\.system"):
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


def _official_tarball(path, test_count=2500, test_batch=None):
    """A tarball laid out like cifar-10-python.tar.gz, with random images
    (or `test_batch`, a dict, pickled as test_batch)."""
    staging = path.parent / "staging"
    staging.mkdir()
    train, train_labels = random_images(50, seed=1)
    test, test_labels = random_images(test_count, seed=2)
    cifar.save_batch(staging / "data_batch_1", train, train_labels, "training batch 1 of 5")
    cifar.save_batch(staging / "test_batch", test, test_labels, "testing batch 1 of 1")
    if test_batch is not None:
        (staging / "test_batch").write_bytes(pickle.dumps(test_batch, protocol=2))
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


def quiet(message):
    pass


def load_error(tmp_path, batch) -> str:
    """The one-line error of loading `batch` (a dict) from a pickle file."""
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError) as caught:
        cifar.load_batch(path)
    return str(caught.value).removeprefix(f"{path}: ")


def pixels(values, dtype):
    return np.full((4, 3072), values, dtype=dtype)


def test_float_pixels_are_an_error_not_black_images(tmp_path):
    batch = {b"data": pixels(0.5, np.float32), b"labels": [0, 1, 2, 3]}
    assert load_error(tmp_path, batch) == "pixels must be integers 0..255, found float32"


@pytest.mark.parametrize("value", [300, -1])
def test_out_of_range_pixels_are_an_error(tmp_path, value):
    data = pixels(7, np.int16)
    data[2, 100] = value
    assert load_error(tmp_path, {b"data": data, b"labels": [0, 1, 2, 3]}) == f"pixels outside 0..255 (found {value})"


def test_integer_pixels_of_any_width_in_range_load(tmp_path):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": pixels(255, np.int64), b"labels": np.arange(4)}))
    images, labels = cifar.load_batch(path)
    assert images.dtype == np.uint8 and images.max() == 255 and labels.dtype == np.int64


@pytest.mark.parametrize(
    "labels, problem",
    [
        ([0.0, 1.0, 2.7, 3.0], "labels must be integers 0..9, found float64"),
        (["cat", "dog", "cat", "dog"], "labels must be integers 0..9, found text"),
        ([b"3", b"1", b"4", b"1"], "labels must be integers 0..9, found text"),
        ([0, 1, None, 3], "labels must be integers 0..9, found object"),
        ([[0, 1], [2]], "labels are not an array"),
        (3, "labels have shape (); expected a list of 4, one per image"),
        ([0, 1, 2], "labels have shape (3,); expected a list of 4, one per image"),
        ([0, 1, 2, 10], "labels outside 0..9 (found 10)"),
    ],
)
def test_bad_labels_are_one_line_errors(tmp_path, labels, problem):
    assert load_error(tmp_path, {b"data": pixels(0, np.uint8), b"labels": labels}) == problem


@pytest.mark.parametrize(
    "payload, problem",
    [
        # BINBYTES8 with a length of 2**62: the unpickler asks for the memory.
        (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"x", "MemoryError"),
        (b"\x80\x04\x8e" + struct.pack("<Q", 2**64 - 1) + b"x", "BINBYTES exceeds system's maximum size"),
        (b"\x80\x02X\x04\x00\x00\x00\xff\xfe\xfd\xfc.", "'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_malformed_pickles_are_reported_as_corrupt(tmp_path, payload, problem):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(DataError) as caught:
        cifar.load_batch(path)
    assert str(caught.value).startswith(f"{path}: truncated or corrupt pickle ({problem}")


def write_meta(tmp_path, names):
    path = tmp_path / "batches.meta"
    path.write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}))
    return path


def test_label_names_as_bytes_or_text_are_read(tmp_path):
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert cifar.load_label_names(write_meta(tmp_path, [name.encode() for name in names])) == names
    assert cifar.load_label_names(write_meta(tmp_path, names)) == names


@pytest.mark.parametrize(
    "names, problem",
    [
        (list(range(10)), "label name 0 is not UTF-8 text"),
        ([b"cat"] * 9 + [b"caf\xe9"], "label name b'caf\\xe9' is not UTF-8 text"),
        ("airplane", "label_names must be a list of 10 names"),
        ([b"cat"] * 9, "label_names must be a list of 10 names"),
    ],
)
def test_bad_label_names_are_one_line_errors(tmp_path, names, problem):
    path = write_meta(tmp_path, names)
    with pytest.raises(DataError) as caught:
        cifar.load_label_names(path)
    assert str(caught.value) == f"{path}: {problem}"


def test_download_prefers_sha256(tmp_path):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    _official_tarball(tarball)
    sha256 = hashlib.sha256(tarball.read_bytes()).hexdigest()
    messages = []
    cifar.download(tarball.as_uri(), "0" * 32, tmp_path / "out", messages.append, sha256=sha256)
    assert messages[1] == "sha256 ok, extracting"
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    with pytest.raises(DataError) as caught:
        cifar.download(tarball.as_uri(), md5, tmp_path / "again", quiet, sha256="f" * 64)
    assert str(caught.value) == f"{tarball.as_uri()}: sha256 {sha256} does not match expected {'f' * 64}"


def test_download_checks_the_test_batch(tmp_path):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    _official_tarball(tarball, test_batch={b"data": pixels(0.5, np.float64), b"labels": [0, 1, 2, 3]})
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    with pytest.raises(DataError) as caught:
        cifar.download(tarball.as_uri(), md5, tmp_path / "out", quiet)
    assert str(caught.value) == f"{tarball.as_uri()}: test_batch: pixels must be integers 0..255, found float64"
    assert not list((tmp_path / "out").glob("*.part"))


def test_download_of_a_file_that_is_no_tarball(tmp_path):
    fake = tmp_path / "cifar-10-python.tar.gz"
    fake.write_bytes(b"<html>Service unavailable</html>")
    md5 = hashlib.md5(fake.read_bytes()).hexdigest()
    with pytest.raises(DataError) as caught:
        cifar.download(fake.as_uri(), md5, tmp_path / "out", quiet)
    assert str(caught.value) == f"{fake.as_uri()}: not a readable tar.gz (not a gzip file)"


def test_download_gives_up_on_a_silent_server(tmp_path):
    """A server that accepts the connection and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(DataError) as caught:
            cifar.download(f"http://127.0.0.1:{port}/cifar.tar.gz", "0" * 32, tmp_path / "out", quiet, timeout=0.5)
        assert time.monotonic() - started < 10
    assert str(caught.value) == f"could not download http://127.0.0.1:{port}/cifar.tar.gz: no answer within 0.5 s"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_download_logs_no_credentials_or_tokens(tmp_path):
    port = closed_port()
    url = f"http://user:s3cret@127.0.0.1:{port}/cifar.tar.gz?token=t0ken#frag"
    messages = []
    with pytest.raises(DataError) as caught:
        cifar.download(url, "0" * 32, tmp_path / "out", messages.append)
    shown = f"http://***@127.0.0.1:{port}/cifar.tar.gz?***#***"
    assert messages == [f"downloading {shown}"]
    assert str(caught.value) == f"could not download {shown}: [Errno 111] Connection refused"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://host/a.tar.gz", "https://host/a.tar.gz"),
        ("https://user@host:8443/a.tar.gz", "https://***@host:8443/a.tar.gz"),
        ("https://u:p%40ss@host/a?sig=x&exp=1", "https://***@host/a?***"),
        ("http://[::1/a", "(unparsable URL)"),
    ],
)
def test_redact(url, shown):
    assert cifar.redact(url) == shown


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()

    def do_GET(self):
        if self.headers.get("Authorization") != self.expected:
            self.send_error(401)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


def test_download_sends_url_credentials_as_basic_auth(tmp_path):
    """urllib alone would look up "user:p%40ss@127.0.0.1" as a host name."""
    tarball = tmp_path / "cifar-10-python.tar.gz"
    _official_tarball(tarball)
    _AuthHandler.payload = tarball.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AuthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
        cifar.download(f"http://user:p%40ss@127.0.0.1:{port}/c.tar.gz", md5, tmp_path / "out", quiet)
        assert cifar.load_batch(tmp_path / "out" / cifar.TRAIN_FILE)[0].shape == (50, 32, 32, 3)
        with pytest.raises(DataError) as caught:
            cifar.download(f"http://user:wrong@127.0.0.1:{port}/c.tar.gz", md5, tmp_path / "out", quiet)
        assert (
            str(caught.value)
            == f"could not download http://***@127.0.0.1:{port}/c.tar.gz: HTTP Error 401: Unauthorized"
        )
    finally:
        server.shutdown()
        server.server_close()


def run_download_rule(tmp_path, url, md5="0" * 32):
    workflow = copy_workflow(tmp_path / "workflow")
    config = tmp_path / "download.yaml"
    config.write_text(yaml.safe_dump({"download": {"url": url, "md5": md5, "sha256": ""}}))
    target = "resources/cifar10/data_batch_1"
    result = snakemake(
        workflow,
        "--cores",
        "1",
        target,
        "--configfile",
        str(config),
        "--config",
        "preset=smoke",
        check=False,
        timeout=300,
    )
    assert result.returncode != 0 and not (workflow / target).exists()
    log = (workflow / "logs/download_cifar10.log").read_text()
    assert "Traceback" not in log
    return result.stderr, log


@pytest.mark.integration
def test_bad_test_batch_fails_the_download_rule_with_one_line(tmp_path):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    _official_tarball(tarball, test_batch={b"data": pixels(3, np.uint8), b"labels": [1.0, 2.0, 3.0, 4.0]})
    stderr, log = run_download_rule(tmp_path, tarball.as_uri(), hashlib.md5(tarball.read_bytes()).hexdigest())
    error = f"{tarball.as_uri()}: test_batch: labels must be integers 0..9, found float64"
    assert f"error in rule download_cifar10: {error}" in stderr.splitlines()
    assert log.splitlines()[-1].endswith(f"error: {error}")


@pytest.mark.integration
def test_download_rule_logs_no_credentials(tmp_path):
    port = closed_port()
    stderr, log = run_download_rule(tmp_path, f"http://user:s3cret@127.0.0.1:{port}/c.tar.gz?token=t0ken")
    error = f"could not download http://***@127.0.0.1:{port}/c.tar.gz?***: [Errno 111] Connection refused"
    assert f"error in rule download_cifar10: {error}" in stderr.splitlines()
    assert log.splitlines()[-1].endswith(f"error: {error}")
    for text in (stderr, log, *(path.read_text() for path in (tmp_path / "workflow/.snakemake/log").glob("*.log"))):
        assert "s3cret" not in text and "t0ken" not in text
