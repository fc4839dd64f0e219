"""Where the images come from: Keras' MNIST, local npz/IDX files, or the bundled copy.

Everything returned here is ``uint8`` of shape ``(N, 28, 28)``, white ink on black, the format
the models are trained on. Which digits count as *normal* is chosen here too: the training
split holds only normal digits, the test split keeps every digit so anomalies can be measured.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganmc import limits
from ganmc.errors import DataError, GanmcError, one_line

log = logging.getLogger(__name__)

#: Folder of the shipped data and model; ``GANMC_ASSETS`` overrides it.
ASSETS_DIR = Path(os.environ.get("GANMC_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
BUNDLED_FILE = ASSETS_DIR / "mnist-10k.npz"
#: Seed of the fixed train/test split of data that comes without one (bundled, ``x``/``y`` npz).
SPLIT_SEED = 20_240
SOURCES = ("auto", "keras", "bundled")


@dataclass
class MnistSplits:
    """Training and test images with the normal digits chosen.

    Attributes:
        x_train: Normal training images, uint8 (N, 28, 28).
        y_train: Their labels.
        x_test: All test images, every digit (anomalies included).
        y_test: Their labels.
        digits: The digits treated as normal.
        source: Where the images came from, for the model card.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    digits: tuple[int, ...]
    source: str

    @property
    def test_is_normal(self) -> np.ndarray:
        """Boolean mask of the test images whose digit is normal."""
        return np.isin(self.y_test, self.digits)


def load_mnist(
    source: str = "auto",
    digits: tuple[int, ...] | list[int] | None = None,
    *,
    test_size: int = 2000,
) -> MnistSplits:
    """Load MNIST-format digits and keep the normal ones for training.

    Args:
        source: ``"keras"`` (``keras.datasets.mnist.load_data()``, downloads once into the
            Keras cache), ``"bundled"`` (the 10,000 digits under ``assets/``), ``"auto"``
            (Keras, else the bundled copy when offline; set ``GANMC_OFFLINE=1`` to skip the
            download attempt), or a path to an ``.npz`` (``x``/``y`` or Keras'
            ``x_train``/``y_train``/``x_test``/``y_test``), an IDX images file
            (``*-idx3-ubyte[.gz]``, labels beside it) or a folder of IDX files.
        digits: The digits treated as normal; ``None`` means all ten.
        test_size: Size of the test split for data that has none (bundled, ``x``/``y``).

    Returns:
        The splits, training images restricted to the normal digits.

    Raises:
        DataError: If the source is missing, unreadable or not MNIST-shaped.
    """
    digits = tuple(range(10)) if digits is None else tuple(sorted(set(digits)))
    if source == "auto":
        if os.environ.get("GANMC_OFFLINE"):
            x, y, xt, yt, used = *_load_bundled(test_size), "bundled"
            log.info("Data: bundled MNIST copy (GANMC_OFFLINE is set)")
        elif _keras_failure is not None:  # tried once in this process already; said so then
            x, y, xt, yt, used = *_load_bundled(test_size), "bundled"
            log.info("Data: bundled MNIST copy (Keras MNIST unavailable: %s)", _keras_failure)
        else:
            try:
                x, y, xt, yt = _load_keras()
                used = "keras"
                log.info("Data: Keras MNIST (60,000 train / 10,000 test)")
            except Exception as exc:  # no network, broken cache, ...: fall back, say so
                x, y, xt, yt = _load_bundled(test_size)
                used = "bundled"
                log.warning("Data: Keras MNIST unavailable (%s); using the bundled 10,000 "
                            "digits (not retried in this process; set GANMC_OFFLINE=1 to skip "
                            "the attempt)", type(exc).__name__)
    elif source == "keras":
        try:
            x, y, xt, yt = _load_keras()
        except Exception as exc:
            raise DataError(f"Keras MNIST could not be loaded ({one_line(exc, 200)}); try --data "
                            f"bundled") from None
        used = "keras"
    elif source == "bundled":
        x, y, xt, yt = _load_bundled(test_size)
        used = "bundled"
    else:
        x, y, xt, yt = _load_path(Path(source), test_size)
        used = str(source)
    if y is None or yt is None:
        raise DataError(f"{used}: labels are needed to choose the normal digits")
    keep = np.isin(y, digits)
    if not keep.any():
        raise DataError(f"{used}: no training images of digits {list(digits)}")
    return MnistSplits(x[keep], y[keep], xt, yt, digits, used)


#: Why the Keras download failed, once it has in this process (it is not tried again).
_keras_failure: str | None = None


def _load_keras() -> tuple[np.ndarray, ...]:
    global _keras_failure
    if _keras_failure is not None:
        raise DataError(f"Keras MNIST unavailable ({_keras_failure}; not retried in this "
                        f"process)")
    import keras

    try:
        (x, y), (xt, yt) = keras.datasets.mnist.load_data()
    except Exception as exc:
        _keras_failure = one_line(f"{type(exc).__name__}: {exc}", 200)
        raise
    return x, y, xt, yt


def _load_bundled(test_size: int) -> tuple[np.ndarray, ...]:
    if not BUNDLED_FILE.is_file():
        raise DataError(f"bundled digits not found at {BUNDLED_FILE} (set GANMC_ASSETS)")
    x, y = _read_npz(BUNDLED_FILE)
    return _split(x, y, test_size)


def _split(x: np.ndarray, y: np.ndarray | None, test_size: int) -> tuple[np.ndarray, ...]:
    if y is None:
        raise DataError("labels (y) are needed to split into train and test")
    if not 0 < test_size < len(x):
        raise DataError(f"cannot hold out {test_size} test images from {len(x)}")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    test, train = order[:test_size], order[test_size:]
    return x[train], y[train], x[test], y[test]


def _load_path(path: Path, test_size: int) -> tuple[np.ndarray, ...]:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        train = _find_idx(path, ("train",))
        test = _find_idx(path, ("t10k", "test"))
        if train is None or test is None:
            raise DataError(f"{path}: no train-/t10k- IDX image files found")
        return (*_read_idx_pair(train), *_read_idx_pair(test))
    if path.suffix == ".npz":
        keys = ("x_train", "y_train", "x_test", "y_test")
        z = read_npz(path, keys)
        if set(keys) <= set(z):
            return tuple(
                _as_labels(z[k], path) if k.startswith("y") else as_images(z[k], f"{path}:{k}")
                for k in keys
            )
        x, y = _read_npz(path)
        return _split(x, y, test_size)
    if "idx3" in path.name:
        return _split(*_read_idx_pair(path), test_size)
    raise DataError(f"{path}: expected an .npz, an IDX images file or a folder of IDX files")


def _find_idx(folder: Path, prefixes: tuple[str, ...]) -> Path | None:
    for f in sorted(folder.iterdir()):
        if "idx3" in f.name and f.name.startswith(prefixes):
            return f
    return None


def _read_idx_pair(images: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(images)
    labels = images.with_name(images.name.replace("images", "labels").replace("idx3", "idx1"))
    if not labels.is_file():
        raise DataError(f"{images}: labels file {labels.name} not found beside it")
    y = _as_labels(read_idx(labels), labels)
    if len(y) != len(x):
        raise DataError(f"{labels}: {len(y)} labels for {len(x)} images")
    return as_images(x, str(images)), y


def read_idx(path: Path | str) -> np.ndarray:
    """Read an IDX file (the format MNIST is distributed in), gzipped or not.

    Args:
        path: The file; ``.gz`` files are decompressed.

    Returns:
        The array, uint8, of the shape the header gives.

    Raises:
        DataError: On a bad magic number, an unsupported type or a truncated file.
    """
    path = Path(path)
    gz = path.suffix == ".gz"
    try:
        with (gzip.open if gz else open)(path, "rb") as f:
            head = f.read(4)
            if len(head) != 4 or head[:2] != b"\x00\x00":
                raise DataError(f"{path}: not an IDX file (bad magic number)")
            if head[2] != 0x08:
                raise DataError(f"{path}: IDX element type 0x{head[2]:02x} is not unsigned bytes")
            ndim = head[3]
            if not 1 <= ndim <= 3:
                raise DataError(f"{path}: IDX files with {ndim} dimensions are not images/labels")
            dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            if math.prod(dims[1:]) > 4096:
                raise DataError(f"{path}: IDX dimensions {dims} are not MNIST-like")
            if dims[0] > limits.MAX_IMAGES:
                raise DataError(f"{path}: the header says {dims[0]:,} items, more than the "
                                f"{limits.MAX_IMAGES:,} one file may hold")
            count = math.prod(dims)
            if not gz:
                size = os.fstat(f.fileno()).st_size - 4 - 4 * ndim
                if size < count:
                    raise DataError(f"{path}: truncated IDX file ({size} of {count} bytes)")
                if size > count:
                    raise DataError(f"{path}: more data than the header's {dims} (not an IDX "
                                    f"file?)")
            data = f.read(count)
            if len(data) == count and f.read(1):  # never inflate more than the header says
                raise DataError(f"{path}: more data than the header's {dims} (not an IDX "
                                f"file, or a decompression bomb)")
    except GanmcError:
        raise
    except (OSError, EOFError, struct.error, zlib.error) as exc:
        raise DataError(f"{path}: cannot read IDX file ({one_line(exc, 200)})") from None
    if len(data) != count:
        raise DataError(f"{path}: truncated IDX file ({len(data)} of {count} bytes)")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def read_npz(path: Path | str, names: tuple[str, ...] | None = None, *,
             max_bytes: int = limits.MAX_IMAGE_ARRAY_BYTES,
             max_images: int | None = limits.MAX_IMAGES,
             error: type[GanmcError] = DataError) -> dict[str, np.ndarray]:
    """Read arrays of an ``.npz`` safely: every size checked from its header first.

    Each member's ``.npy`` header (shape, dtype) is read before any of its data is inflated;
    arrays that need pickle, or whose data would exceed ``max_bytes`` (all read members
    together) or hold more than ``max_images`` 28x28 images, are refused unread.

    Args:
        path: The file.
        names: The arrays to read (those missing are left out); None reads them all.
        max_bytes: Most bytes the arrays read may inflate to, together.
        max_images: Most 28x28 images one array may hold (None: no such limit).
        error: The :class:`GanmcError` subclass to raise.

    Returns:
        The arrays by name.

    Raises:
        GanmcError: ``error``, with one line, if the file is not a readable .npz or too big.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
            wanted = [n for n in (names if names is not None else members) if n in members]
            headers, total = {}, 0
            for name in wanted:
                with zf.open(members[name]) as f:
                    shape, dtype = _npy_header(f, f"{path}:{name}", error)
                count = math.prod(shape)
                if max_images is not None and count > max_images * 784:
                    raise error(f"{path}: array {name!r} {tuple(shape)} holds more than the "
                                f"{max_images:,} images one file may hold")
                total += count * dtype.itemsize
                if total > max_bytes:
                    raise error(f"{path}: array {name!r} {tuple(shape)} of {dtype} would take "
                                f"{total / 2**20:,.1f} MB in memory, more than the "
                                f"{max_bytes / 2**20:,.1f} MB allowed")
                headers[name] = shape
            arrays = {}
            for name in wanted:
                with zf.open(members[name]) as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
    except GanmcError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile,
            NotImplementedError, RuntimeError, zlib.error) as exc:
        raise error(f"{path}: not a readable .npz file ({one_line(exc, 200)})") from None
    return arrays


def _npy_header(f, where: str, error: type[GanmcError]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an ``.npy`` header, without reading the data."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise error(f"{where}: .npy format version {version} is not supported")
    except GanmcError:
        raise
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as exc:
        raise error(f"{where}: unreadable array header ({one_line(exc, 200)})") from None
    if dtype.hasobject:
        raise error(f"{where}: arrays of Python objects are refused (they would need pickle)")
    return tuple(int(d) for d in shape), dtype


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    z = read_npz(path, ("x", "y"))
    if "x" not in z:
        raise DataError(f"{path}: no array named 'x'")
    x = as_images(z["x"], f"{path}:x")
    y = _as_labels(z["y"], path) if "y" in z else None
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: {len(y)} labels for {len(x)} images")
    return x, y


def load_images_file(path: Path | str) -> np.ndarray:
    """Read the images of an ``.npz`` (array ``x``) or IDX file, labels ignored.

    Raises:
        DataError: If the file is unreadable or its images are not 28x28.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".npz":
        return _read_npz(path)[0]
    return as_images(read_idx(path), str(path))


def as_images(x: np.ndarray, where: str = "array") -> np.ndarray:
    """Check and convert an array of digits to uint8 (N, 28, 28).

    Accepts (28, 28), (N, 28, 28), (N, 28, 28, 1) or (N, 784); uint8 0-255, floats in
    [0, 1] (scaled) or [0, 255], booleans, or other whole numbers in [0, 255]. Binary ink is
    scaled to 0/255: booleans, and whole numbers whose largest value is 1 (with a warning;
    such an array is taken as 0/1 ink, not as grey levels that barely differ from black).

    Raises:
        DataError: On a wrong shape, a non-numeric dtype, NaN/inf or values out of range.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: images must be numbers, not {x.dtype}")
    if x.ndim == 2 and x.shape == (28, 28):
        x = x[None]
    elif x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    elif x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DataError(f"{where}: expected images of shape (N, 28, 28), got {x.shape}")
    if len(x) == 0:
        raise DataError(f"{where}: holds no images")
    if x.dtype == np.uint8:
        return x
    xf = x.astype(np.float64)
    if not np.isfinite(xf).all():
        raise DataError(f"{where}: images contain NaN or infinite values")
    lo, hi = float(xf.min()), float(xf.max())
    if lo < 0 or hi > 255:
        raise DataError(f"{where}: pixel values must be in [0, 1] or [0, 255], got [{lo}, {hi}]")
    if x.dtype.kind == "f" and hi <= 1.0:
        xf = xf * 255.0
    elif x.dtype.kind == "b" or (x.dtype.kind in "iu" and hi == 1):
        # Binary ink (bool, or whole numbers 0/1): 1 is full ink, not an all but black grey.
        if x.dtype.kind != "b":
            log.warning("%s: whole-number pixels 0-1 taken as binary ink and scaled to 0/255",
                        where)
        xf = xf * 255.0
    return np.round(xf).astype(np.uint8)


def _as_labels(y: np.ndarray, where: Path | str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be a 1-D integer array")
    return y.astype(np.uint8)
