"""Judge images with a folder made by ``ganmc export``, without TensorFlow.

This file is both the module ``ganmc.deploy.predict`` and the export folder's own ``predict.py``
(``ganmc export`` copies it there unchanged), so it imports nothing from ganmc and needs only
numpy, Pillow and the runtime of the exported graph: onnxruntime for ``model.onnx``, ai-edge-litert
(or tflite-runtime) for ``model.tflite``. A ``savedmodel`` export needs TensorFlow. The parts of
ganmc it needs are copies, each marked "copy of", which ``tests/unit/test_predict.py`` checks are
the same as ganmc's own: reading a picture and putting it in the model's frame
(:mod:`ganmc.images.preprocess`), ranking the views of the combined score and the words of the view
that decides it (:mod:`ganmc.scores.combined`), the verdict rule, Benjamini-Hochberg
(:mod:`ganmc.thresholds.guarantees`) and the escaping of names in output lines
(:mod:`ganmc.core.errors`).

The verdicts are ganmc's. The graph gives the score (for ``combined``, its views, ranked here
among the held-out normal images) and the digit (or class) each image is taken for. An image
is an anomaly when its score is strictly above the threshold of that digit (with a
``per-digit`` threshold; the pooled one for a digit with too few held-out images, and for a
``holdout`` threshold). Its p-value is (1 + #{held-out scores >= s}) / (n + 1) among the
held-out scores it is judged against: its digit's, or all of them. For a model of digits an
image that holds none (blank, a dot) is refused, not judged. What it does not do: watch a
stream for drift (ganmc's drift alarm); ``--fdr`` judges one batch at a false discovery rate.

From the export folder::

    python predict.py IMAGE_OR_FOLDER...              # one CSV row per image on stdout
    python -m ganmc.deploy.predict --export DIR IMAGE...     # the same, from the package

In Python: ``Export(DIR).judge(images)`` for uint8 (N, 28, 28) images already in the
model's frame, ``Export(DIR).read(path)`` to read and frame a picture.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import os
import stat
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: What an export's ``export.json`` says it is, and the version of its layout.
FORMAT = "ganmc-export"
FORMAT_VERSION = 1
#: The files of an export folder besides its graph.
MANIFEST = "export.json"
REFERENCES = "references.npz"
CARD = "model-card.json"
README = "README.md"
PREDICT = "predict.py"
#: Where each format's graph is in the folder, and what runs it.
GRAPH_FILES = {"onnx": "model.onnx", "tflite": "model.tflite", "savedmodel": "savedmodel"}
#: Images per call of the graph, so that memory stays bounded whatever the batch.
GRAPH_BATCH = 256
#: Most image files one command reads.
MAX_IMAGE_FILES = 10_000
#: Largest ``export.json`` read, and most bytes ``references.npz`` may unpack to.
MAX_MANIFEST_BYTES = 1_000_000
MAX_REFERENCE_BYTES = 256 * 2**20


class GanmcError(Exception):
    """An error caused by input (an image, an export folder), with a one-line message."""


class ImageError(GanmcError):
    """An image could not be read or holds nothing to judge."""


class ExportError(GanmcError):
    """An export folder is missing, incomplete, or not one this runtime reads."""


class ConfigError(GanmcError):
    """A setting is out of its allowed range (``--fdr``)."""


# ---------------------------------------------------------------------------- copies
# Copies of ganmc's own code (tests/unit/test_predict.py checks each is the same).

# copy of ganmc.images.preprocess's limits and words
MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 50_000_000
_WORK_SIDE = 512
MIN_CONTRAST = 0.15
MIN_INK = 5.0
BLANK = ("no digit found (the image is blank, of one colour, or holds less ink than "
         f"{MIN_INK:g} pixels)")
_INK_LEVEL = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_REDUCIBLE = {"1": "L", "P": "RGBA", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB"}
# copy of ganmc.core.config.FRAMING_ABOUT: each framing in words
FRAMING_WORDS = {
    "digits": "like digits: the ink (dark on light is turned round) fitted in 20 x 20 pixels "
              "and centred by its centre of mass in 28 x 28, as MNIST's digits were made; for "
              "drawings, handwriting and single shapes on a plain background",
    "whole": "whole image: the whole picture in grey, shrunk to fit 28 x 28 keeping its "
             "proportions, the rest filled with the colour of its edge; for photographs, "
             "products and textures, where every part of the picture counts",
}
# copy of ganmc.scores.combined.PIXELS, GUARDS (the guards of an export card that names none),
# COUNTED and VIEW_WORDS (why an image a view decides is flagged)
PIXELS = 28 * 28
GUARDS = ("discriminator", "grey")
COUNTED = ("grey", "tones")
VIEW_WORDS = {
    "mahalanobis": "the discriminator's view of it lies far from the training digits'",
    "mahalanobis-strokes": "the discriminator's view of it lies far from the training "
                           "digits' (or it draws too little)",
    "shape": "it looks more like a letter, a symbol or a scribble than a digit (the shape "
             "network)",
    "shape-distance": "its shape is unlike the digit it is taken for (the shape network)",
    "discriminator": "the discriminator finds it unlike any digit it has seen",
    "grey": "more of it is grey than in any normal digit",
    "tones": "it has a photograph's tones: grey away from any pen stroke, more than any "
             "normal digit has",
}


# copy of ganmc.core.errors.shown, _cut and one_line
def shown(text: object, limit: int | None = None) -> str:
    """``text`` made safe to print as (part of) one line: control characters (new lines,
    tabs, terminal escapes) written as escapes (``\\n``, ``\\x1b``), the bytes of a file
    name that are not UTF-8 as ``\\xNN``; at most ``limit`` characters, cut in the middle
    (so that a long path keeps its end and a message its reason)."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif ch != " " and not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return _cut("".join(out), limit)


def _cut(line: str, limit: int | None) -> str:
    if limit is None or len(line) <= limit:
        return line
    tail = max(limit // 3, 1)
    return line[: max(limit - tail - 1, 0)].rstrip() + "…" + line[-tail:].lstrip()


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one line of at most ``limit`` characters: whitespace runs collapsed, other
    control characters and undecodable bytes escaped (:func:`shown`), a longer line cut in
    the middle, keeping its start and its end (where a message says why)."""
    return shown(" ".join(str(text).split()), limit)


# copy of ganmc.core.files.regular_size
def regular_size(path: Path | str, error: type[GanmcError]) -> int:
    """The size of ``path`` if it is an ordinary file (links followed), checked without
    opening it: a pipe would block a read and a device (``/dev/zero``) never end one.

    Raises:
        GanmcError: ``error``, with one line, if it is missing, a folder, or not a regular
            file.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"{path}: cannot open ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: not a regular file (a pipe, device or socket); refused unread")
    return st.st_size


# copy of ganmc.images.preprocess: reading a picture, framing it (like digits, or whole), the
# model input
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


# copy of ganmc.scores.combined: the pixel shares and the ranks of the combined score
def shares(views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The views with their pixel counts (:data:`COUNTED`) turned into shares of the image,
    float64."""
    return {k: np.asarray(v, np.float64) / (PIXELS if k in COUNTED else 1.0)
            for k, v in views.items()}


def rank(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """F(s) of each value among the sorted ``reference`` values (see the module's text)."""
    ref = np.asarray(reference, np.float64)
    s = np.asarray(values, np.float64)
    inside = (1.0 + np.searchsorted(ref, s, side="right")) / (len(ref) + 1.0)
    spread = float(ref[-1] - ref[0]) or 1.0
    return np.where(s > ref[-1], 1.0 + (s - ref[-1]) / spread, inside)


def _guard(f: np.ndarray, n: int) -> np.ndarray:
    """A guard's rank as it enters the score: nothing below the largest held-out value, F
    from it on (see the module's text)."""
    return np.where(f > 1.0, f, 1.0 - (n + 1.0) * (1.0 - f))


# copy of the verdict rule (ganmc.thresholds.calibration.above), of the conformal p-value of an
# exact distribution (ganmc.thresholds.distribution.ScoreDistribution.p_values) and of the batch's
# false discovery rate (ganmc.thresholds.guarantees.benjamini_hochberg, _check_rate)
def above(scores: np.ndarray | float, thresholds: np.ndarray | float) -> np.ndarray:
    """THE verdict rule: a score strictly above its threshold is an anomaly."""
    return np.asarray(scores, np.float64) > np.asarray(thresholds, np.float64)


def p_values(sorted_scores: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(1 + #{held-out scores >= s}) / (n + 1) for each s, against sorted held-out scores."""
    n = len(sorted_scores)
    count = n - np.searchsorted(sorted_scores, np.asarray(s, np.float64), side="left")
    return (1.0 + count) / (n + 1.0)


def _check_rate(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 < value < 1.0):
        raise ConfigError(f"{name} must be between 0 and 1 (not included), not {value!r}")
    return float(value)


def benjamini_hochberg(p_values: np.ndarray, q: float) -> np.ndarray:
    """True for each p-value Benjamini-Hochberg rejects at false discovery rate q: the k
    smallest, k the largest rank with p_(k) <= q k / m."""
    _check_rate("the false discovery rate", q)
    p = np.asarray(p_values, np.float64).ravel()
    m = len(p)
    out = np.zeros(m, bool)
    if not m:
        return out
    order = np.argsort(p, kind="stable")
    ok = np.flatnonzero(p[order] <= q * np.arange(1, m + 1) / m)
    if len(ok):
        out[order[:ok[-1] + 1]] = True
    return out


def combined_ranks(mains: tuple[str, ...], guards: tuple[str, ...],
                   references: dict[str, np.ndarray], views: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
    """Each view's contribution to the combined score, by name (as
    :meth:`ganmc.scores.combined.Combination.ranks`): a main view's rank among the held-out values,
    a guard's only beyond every held-out image."""
    out = {m: rank(references[m], views[m]) for m in mains}
    out.update({g: _guard(rank(references[g], views[g]), len(references[g])) for g in guards})
    return out


def combined_score(mains: tuple[str, ...], guards: tuple[str, ...],
                   references: dict[str, np.ndarray], views: dict[str, np.ndarray]
                   ) -> np.ndarray:
    """The combined score of images from their views (as
    :meth:`ganmc.scores.combined.Combination.score`): the largest contribution
    (:func:`combined_ranks`)."""
    return np.max(list(combined_ranks(mains, guards, references, views).values()), axis=0)


def deciding(ranks: dict[str, np.ndarray]) -> list[str]:
    """The view that gives each image its score, its largest contribution (as
    :meth:`ganmc.scores.combined.Combination.deciding`); :data:`VIEW_WORDS` says why in words."""
    names = list(ranks)
    return [names[i] for i in np.argmax(np.stack([ranks[n] for n in names]), axis=0)]


#: How a picture is put in the model's 28x28 frame, by the name on the export's card.
FRAMINGS: dict[str, Callable[..., np.ndarray]] = {"digits": to_mnist, "whole": to_whole}


# ---------------------------------------------------------------------------- graphs
class _Onnx:
    """The graph in onnxruntime."""

    def __init__(self, file: Path, spec: dict):
        try:
            import onnxruntime
        except ImportError:
            raise ExportError("this export's graph (model.onnx) needs onnxruntime: "
                              "pip install onnxruntime") from None
        try:
            self.session = onnxruntime.InferenceSession(
                str(file), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds for a bad file
            raise ExportError(f"{file}: cannot load the graph ({one_line(exc, 200)})") from None
        self.input = self.session.get_inputs()[0].name
        self.notes: list[str] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]


def _tflite_interpreter() -> tuple[type, list[str]]:
    """The TFLite interpreter class to use: ai-edge-litert's, tflite-runtime's, else
    TensorFlow's (and a note that says so)."""
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            return importlib.import_module(module).Interpreter, []
        except ImportError:
            continue
    try:
        import tensorflow as tf
    except ImportError:
        raise ExportError("this export's graph (model.tflite) needs ai-edge-litert "
                          "(pip install ai-edge-litert), tflite-runtime or TensorFlow") from None
    return tf.lite.Interpreter, ["ai-edge-litert is not installed: TensorFlow's TFLite "
                                 "interpreter runs the graph"]


class _TFLite:
    """The graph in a TFLite interpreter, resized to each batch."""

    def __init__(self, file: Path, spec: dict):
        interpreter, self.notes = _tflite_interpreter()
        try:
            self.interpreter = interpreter(model_path=str(file))
        except Exception as exc:  # the interpreters raise ValueError, RuntimeError, ...
            raise ExportError(f"{file}: cannot load the graph ({one_line(exc, 200)})") from None
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self._shape:
            self.interpreter.resize_tensor_input(self.input, list(x.shape))
            self.interpreter.allocate_tensors()
            self._shape = x.shape
        self.interpreter.set_tensor(self.input, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output).copy()


class _SavedModel:
    """The graph as a TensorFlow SavedModel (this one format needs TensorFlow)."""

    def __init__(self, folder: Path, spec: dict):
        try:
            import tensorflow as tf
        except ImportError:
            raise ExportError("a savedmodel export needs TensorFlow (pip install tensorflow); "
                              "export to onnx to judge without it") from None
        self.tf, self.notes = tf, []
        try:
            self.fn = tf.saved_model.load(str(folder)).signatures["serving_default"]
        except Exception as exc:  # TensorFlow raises many kinds for a bad folder
            raise ExportError(f"{folder}: cannot load the graph ({one_line(exc, 200)})") from None
        self.input, self.output = spec["input"], spec["output"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(**{self.input: self.tf.constant(x)})[self.output].numpy()


_RUNNERS = {"onnx": _Onnx, "tflite": _TFLite, "savedmodel": _SavedModel}


# ---------------------------------------------------------------------------- the export
@dataclass(frozen=True)
class Verdicts:
    """What the export says of each image, one entry per image.

    Attributes:
        score: Anomaly score (higher = more anomalous), float64.
        p_value: Conformal p-value among the held-out scores it is judged against.
        threshold: The threshold its verdict used (its digit's or class's under per-digit
            thresholds).
        digit: The digit (or the index of the named class) it is taken for, -1 for a model
            without per-digit Gaussians.
        anomaly: Its verdict: True for an anomaly (score strictly above the threshold).
        reason: For the ``combined`` score, why each image would be flagged in plain words
            (the view that decides its score, :data:`VIEW_WORDS`); None for other scores.
        classes: The names of a model of named classes, index by index; None for digits.
    """

    score: np.ndarray
    p_value: np.ndarray
    threshold: np.ndarray
    digit: np.ndarray
    anomaly: np.ndarray
    reason: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.score)

    def name(self, i: int) -> str:
        """What image ``i`` is taken for: its class's name, or its digit ("" for none)."""
        d = int(self.digit[i])
        if d < 0:
            return ""
        return self.classes[d] if self.classes is not None and d < len(self.classes) \
            else str(d)

    def rows(self, sources: list[str], indices: list[int],
             fdr: np.ndarray | None = None) -> list[dict]:
        """One row per image, as ``ganmc score`` writes them:
        ``source,index,score,p_value,threshold,digit,verdict,reason`` (for a model of named
        classes ``class``, the class's name, in place of ``digit``); the reason only for an
        anomaly. With ``fdr`` (Benjamini-Hochberg's flags, :func:`benjamini_hochberg`) an
        ``fdr_verdict`` column too."""
        column = "digit" if self.classes is None else "class"
        rows = []
        for i, (src, idx) in enumerate(zip(sources, indices)):
            d, a = int(self.digit[i]), bool(self.anomaly[i])
            why = self.reason[i] if self.reason is not None and a else ""
            row = {"source": src, "index": idx, "score": round(float(self.score[i]), 6),
                   "p_value": round(float(self.p_value[i]), 6),
                   "threshold": round(float(self.threshold[i]), 6),
                   column: "" if d < 0 else (self.name(i) if self.classes is not None else d),
                   "verdict": "anomaly" if a else "normal", "reason": why}
            if fdr is not None:
                row["fdr_verdict"] = "anomaly" if fdr[i] else "normal"
            rows.append(row)
        return rows


class Export:
    """An export folder, loaded: its graph, held-out scores, thresholds and framing.

    Attributes:
        folder: The export folder.
        manifest: Its ``export.json``.
        score_name: The score its verdicts use (e.g. ``combined``).
        framing: How a picture is put in the model's frame (a key of :data:`FRAMINGS`).
        classes: The names of a model of named classes (its card's), index by index; None
            for a model of digits.
        notes: What was chosen in place of something missing, in plain words.
    """

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        m = self.manifest = _read_manifest(self.folder)
        where = self.folder / MANIFEST
        try:
            graph, threshold = m["graph"], m["threshold"]
            self.format = graph["format"]
            self.columns = [str(c) for c in graph["columns"]]
            self.score_name = str(m["score"])
            combined = m.get("combined")
            self.main = None if combined is None else str(combined["main"])
            # an export card from before the shape network names its one main view
            self.mains = () if combined is None else tuple(
                str(v) for v in combined.get("mains", [combined["main"]]))
            self.guards = () if combined is None else tuple(
                str(v) for v in combined.get("guards", GUARDS))
            self.framing = str(m.get("framing", "digits"))
            self.source = str(threshold["source"])
            self.pooled = _threshold_value(threshold["pooled"])
            self.by_digit = {int(d): _threshold_value(v)
                             for d, v in (threshold.get("by_digit") or {}).items()}
            self.classes = _classes(m.get("classes"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExportError(f"{where}: not a ganmc export card this runtime reads "
                              f"({type(exc).__name__}: {one_line(exc, 100)})") from None
        if self.format not in _RUNNERS:
            raise ExportError(f"{where}: unknown graph format {self.format!r} (this runtime "
                              f"reads {', '.join(_RUNNERS)})")
        if self.framing not in FRAMINGS:
            raise ExportError(f"{where}: unknown framing {self.framing!r} (this runtime "
                              f"knows {', '.join(FRAMINGS)})")
        needed = {self.score_name} if self.main is None else {*self.mains, *self.guards}
        if not needed <= set(self.columns) or (self.by_digit and "digit" not in self.columns):
            raise ExportError(f"{where}: the graph's columns {self.columns} lack what the "
                              f"{self.score_name} score needs")
        arrays = _read_references(self.folder / REFERENCES)
        self.holdout = arrays["holdout_scores"]
        digits = arrays.get("holdout_digits")
        self.groups = {d: self.holdout[digits == d] for d in self.by_digit} \
            if digits is not None else {}
        if self.by_digit and (digits is None or any(len(g) == 0 for g in self.groups.values())):
            raise ExportError(f"{self.folder / REFERENCES}: per-digit thresholds without the "
                              f"held-out scores of those digits")
        self.references = {}
        if self.main is not None:
            try:
                self.references = {v: arrays[f"reference_{v}"]
                                   for v in (*self.mains, *self.guards)}
            except KeyError as exc:
                raise ExportError(f"{self.folder / REFERENCES}: no held-out values of the "
                                  f"{exc.args[0]} view") from None
        file = self.folder / GRAPH_FILES[self.format]
        if not file.exists():
            raise ExportError(f"{file}: missing (the export's graph)")
        self._graph = _RUNNERS[self.format](file, graph)
        self.notes = list(self._graph.notes)

    # -- reading pictures
    def frame(self, picture: Image.Image | np.ndarray, *, name: str = "image") -> np.ndarray:
        """A picture put in the model's 28x28 frame by the export's framing, uint8."""
        return FRAMINGS[self.framing](picture, name=name)

    def read(self, source: str | Path | bytes, *, name: str | None = None) -> np.ndarray:
        """An image file read (as ganmc reads one) and framed, uint8 (28, 28).

        Raises:
            ImageError: If the file is unreadable, too large, or (like digits) holds no ink.
        """
        label = name or (str(source) if not isinstance(source, bytes) else "image")
        return self.frame(open_picture(source, name=label).image, name=label)

    # -- judging
    def views(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's columns for uint8 (N, 28, 28) images, float64 (pixel counts as shares
        of the image, ``digit`` as int64), in batches of :data:`GRAPH_BATCH`."""
        x = _images(x)
        model_input = to_model_input(x)
        parts = [np.asarray(self._graph(model_input[i:i + GRAPH_BATCH]), np.float32)
                 for i in range(0, len(x), GRAPH_BATCH)]
        out = (np.concatenate(parts) if parts
               else np.zeros((0, len(self.columns)), np.float32))
        if out.shape != (len(x), len(self.columns)):
            raise ExportError(f"the graph gave {out.shape} values for {len(x)} images and "
                              f"{len(self.columns)} columns")
        values = {name: out[:, j].astype(np.float64) for j, name in enumerate(self.columns)}
        if not all(np.isfinite(v).all() for v in values.values()):
            raise ExportError("the graph returned NaN/inf values; the export is broken")
        values = shares(values)
        if "digit" in values:
            values["digit"] = np.rint(values["digit"]).astype(np.int64)
        return values

    def scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The score of each image and the digit it is taken for (-1 without per-digit
        Gaussians)."""
        score, digits, _ = self._scores(x)
        return score, digits

    def _scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]:
        """:meth:`scores` and, for ``combined``, why each image would be flagged."""
        values = self.views(x)
        reasons = None
        if self.main is None:
            score = values[self.score_name]
        else:
            ranks = combined_ranks(self.mains, self.guards, self.references, values)
            score = np.max(list(ranks.values()), axis=0)
            reasons = tuple(VIEW_WORDS.get(v, v) for v in deciding(ranks))
        digits = values.get("digit", np.full(len(score), -1, np.int64))
        return score, digits, reasons

    def judge(self, x: np.ndarray) -> Verdicts:
        """Verdicts for uint8 (N, 28, 28) images in the model's frame.

        Raises:
            ImageError: For a model of digits (the ``digits`` framing), if an image holds no
                digit (:func:`no_digit`: blank, a dot, one faint pixel): none is judged, as
                ganmc judges none.
        """
        x = _images(x)
        if self.framing == "digits":
            empty = np.flatnonzero(no_digit(x))
            if len(empty):
                which = ", ".join(map(str, empty[:5])) + (", …" if len(empty) > 5 else "")
                raise ImageError(f"{len(empty):,} of {len(x):,} images hold no digit and are "
                                 f"not judged (image {which}): {BLANK}; leave them out "
                                 f"(predict.no_digit finds them)")
        score, digits, reasons = self._scores(x)
        v = decide(score, digits, self.pooled, self.by_digit, self.holdout, self.groups)
        return replace(v, reason=reasons, classes=self.classes)

    def fdr(self, verdicts: Verdicts, q: float) -> np.ndarray:
        """Benjamini-Hochberg at false discovery rate ``q`` over the images' p-values against
        all the held-out normal images (as ``ganmc score --fdr``): True for each image
        flagged.

        Raises:
            ConfigError: If ``q`` is not between 0 and 1.
        """
        return benjamini_hochberg(p_values(self.holdout, verdicts.score), q)


def decide(score: np.ndarray, digits: np.ndarray, pooled: float, by_digit: dict[int, float],
           holdout: np.ndarray, groups: dict[int, np.ndarray]) -> Verdicts:
    """Verdicts from scores and the digits they are taken for, as ganmc's threshold gives
    them (:class:`ganmc.thresholds.calibration.PerDigitThreshold` where ``by_digit`` has
    digits, else :class:`ganmc.thresholds.calibration.ConformalThreshold`): an image taken
    for a digit of ``by_digit`` is judged by that digit's threshold and its p-value counts
    that digit's held-out scores (``groups``); any other image, by ``pooled`` and all of
    ``holdout``."""
    score = np.asarray(score, np.float64)
    digits = np.asarray(digits, np.int64)
    threshold = np.array([by_digit.get(int(d), pooled) for d in digits], np.float64)
    p = np.empty(len(score))
    for d in np.unique(digits):
        mine = digits == d
        p[mine] = p_values(groups[int(d)] if int(d) in by_digit else holdout, score[mine])
    return Verdicts(score, p, threshold, digits, above(score, threshold))


def _classes(v) -> tuple[str, ...] | None:
    """The class names from the card: a list of strings, or null for a model of digits."""
    if v is None:
        return None
    if not isinstance(v, list) or not v or not all(isinstance(c, str) for c in v):
        raise ValueError(f"classes are a list of names, not {one_line(v, 60)}")
    return tuple(v)


def _threshold_value(v) -> float:
    """A threshold from the card: a number, or null for none (too few held-out images for
    the level: nothing is flagged)."""
    if v is None:
        return float("inf")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"a threshold is a number, not {v!r}")
    return float(v)


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) images, checked."""
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
        raise ImageError(f"expected uint8 images (N, 28, 28), got {x.dtype} {x.shape}")
    return x


def _read_manifest(folder: Path) -> dict:
    file = folder / MANIFEST
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such export folder")
    try:
        size = regular_size(file, ExportError)
        if size > MAX_MANIFEST_BYTES:
            raise ExportError(f"{file}: {size:,} bytes is more than an export card may hold")
        manifest = json.loads(file.read_bytes().decode("utf-8"))
    except ExportError as exc:
        if not file.exists():
            raise ExportError(f"{folder}: not a ganmc export folder (no {MANIFEST})") from None
        raise exc from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ExportError(f"{file}: unreadable ({one_line(exc, 200)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportError(f"{file}: not a ganmc export card")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ExportError(f"{file}: export format version {version!r}; this runtime reads up "
                          f"to {FORMAT_VERSION} (use the predict.py in that folder)")
    return manifest


def _read_references(file: Path) -> dict[str, np.ndarray]:
    """The held-out scores and references: 1-D, finite, sorted float64 (``holdout_digits``:
    int64 in the scores' order), their size checked before anything is unpacked."""
    regular_size(file, ExportError)
    try:
        with zipfile.ZipFile(file) as z:
            unpacked = sum(i.file_size for i in z.infolist())
        if unpacked > MAX_REFERENCE_BYTES:
            raise ExportError(f"{file}: {unpacked:,} bytes unpacked is more than the "
                              f"{MAX_REFERENCE_BYTES:,} allowed")
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except ExportError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ExportError(f"{file}: unreadable ({one_line(exc, 200)})") from None
    out = {}
    for name, a in arrays.items():
        if a.ndim != 1 or a.dtype.kind not in "iuf" or len(a) == 0:
            raise ExportError(f"{file}: {name} is not a list of numbers")
        if name == "holdout_digits":
            out[name] = a.astype(np.int64)
            continue
        a = a.astype(np.float64)
        if not np.isfinite(a).all() or (np.diff(a) < 0).any():
            raise ExportError(f"{file}: {name} is not a sorted list of finite numbers")
        out[name] = a
    if "holdout_scores" not in out:
        raise ExportError(f"{file}: no held-out scores")
    if len(out.get("holdout_digits", out["holdout_scores"])) != len(out["holdout_scores"]):
        raise ExportError(f"{file}: holdout_digits and holdout_scores differ in length")
    return out


# ---------------------------------------------------------------------------- command line
def read_images(export: Export, paths: list[str]) -> tuple[list[np.ndarray], list[str],
                                                           list[str]]:
    """The images of files and folders (a folder's image files, sorted), read and framed;
    one line for each file refused, the others kept."""
    images, sources, refused, n_files = [], [], [], 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                refused.append(shown(f"{path}: the folder holds no image files "
                                     f"({', '.join(IMAGE_SUFFIXES)})"))
        elif path.exists() or path.is_symlink():
            files = [path]
        else:
            refused.append(shown(f"{path}: no such file or folder"))
            continue
        for f in files:
            n_files += 1
            if n_files > MAX_IMAGE_FILES:
                raise GanmcError(f"more than {MAX_IMAGE_FILES:,} image files; judge them in "
                                 f"several runs")
            try:
                images.append(export.read(f))
                sources.append(shown(f))
            except GanmcError as exc:
                refused.append(shown(exc))
    return images, sources, refused


def _own_folder() -> Path:
    """The folder this file is in, when it is an export's own ``predict.py``."""
    here = Path(__file__).resolve().parent
    if not (here / MANIFEST).is_file():
        raise ExportError("name the export folder with --export DIR (this file is not in one)")
    return here


def _rate(text: str) -> float:
    """``--fdr``'s value: a number between 0 and 1."""
    try:
        return _check_rate("--fdr", float(text))
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(f"a false discovery rate between 0 and 1 (not "
                                         f"included), e.g. 0.05; not {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """``python predict.py IMAGES...``: one CSV row per image on stdout,
    ``source,index,score,p_value,threshold,digit,verdict,reason`` (``class`` in place of
    ``digit`` for a model of named classes; ``fdr_verdict`` too with ``--fdr``) as
    ``ganmc score`` writes them."""
    parser = argparse.ArgumentParser(
        prog="predict.py",
        description="Judge images with a ganmc export, without TensorFlow: one CSV row per "
                    "image on stdout (source,index,score,p_value,threshold,digit,verdict,"
                    "reason; class in place of digit for a model of named classes), as "
                    "ganmc score writes them. A file that cannot be read is listed on stderr "
                    "and the others are judged; the status is then 2. There is no drift "
                    "alarm here (ganmc score has one).")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files (PNG, JPEG, BMP, GIF, TIFF, WebP) or folders of them")
    parser.add_argument("--export", metavar="DIR",
                        help="the export folder (default: the folder this predict.py is in)")
    parser.add_argument("--fdr", type=_rate, metavar="Q",
                        help="also judge the images as one batch at this false discovery rate "
                             "(Benjamini-Hochberg over their p-values against every held-out "
                             "normal image): of the images it flags, at most this share are "
                             "expected to be normal; adds an fdr_verdict column, e.g. "
                             "--fdr 0.05")
    args = parser.parse_args(argv)
    try:
        export = Export(args.export if args.export else _own_folder())
        for note in export.notes:
            print(f"predict.py: note: {note}", file=sys.stderr)
        images, sources, refused = read_images(export, args.images)
        for reason in refused:
            print(f"predict.py: skipped: {reason}", file=sys.stderr)
        if not images:
            raise GanmcError(f"no readable image in the {len(args.images)} input(s) given")
        verdicts = export.judge(np.stack(images))
        flagged = None if args.fdr is None else export.fdr(verdicts, args.fdr)
    except GanmcError as exc:
        print(f"predict.py: error: {one_line(exc, 2000)}", file=sys.stderr)
        return 2
    rows = verdicts.rows(sources, [0] * len(sources), flagged)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    sys.stdout.write(buf.getvalue())
    sys.stdout.flush()
    if flagged is not None:
        k, q = int(flagged.sum()), f"{100 * args.fdr:.3g} %"
        print(f"predict.py: {k} of {len(rows)} images flagged at a false discovery rate of "
              f"{q} (Benjamini-Hochberg over their p-values against the "
              f"{len(export.holdout):,} held-out normal images): of those, at most {q} are "
              f"expected to be normal; judged one by one, {int(verdicts.anomaly.sum())} are "
              f"flagged.", file=sys.stderr)
    return 2 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
