"""CIFAR-10 in the official "python version" pickle format.

The course files are `data_batch_1` (10,000 training images) and `test_batch_trim` (the first 2,000 images
of `test_batch`).  Pickles can run arbitrary code when loaded, so they are read with an unpickler that admits
numpy arrays and builtins only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import pickle
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from nnstudy.errors import DataError

NUM_CLASSES = 10
TRAIN_FILE = "data_batch_1"
TEST_FILE = "test_batch_trim"
META_FILE = "batches.meta"
TEST_TRIM = 2000
DOWNLOAD_TIMEOUT = 60  # seconds a download waits for the server to connect or to send more bytes

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
    return _unpickle_bytes(path.read_bytes(), path)


def _unpickle_bytes(payload: bytes, source) -> dict:
    try:
        obj = _RestrictedUnpickler(io.BytesIO(payload), encoding="bytes").load()
    except _ForbiddenGlobal as err:
        raise DataError(f"{source}: not a safe CIFAR-10 pickle ({err})") from None
    except Exception as err:  # noqa: BLE001
        # Damaged bytes make the unpickler raise nearly anything (UnicodeDecodeError, MemoryError, ...).
        raise DataError(f"{source}: truncated or corrupt pickle ({str(err) or type(err).__name__})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{source}: expected a dict, found {type(obj).__name__}")
    return obj


def load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load one batch file as (images uint8 N×32×32×3, labels int64 N)."""
    return _batch_arrays(_unpickle(path), path)


def _batch_arrays(batch: dict, source) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = _integers(batch[b"data"], source, "pixels", 255)
        labels = _integers(batch[b"labels"], source, "labels", NUM_CLASSES - 1)
    except KeyError as err:
        raise DataError(f"{source}: missing key {err.args[0]!r}") from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{source}: data has shape {data.shape}, expected N×3072")
    if labels.shape != (len(data),):
        raise DataError(f"{source}: labels have shape {labels.shape}; expected a list of {len(data)}, one per image")
    # Rows are channel-major (1024 red, 1024 green, 1024 blue), each row-major.
    images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def _integers(values, source, what: str, high: int) -> np.ndarray:
    """`values` as an array, if all are integers in 0..high (a cast would make float pixels in [0, 1] black,
    a pixel of 300 44 and a label of 2.7 class 2)."""
    try:
        array = np.asarray(values)
    except ValueError:  # nested lists of unequal lengths
        raise DataError(f"{source}: {what} are not an array") from None
    if array.dtype.kind not in "iu":
        found = "text" if array.dtype.kind in "SU" else array.dtype
        raise DataError(f"{source}: {what} must be integers 0..{high}, found {found}")
    if array.size and (array.min() < 0 or array.max() > high):
        outside = array[(array < 0) | (array > high)].flat[0]
        raise DataError(f"{source}: {what} outside 0..{high} (found {outside})")
    return array


def load_label_names(path: Path) -> list[str]:
    """The class names of `batches.meta` (bytes in the official file, text accepted)."""
    meta = _unpickle(path)
    try:
        names = meta[b"label_names"]
    except KeyError:
        raise DataError(f"{path}: missing key b'label_names'") from None
    if not isinstance(names, (list, tuple)) or len(names) != NUM_CLASSES:
        raise DataError(f"{path}: label_names must be a list of {NUM_CLASSES} names")
    decoded = []
    for name in names:
        try:
            decoded.append(name if isinstance(name, str) else name.decode())
        except (AttributeError, UnicodeDecodeError):
            raise DataError(f"{path}: label name {name!r} is not UTF-8 text") from None
    return decoded


# How the network sees a CIFAR-10 row: "images", the 32×32 RGB image (the planes rearranged), or "course", the
# course's loader fed to Reshape((32, 32, 3)): the raw row of 1,024 red, 1,024 green and 1,024 blue values read
# three at a time, so the red plane fills the top third of the "image" and a "pixel" is three neighbouring values.
PIXEL_LAYOUTS = ("images", "course")


def arrange(images: np.ndarray, layout: str) -> np.ndarray:
    """`images` (N×32×32×3, as load_batch returns them) in a pixel layout of PIXEL_LAYOUTS."""
    if layout == "images":
        return images
    if layout == "course":
        raw_rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)  # the file's own order
        return raw_rows.reshape(len(images), 32, 32, 3)
    raise ValueError(f"unknown pixel layout {layout!r}; choose one of {PIXEL_LAYOUTS}")


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
    Path(path).write_bytes(pickle.dumps(batch, protocol=4))


def redact(url: str) -> str:
    """`url` fit for a log: its user:password, query and fragment (which can carry tokens) become ***."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    host = parts.netloc.rpartition("@")[2]
    hidden = ["***" if part else "" for part in (parts.query, parts.fragment)]
    return urllib.parse.urlunsplit((parts.scheme, f"***@{host}" if "@" in parts.netloc else host, parts.path, *hidden))


def download(url: str, md5: str, out_dir: Path, log=print, *, sha256="", timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Fetch the official tarball, verify it (against `sha256` when given, since MD5 collisions are cheap to
    make, else `md5`) and lay out `data_batch_1`, `test_batch_trim` (the first 2,000 test images) and
    `batches.meta` in `out_dir`.  Log and error lines show the URL redacted."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / "cifar-10-python.tar.gz.part"
    shown = redact(url)
    log(f"downloading {shown}")
    algorithm, expected = ("sha256", sha256) if sha256 else ("md5", md5)
    try:
        actual = _fetch(url, tarball, timeout, algorithm)
    except (OSError, ValueError, http.client.HTTPException) as err:
        tarball.unlink(missing_ok=True)
        raise DataError(f"could not download {shown}: {_reason(err, url, timeout)}") from None
    if actual != expected.lower():
        tarball.unlink()
        raise DataError(f"{shown}: {algorithm} {actual} does not match expected {expected}")
    log(f"{algorithm} ok, extracting")
    try:
        _lay_out(tarball, out_dir, shown)
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise DataError(f"{shown}: not a readable tar.gz ({err})") from None
    finally:
        tarball.unlink()
    log(f"wrote {TRAIN_FILE}, {TEST_FILE}, {META_FILE} to {out_dir}")


def _fetch(url: str, target: Path, timeout: float, algorithm: str) -> str:
    """Copy `url` into `target`, giving up when the server is silent for `timeout` s; return its digest.

    urllib takes a URL's user:password for part of the host name; they are sent as HTTP basic authentication
    instead, in a header that a redirect to another server does not receive.
    """
    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
    if parts.username is not None:
        user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")
    digest = hashlib.new(algorithm)
    with urllib.request.urlopen(request, timeout=timeout) as response, open(target, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _reason(err: Exception, url: str, timeout: float) -> str:
    """What went wrong, without urllib's `<urlopen error ...>` wrapping, and with *** for what `redact` hides."""
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        err = err.reason
    message = f"no answer within {timeout:g} s" if isinstance(err, TimeoutError) else str(err)
    try:
        parts = urllib.parse.urlsplit(url)
        secrets = [parts.netloc.rpartition("@")[0], parts.password, parts.query, parts.fragment]
    except ValueError:
        secrets = [url]
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def _lay_out(tarball: Path, out_dir: Path, shown: str) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        for needed in (TRAIN_FILE, META_FILE, "test_batch"):
            if needed not in members:
                raise DataError(f"{shown}: archive has no {needed}")
        for name in (TRAIN_FILE, META_FILE):
            with archive.extractfile(members[name]) as member, open(out_dir / name, "wb") as out:
                shutil.copyfileobj(member, out)
        source = f"{shown}: test_batch"
        test = _batch_arrays(_unpickle_bytes(archive.extractfile(members["test_batch"]).read(), source), source)
    save_batch(out_dir / TEST_FILE, test[0][:TEST_TRIM], test[1][:TEST_TRIM], "testing batch 1 (first 2000)")
