"""Synthetic anomalies that need nothing from the user: uniform noise, inverted images,
pen scribbles, printed capital letters, and Fashion-MNIST where Debian's
``dataset-fashion-mnist`` is installed.

The quality card (:mod:`ganmc.thresholds.quality`) and the benchmarks score these against real
normal images; every set is seeded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Where Debian's ``dataset-fashion-mnist`` puts the test images; ``GANMC_FASHION`` overrides.
FASHION = Path(os.environ.get("GANMC_FASHION",
                              "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"))


def uniform_noise(n: int, seed: int = 0) -> np.ndarray:
    """``n`` images of independent uniform pixel noise."""
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28)).astype(np.uint8)


def inverted(x: np.ndarray) -> np.ndarray:
    """The images with black and white swapped (dark ink on white)."""
    return 255 - np.asarray(x, np.uint8)


def strokes(n: int, seed: int = 0, counts: tuple[int, int] = (1, 3)
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images of random pen strokes, drawn large and put into MNIST format.

    Each image has between ``counts[0]`` and ``counts[1]`` strokes; each stroke is a polyline
    of 2-5 random points. Returns the images, how many strokes each has, and whether it is one
    straight stroke (a single polyline of two points: in MNIST format, a fair "1").
    """
    from PIL import Image, ImageDraw

    from ganmc.images.preprocess import to_mnist

    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    stroke_counts = np.zeros(n, np.int64)
    straight = np.zeros(n, bool)
    for i in range(n):
        img = Image.new("L", (280, 280), 0)
        draw = ImageDraw.Draw(img)
        stroke_counts[i] = rng.integers(counts[0], counts[1] + 1)
        for _ in range(stroke_counts[i]):
            pts = [tuple(p) for p in rng.integers(20, 260, (rng.integers(2, 6), 2))]
            straight[i] = stroke_counts[i] == 1 and len(pts) == 2
            draw.line(pts, fill=255, width=int(rng.integers(14, 26)), joint="curve")
        out[i] = to_mnist(img)
    return out, stroke_counts, straight


def scribbles(n: int, seed: int = 0) -> np.ndarray:
    """``n`` scribbles of two or three strokes (one stroke is often a fair "1" or "7", so it
    is no anomaly; see docs/benchmarks.md)."""
    return strokes(n, seed, counts=(2, 3))[0]


#: The capitals of :func:`printed_letters`: all but those written like digits (O, I, L, S, Z).
PRINTED_CAPITALS = "ABCDEFGHJKMNPQRTUVWXY"


def printed_letters(n: int, seed: int = 0) -> np.ndarray | None:
    """``n`` printed capital letters (:data:`PRINTED_CAPITALS`) in the font Pillow ships
    (none of the shape network's training fonts), each at a random size, weight and small
    turn, framed as an upload is; None where Pillow has no TrueType support."""
    from PIL import Image, ImageDraw, ImageFont

    from ganmc.images.preprocess import to_mnist

    try:
        fonts = [ImageFont.load_default(size) for size in (20, 26, 32, 38)]
    except (ImportError, OSError):
        return None
    if not isinstance(fonts[0], ImageFont.FreeTypeFont):
        return None
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        img = Image.new("L", (56, 56), 0)
        ImageDraw.Draw(img).text((28, 28), PRINTED_CAPITALS[i % len(PRINTED_CAPITALS)],
                                 fill=255, font=fonts[int(rng.integers(len(fonts)))],
                                 anchor="mm", stroke_width=int(rng.integers(0, 2)),
                                 stroke_fill=255)
        out[i] = to_mnist(img.rotate(float(rng.uniform(-10, 10)), resample=Image.BILINEAR))
    return out


def fashion_mnist(n: int) -> np.ndarray | None:
    """The first ``n`` Fashion-MNIST test images, or None where the data is not installed."""
    from ganmc.images.arrays import read_idx

    if not FASHION.is_file():
        return None
    return read_idx(FASHION)[:n]
