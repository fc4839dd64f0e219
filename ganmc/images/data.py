"""Where the images come from: Keras' MNIST, local npz/IDX files, or the bundled copy.

Everything returned here is ``uint8`` of shape ``(N, 28, 28)``, white ink on black, the format
the models are trained on. Which digits count as *normal* is chosen here too: the training
split holds only normal digits, the test split keeps every digit so anomalies can be measured.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganmc.core.errors import DataError, one_line
from ganmc.images.arrays import _as_labels, _read_npz, as_images, read_idx, read_npz

log = logging.getLogger(__name__)

#: Folder of the shipped data and model; ``GANMC_ASSETS`` overrides it.
ASSETS_DIR = Path(os.environ.get("GANMC_ASSETS", Path(__file__).resolve().parents[2] / "assets"))
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
            log.info("Data: the bundled 10,000 digits (Keras' MNIST: %s)", _keras_failure)
        else:
            try:
                x, y, xt, yt = _load_keras()
                used = "keras"
                log.info("Data: Keras MNIST (60,000 train / 10,000 test)")
            except Exception:  # no network, broken cache, ...: fall back, say so in one line
                x, y, xt, yt = _load_bundled(test_size)
                used = "bundled"
                log.warning("Data: Keras' MNIST (70,000 digits) unavailable: %s; using the "
                            "bundled 10,000 digits instead (not retried in this process; set "
                            "GANMC_OFFLINE=1 to skip the attempt)",
                            _keras_failure or "it could not be loaded")
    elif source == "keras":
        try:
            x, y, xt, yt = _load_keras()
        except Exception as exc:
            why = (one_line(exc, 200) if isinstance(exc, DataError)  # tried before: says so
                   else _keras_failure or one_line(exc, 200))
            raise DataError(f"Keras MNIST could not be loaded ({why}); use the bundled digits "
                            f"instead") from None
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

    said = io.StringIO()  # Keras prints the download's address and progress bar to stdout
    try:
        with contextlib.redirect_stdout(said):
            (x, y), (xt, yt) = keras.datasets.mnist.load_data()
    except Exception as exc:
        _keras_failure = _why_not(exc, said.getvalue())
        raise
    return x, y, xt, yt


def _why_not(exc: BaseException, said: str) -> str:
    """Why Keras' MNIST could not be had, in plain words, without the address or the exception
    class (Keras reports a failed download as a bare ``Exception`` naming the address, with
    the HTTP status when the server answered)."""
    text = str(exc)
    if "URL fetch failure" in text and re.search(r": \d{3} -- ", text):
        return "not downloaded (the server refused it)"
    if "URL fetch failure" in text or "Downloading" in said:
        return "not downloaded (no network)"
    return "its copy in Keras' cache could not be read"


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


def split_holdout(x: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Normal images split into (training, held out for calibration), by a seeded shuffle."""
    train, held = holdout_indices(len(x), fraction, seed)
    return x[train], x[held]


def holdout_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices of :func:`split_holdout`'s (training, held-out) parts of n images, so that
    labels can follow their images."""
    n_cal = int(round(fraction * n))
    if n - n_cal < 2:
        raise DataError(f"{n} normal images are too few to train on")
    order = np.random.default_rng(seed).permutation(n)
    return order[n_cal:], order[:n_cal]
