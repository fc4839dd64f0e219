"""Where the images come from: Keras' MNIST, local npz/IDX files, or the bundled copy.

Everything returned here is ``uint8`` of shape ``(N, 28, 28)``, white ink on black, the format
the models are trained on. Which digits count as *normal* is chosen here too: the training
split holds only normal digits, the test split keeps every digit so anomalies can be measured.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganmc.errors import DataError

log = logging.getLogger(__name__)

#: Folder of the shipped data and model; ``GANMC_ASSETS`` overrides it.
ASSETS_DIR = Path(os.environ.get("GANMC_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
BUNDLED_FILE = ASSETS_DIR / "mnist-10k.npz"
#: Seed of the fixed train/test split of data that comes without one (bundled, ``x``/``y`` npz).
SPLIT_SEED = 20_240
SOURCES = ("auto", "keras", "bundled")
_MAX_IDX_ITEMS = 10_000_000


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
        else:
            try:
                x, y, xt, yt = _load_keras()
                used = "keras"
                log.info("Data: Keras MNIST (60,000 train / 10,000 test)")
            except Exception as exc:  # no network, broken cache, ...: fall back, say so
                x, y, xt, yt = _load_bundled(test_size)
                used = "bundled"
                log.warning("Data: Keras MNIST unavailable (%s); using the bundled 10,000 digits",
                            type(exc).__name__)
    elif source == "keras":
        try:
            x, y, xt, yt = _load_keras()
        except Exception as exc:
            raise DataError(f"Keras MNIST could not be loaded ({exc}); try --data bundled") from exc
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


def _load_keras() -> tuple[np.ndarray, ...]:
    import keras

    (x, y), (xt, yt) = keras.datasets.mnist.load_data()
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
        with _open_npz(path) as z:
            if {"x_train", "y_train", "x_test", "y_test"} <= set(z.files):
                return tuple(
                    _as_labels(z[k], path) if k.startswith("y") else as_images(z[k], f"{path}:{k}")
                    for k in ("x_train", "y_train", "x_test", "y_test")
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
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) != 4 or head[:2] != b"\x00\x00":
                raise DataError(f"{path}: not an IDX file (bad magic number)")
            if head[2] != 0x08:
                raise DataError(f"{path}: IDX element type 0x{head[2]:02x} is not unsigned bytes")
            ndim = head[3]
            if not 1 <= ndim <= 3:
                raise DataError(f"{path}: IDX files with {ndim} dimensions are not images/labels")
            dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            if dims[0] > _MAX_IDX_ITEMS or int(np.prod(dims[1:], dtype=np.int64)) > 4096:
                raise DataError(f"{path}: IDX dimensions {dims} are not MNIST-like")
            count = int(np.prod(dims, dtype=np.int64))
            data = f.read(count)
    except (OSError, EOFError, struct.error) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from None
    if len(data) != count:
        raise DataError(f"{path}: truncated IDX file ({len(data)} of {count} bytes)")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with _open_npz(path) as z:
        if "x" not in z.files:
            raise DataError(f"{path}: no array named 'x' (found: {', '.join(z.files) or 'none'})")
        try:
            x = as_images(z["x"], f"{path}:x")
            y = _as_labels(z["y"], path) if "y" in z.files else None
        except ValueError as exc:  # object arrays need pickle, which is refused
            raise DataError(f"{path}: unreadable array ({exc})") from None
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

    Accepts (28, 28), (N, 28, 28), (N, 28, 28, 1) or (N, 784); uint8 0-255 or floats in
    [0, 1] (scaled) or [0, 255].

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
    return np.round(xf).astype(np.uint8)


def _as_labels(y: np.ndarray, where: Path | str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be a 1-D integer array")
    return y.astype(np.uint8)
