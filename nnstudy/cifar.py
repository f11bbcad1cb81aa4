"""CIFAR-10 in the official "python version" pickle format.

The course files are `data_batch_1` (10,000 training images) and
`test_batch_trim` (the first 2,000 images of `test_batch`).  Pickles can run
arbitrary code when loaded, so they are read with an unpickler that admits
numpy arrays and builtins only.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

from nnstudy.errors import DataError

IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
TRAIN_FILE = "data_batch_1"
TEST_FILE = "test_batch_trim"
META_FILE = "batches.meta"
TEST_TRIM = 2000

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"

# What a numpy array pickle needs to rebuild itself, and nothing more.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _ForbiddenGlobal(pickle.UnpicklingError):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise _ForbiddenGlobal(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with open(path, "rb") as handle:
            obj = _RestrictedUnpickler(handle, encoding="bytes").load()
    except _ForbiddenGlobal as err:
        raise DataError(f"{path}: not a safe CIFAR-10 pickle ({err})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise DataError(f"{path}: truncated or corrupt pickle ({err})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict, found {type(obj).__name__}")
    return obj


def load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load one batch file as (images uint8 N×32×32×3, labels int64 N)."""
    batch = _unpickle(path)
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except KeyError as err:
        raise DataError(f"{path}: missing key {err.args[0]!r}") from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: data has shape {data.shape}, expected N×3072")
    if labels.shape != (data.shape[0],):
        raise DataError(
            f"{path}: {labels.shape[0]} labels for {data.shape[0]} images"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataError(f"{path}: labels outside 0..{NUM_CLASSES - 1}")
    # Rows are channel-major (1024 red, 1024 green, 1024 blue), each row-major.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def load_label_names(path: Path) -> list[str]:
    meta = _unpickle(path)
    try:
        return [name.decode() for name in meta[b"label_names"]]
    except KeyError:
        raise DataError(f"{path}: missing key b'label_names'") from None


def to_float(images: np.ndarray) -> np.ndarray:
    """Scale uint8 pixels to float32 in [0, 1]."""
    return images.astype(np.float32) / 255.0


def save_batch(path: Path, images: np.ndarray, labels, batch_label: str) -> None:
    """Write images (N×32×32×3 uint8) as an official-format batch file."""
    data = np.asarray(images, dtype=np.uint8).transpose(0, 3, 1, 2).reshape(-1, 3072)
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": [int(label) for label in labels],
        b"data": data,
        b"filenames": [f"image_{i:05d}.png".encode() for i in range(len(data))],
    }
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=4)


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, md5: str, out_dir: Path, log=print) -> None:
    """Fetch the official tarball, verify it and lay out the course files.

    Writes `data_batch_1`, `test_batch_trim` (first 2,000 test images) and
    `batches.meta` into `out_dir`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / "cifar-10-python.tar.gz.part"
    log(f"downloading {url}")
    try:
        with urllib.request.urlopen(url) as response, open(tarball, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        tarball.unlink(missing_ok=True)
        raise DataError(f"could not download {url}: {err}") from None
    actual = md5sum(tarball)
    if actual != md5:
        tarball.unlink()
        raise DataError(f"{url}: md5 {actual} does not match expected {md5}")
    log("checksum ok, extracting")
    with tarfile.open(tarball, "r:gz") as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        for needed in (TRAIN_FILE, META_FILE, "test_batch"):
            if needed not in members:
                raise DataError(f"{url}: archive has no {needed}")
        for name in (TRAIN_FILE, META_FILE):
            _extract(archive, members[name], out_dir / name)
        test = _unpickle_bytes(archive.extractfile(members["test_batch"]).read())
    images = test[b"data"][:TEST_TRIM].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = test[b"labels"][:TEST_TRIM]
    save_batch(out_dir / TEST_FILE, images, labels, "testing batch 1 (first 2000)")
    tarball.unlink()
    log(f"wrote {TRAIN_FILE}, {TEST_FILE}, {META_FILE} to {out_dir}")


def _unpickle_bytes(payload: bytes) -> dict:
    return _RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    with archive.extractfile(member) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)
