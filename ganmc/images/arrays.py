"""Image arrays from files: IDX (gzipped or not) and ``.npz``, every size checked from the
file's header before anything is inflated, and the one check of an array of images.

:mod:`ganmc.images.data` (MNIST sources) and :mod:`ganmc.images.inputs` (what a user points at) read
through here.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ganmc.core import limits
from ganmc.core.errors import ConfigError, DataError, GanmcError, one_line
from ganmc.core.files import regular_size

log = logging.getLogger(__name__)


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
    regular_size(path, DataError)
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
            if dims[1:] not in ((), (784,), (28, 28)):  # before a byte of the data is read
                raise DataError(f"{path}: IDX dimensions {dims} are not 28x28 images or "
                                f"labels")
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
             max_images: int | None = limits.MAX_IMAGES, min_itemsize: int = 1,
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
        min_itemsize: Bytes each value costs at least once the caller converts it (8 for
            arrays that become float64), counted against ``max_bytes``.
        error: The :class:`GanmcError` subclass to raise.

    Returns:
        The arrays by name.

    Raises:
        GanmcError: ``error``, with one line, if the file is not a readable .npz or too big.
    """
    path = Path(path)
    regular_size(path, error)
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
                total += count * max(dtype.itemsize, min_itemsize)
                if total > max_bytes:
                    raise error(f"{path}: array {name!r} {tuple(shape)} of {dtype} would take "
                                f"{total / 2**20:,.1f} MB in memory (as read and converted), "
                                f"more than the "
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
    regular_size(path, DataError)
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
    # In chunks: a float64 copy of 250,000 images would take 1.5 GB, the uint8 result 196 MB.
    chunks = range(0, len(x), _CHUNK)
    lo, hi = np.inf, -np.inf
    for i in chunks:
        part = x[i:i + _CHUNK].astype(np.float64)
        if not np.isfinite(part).all():
            raise DataError(f"{where}: images contain NaN or infinite values")
        lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    if lo < 0 or hi > 255:
        raise DataError(f"{where}: pixel values must be in [0, 1] or [0, 255], got [{lo}, {hi}]")
    scale = 1.0
    if x.dtype.kind == "f" and hi <= 1.0:
        scale = 255.0
    elif x.dtype.kind == "b" or (x.dtype.kind in "iu" and hi == 1):
        # Binary ink (bool, or whole numbers 0/1): 1 is full ink, not an all but black grey.
        if x.dtype.kind != "b":
            log.warning("%s: whole-number pixels 0-1 taken as binary ink and scaled to 0/255",
                        where)
        scale = 255.0
    out = np.empty(x.shape, np.uint8)
    for i in chunks:
        out[i:i + _CHUNK] = np.round(x[i:i + _CHUNK].astype(np.float64) * scale)
    return out


#: Images converted at a time by :func:`as_images` (50 MB as float64).
_CHUNK = 8192


def _as_labels(y: np.ndarray, where: Path | str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be a 1-D integer array")
    return y.astype(np.uint8)


def as_labels(y: np.ndarray, n: int, digits: tuple[int, ...]) -> np.ndarray:
    """Labels of n images, each one of the normal ``digits``, as int64.

    Raises:
        ConfigError: If they are not n whole numbers among ``digits``.
    """
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ConfigError(f"labels must be {n} whole numbers, one per image, not "
                          f"{y.dtype} of shape {y.shape}")
    foreign = sorted(set(np.unique(y).tolist()) - set(digits))
    if foreign:
        raise ConfigError(f"labels {foreign} are not among the normal digits {list(digits)}")
    return y.astype(np.int64)
