"""Any picture -> the 28x28 grey frame the models were trained on, by one of two framings.

- ``digits`` ("like digits", MNIST's own): MNIST was made by fitting each digit's bounding
  box into 20x20 pixels (keeping the aspect ratio, anti-aliased) and placing it in a 28x28
  field so that its centre of mass is at the centre. Doing the same to user input matters: a
  model trained on centred, white-on-black digits finds an off-centre or inverted digit
  anomalous, rightly (:func:`to_mnist`).
- ``whole`` ("whole image"): the whole picture in grey, shrunk to fit 28x28 keeping its
  proportions, the rest filled with the colour of its edge (:func:`to_whole`): for pictures
  whose every part counts (photographs, products, textures). A 28x28 grey picture stays as
  it is.

A model records the framing its training images had (its card's ``framing``) and every image
it judges is framed the same way (:func:`frame`).
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ganmc.core.config import DIGITS, FRAMINGS
from ganmc.core.errors import ConfigError, ImageError
from ganmc.core.files import regular_size

#: Largest picture accepted, in pixels (width x height); larger ones are refused unread.
MAX_PIXELS = 40_000_000
#: Largest image file accepted, in bytes.
MAX_FILE_BYTES = 50_000_000
#: Images larger than this on a side are shrunk before processing (nothing is lost at 28x28).
_WORK_SIDE = 512
#: Minimum contrast between ink and background, on a 0-1 scale, to call it a drawing.
MIN_CONTRAST = 0.15
#: Least ink a digit has, in full-ink pixels (the ink summed, on a 0-1 scale): one dot or a
#: faint pixel is no digit. Every bundled MNIST digit has over four times as much (a test
#: checks it).
MIN_INK = 5.0
#: What a picture or array image with no digit is told (after its name).
BLANK = ("no digit found (the image is blank, of one colour, or holds less ink than "
         f"{MIN_INK:g} pixels)")
_INK_LEVEL = 0.2

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Picture:
    """A picture as read from its file: decoded (a large one shrunk in its own mode) with the
    size and mode its header gave."""

    image: Image.Image
    size: tuple[int, int]
    mode: str


def open_picture(source: str | Path | bytes, *, name: str | None = None) -> Picture:
    """Read an image file (PNG, JPEG, BMP, GIF's first frame, ...), within the size limits.

    Args:
        source: A path, or the file's bytes (e.g. an upload).
        name: What to call the image in error messages.

    Raises:
        ImageError: If the file is unreadable, empty or too large.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        size = len(source) if isinstance(source, bytes) else regular_size(source, ImageError)
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{label}: {size:,} bytes is more than the {MAX_FILE_BYTES:,} "
                             f"allowed for one image file")
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as exc:
        raise ImageError(f"{label}: cannot open ({exc.strerror or exc})") from None
    if not data:
        raise ImageError(f"{label}: the file is empty (0 bytes)")
    with io.BytesIO(data) as fp, warnings.catch_warnings():
        # Our own, lower, limit is checked below from the header; Pillow's hard limit
        # (DecompressionBombError) still applies if MAX_PIXELS is ever raised above it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(fp)
            w, h = img.size
            mode = img.mode
            if w * h > MAX_PIXELS:
                raise ImageError(f"{label}: {w}x{h} pixels is more than the {MAX_PIXELS:,} "
                                 f"allowed")
            img.seek(0)
            if max(w, h) > _WORK_SIDE:
                img.draft("L", (_WORK_SIDE, _WORK_SIDE))  # JPEG: decode at reduced size
            img.load()
            return Picture(_shrunk(img), (w, h), mode)
        except ImageError:
            raise
        except Image.DecompressionBombError:
            raise ImageError(f"{label}: refused, too many pixels (decompression bomb?)") from None
        except UnidentifiedImageError:
            raise ImageError(f"{label}: not an image file Pillow can read") from None
        except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
            raise ImageError(f"{label}: corrupt or truncated image ({exc})") from None


def load_image(source: str | Path | bytes, *, name: str | None = None,
               framing: str = DIGITS) -> np.ndarray:
    """Read an image file (PNG, JPEG, BMP, GIF's first frame, ...) into a model's frame.

    Args:
        source: A path, or the file's bytes (e.g. an upload).
        name: What to call the image in error messages.
        framing: ``"digits"`` (MNIST's format, the default) or ``"whole"`` (:func:`frame`).

    Returns:
        uint8 (28, 28); for ``digits`` a white digit on black.

    Raises:
        ImageError: If the file is unreadable, too large, or (``digits``) holds no ink.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    return frame(open_picture(source, name=label).image, framing, name=label)


#: Modes converted before :meth:`Image.reduce` (which does not take them), keeping the ink.
_REDUCIBLE = {"1": "L", "P": "RGBA", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB"}


def _shrunk(img: Image.Image) -> Image.Image:
    """A big picture box-averaged in Pillow, in its own mode, to under twice ``_WORK_SIDE``
    a side: converting 40 million pixels to float arrays took 1.4 GB. Detail finer than the
    averaging (fine noise, hairlines) comes out nearly even grey: when that loses over half the
    picture's contrast, the small one is stretched back to full contrast, so that the picture
    is judged as what it holds rather than refused as blank."""
    factor = max(img.size) // _WORK_SIDE
    if factor < 2:
        return img
    try:
        small = img.convert(_REDUCIBLE[img.mode]).reduce(factor) if img.mode in _REDUCIBLE \
            else img.reduce(factor)
    except ValueError:  # a mode reduce does not take: left to to_mnist's resize
        return img
    if small.mode in ("L", "RGB") and 2 * _spread(small) < _spread(img):
        small = ImageOps.autocontrast(small)
    return small


def _spread(img: Image.Image) -> int:
    """The largest difference between a band's darkest and brightest value (Pillow's
    extrema: no copy of the pixels)."""
    extrema = img.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return max(int(hi - lo) for lo, hi in bands)


#: Most pixels the pictures of one batch (the Detect page's uploads) may hold together,
#: counted from their headers before any is decoded (five pictures of the largest size).
MAX_BATCH_PIXELS = 5 * MAX_PIXELS


def header_pixels(data: bytes) -> int:
    """Width x height from a picture's header, decoding nothing (0 if it cannot be read:
    :func:`load_image` then says why)."""
    try:
        with io.BytesIO(data) as fp, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp) as img:
                return img.size[0] * img.size[1]
    except Exception:  # anything unreadable is load_image's to report
        return 0


def load_batch(files: list[tuple[str, bytes]], framing: str = DIGITS
               ) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """Read named pictures (e.g. uploads) as :func:`load_image` does (in ``framing``), the
    batch within ``MAX_BATCH_PIXELS`` from the headers: a picture past it is refused unread.

    Returns:
        The images read, by name, and one line for each picture refused.
    """
    images, problems, total = [], [], 0
    for name, data in files:
        pixels = header_pixels(data)
        if total + pixels > MAX_BATCH_PIXELS:
            problems.append(f"{name}: refused unread, {pixels:,} pixels more than the "
                            f"{MAX_BATCH_PIXELS:,} one batch may hold ({total:,} so far); "
                            f"judge it in another batch")
            continue
        total += pixels
        try:
            images.append((name, load_image(data, name=name, framing=framing)))
        except ImageError as exc:
            problems.append(str(exc))
    return images, problems


def to_mnist(image: Image.Image | np.ndarray, *, name: str = "image") -> np.ndarray:
    """Turn a picture of one digit into MNIST format.

    Dark-on-light pictures are inverted; a transparent background (e.g. a drawing canvas)
    takes the alpha channel as the ink. The ink's bounding box is fitted into 20x20 pixels and
    centred by centre of mass in 28x28, as MNIST itself was made.

    Args:
        image: A Pillow image of any mode, or an array (H, W), (H, W, 3) or (H, W, 4).
        name: What to call the image in error messages.

    Returns:
        uint8 (28, 28), white ink on black.

    Raises:
        ImageError: If the picture is empty, blank or of one colour.
    """
    gray = _to_gray(image, name)
    if gray.size == 0:
        raise ImageError(f"{name}: the image has no pixels")
    if max(gray.shape) > _WORK_SIDE:
        scale = _WORK_SIDE / max(gray.shape)
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = np.asarray(Image.fromarray(gray.astype(np.float32), "F").resize(size, Image.BOX))
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:  # light background: dark ink, as on paper
        gray = 1.0 - gray
        border = 1.0 - border
    background = float(np.median(border))
    ink = np.clip(gray - background, 0.0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ImageError(f"{name}: {BLANK}")
    ink /= peak
    if float(ink.sum()) < MIN_INK:  # a dot would be blown up to a 20x20 blob below
        raise ImageError(f"{name}: {BLANK}")
    rows = np.flatnonzero((ink > _INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((ink > _INK_LEVEL).any(axis=0))
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _fit_and_centre(box)


def no_digit(x: np.ndarray) -> np.ndarray:
    """Which MNIST-format images, uint8 (N, 28, 28), hold no digit: less contrast than
    ``MIN_CONTRAST`` between the darkest and the brightest pixel, or less ink than
    ``MIN_INK`` full pixels (a blank image, a dot, one faint pixel). Refused as input and
    never judged, as a picture holding no digit is (:func:`to_mnist`)."""
    x = np.asarray(x)
    flat = x.reshape(len(x), -1)
    spread = flat.max(axis=1).astype(np.int16) - flat.min(axis=1)
    ink = flat.sum(axis=1, dtype=np.int64) - flat.min(axis=1).astype(np.int64) * flat.shape[1]
    return (spread < MIN_CONTRAST * 255) | (ink < MIN_INK * 255)


def _to_gray(image: Image.Image | np.ndarray, name: str) -> np.ndarray:
    """Grey levels in [0, 1], float32, with ink from alpha where the background is transparent."""
    if isinstance(image, np.ndarray):
        arr = np.asarray(image)
        if arr.dtype.kind not in "biuf" or arr.ndim not in (2, 3):
            raise ImageError(f"{name}: expected an image array (H, W[, C]), got {arr.shape}")
        if arr.size == 0:
            raise ImageError(f"{name}: the image has no pixels")
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all():
                raise ImageError(f"{name}: the image contains NaN or infinite values")
            arr = np.clip(arr, 0, 1 if arr.max() <= 1.0 else 255)
            arr = arr * 255.0 if arr.max() <= 1.0 else arr
        if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
            raise ImageError(f"{name}: {arr.shape[2]} colour channels are not supported")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        mode = "L" if arr.ndim == 2 else {3: "RGB", 4: "RGBA"}[arr.shape[2]]
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode)
    img = image
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ImageError(f"{name}: the image contains NaN or infinite values")
        # A float picture in 0-1 (a TIFF written by numpy code) is scaled as 0-1, as arrays are.
        top = (1.0 if img.mode == "F" and arr.max() <= 1.0 else
               65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0)
        return np.clip(arr / top, 0, 1).astype(np.float32)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        if alpha.max() - alpha.min() > MIN_CONTRAST:
            # Drawn on a transparent background: what is opaque is the ink, whatever its colour.
            return alpha
        img = img.convert("RGB")
    if img.mode == "CMYK":
        img = img.convert("RGB")
    return np.asarray(ImageOps.grayscale(img), dtype=np.float32) / 255.0


def _fit_and_centre(box: np.ndarray) -> np.ndarray:
    h, w = box.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(box.astype(np.float32), "F").resize(size, Image.LANCZOS))
    small = np.clip(small, 0.0, 1.0)
    if 0.0 < small.max() < 0.5:  # detail averaged faint (fine noise, hairlines): back to full
        small = small / small.max()  # ink, which every MNIST digit reaches
    total = small.sum()
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    top, left = int(round(14 - cy)), int(round(14 - cx))
    top = min(max(top, 0), 28 - small.shape[0])
    left = min(max(left, 0), 28 - small.shape[1])
    out = np.zeros((28, 28), np.float32)
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return np.round(out * 255.0).astype(np.uint8)


def frame(image: Image.Image | np.ndarray, framing: str = DIGITS, *, name: str = "image"
          ) -> np.ndarray:
    """A picture in a model's 28x28 frame: ``digits`` (:func:`to_mnist`) or ``whole``
    (:func:`to_whole`).

    Raises:
        ConfigError: If the framing is not one of ``config.FRAMINGS``.
        ImageError: As the framing's function.
    """
    if framing == DIGITS:
        return to_mnist(image, name=name)
    if framing == "whole":
        return to_whole(image, name=name)
    raise ConfigError(f"framing must be one of {', '.join(FRAMINGS)}, not {framing!r}")


def to_whole(image: Image.Image | np.ndarray, *, name: str = "image") -> np.ndarray:
    """The whole picture in grey, shrunk (or enlarged) to fit 28x28 keeping its proportions,
    centred, the rest filled with the median grey of its edge. Nothing is inverted or cropped,
    and a picture of one colour is kept (it may well be the anomaly); a 28x28 grey picture
    comes back as it was.

    Args:
        image: A Pillow image of any mode, or an array (H, W), (H, W, 3) or (H, W, 4).
        name: What to call the image in error messages.

    Returns:
        uint8 (28, 28).

    Raises:
        ImageError: If the picture has no pixels.
    """
    gray = _to_gray(image, name)
    if gray.size == 0:
        raise ImageError(f"{name}: the image has no pixels")
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    fill = float(np.median(border))
    if (h, w) != (28, 28):
        scale = 28.0 / max(h, w)
        size = (min(28, max(1, round(w * scale))), min(28, max(1, round(h * scale))))
        small = Image.fromarray(gray.astype(np.float32), "F")
        if max(h, w) > 4 * 28:  # box-average first: Lanczos over a large picture aliases less
            small = small.resize((size[0] * 4, size[1] * 4), Image.BOX)
        gray = np.clip(np.asarray(small.resize(size, Image.LANCZOS)), 0.0, 1.0)
    out = np.full((28, 28), fill, np.float32)
    top, left = (28 - gray.shape[0]) // 2, (28 - gray.shape[1]) // 2
    out[top:top + gray.shape[0], left:left + gray.shape[1]] = gray
    return np.round(out * 255.0).astype(np.uint8)


def to_model_input(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) MNIST images -> float32 (N, 28, 28, 1) in [-1, 1], the GAN's range."""
    return (np.asarray(x, np.float32)[..., None] / 127.5) - 1.0


def from_model_output(x: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] (N, 28, 28[, 1]) -> uint8 (N, 28, 28)."""
    x = np.asarray(x, np.float32).reshape(-1, 28, 28)
    return np.round(np.clip((x + 1.0) * 127.5, 0, 255)).astype(np.uint8)
