"""What the shape network is shown as "not a normal image" (outlier exposure).

A model that has seen only digits learns their writing style as much as their shape: it
flags a digit written in another hand and passes a letter written in the digits' style. The
shape network (:func:`ganmc.nets.networks.build_shape`) learns the digits against pictures that
are not digits, made without any handwriting:

- **glyphs**: letters (both cases), Greek and Cyrillic letters and symbols rendered once from
  about 400 fonts (``assets/outliers/glyphs.npz``, made by ``python -m
  research.render_glyphs``; the fonts and their licences are in ``assets/outliers/README.md``).
  Characters written like a digit (O, I, l, S, Z, b, g, q and their kin) are left out: to a
  reader of digits they are not anomalies. The DejaVu and Liberation fonts are left out too:
  the benchmarks measure printed letters in them.
- **pen-drawn glyphs**: the same glyphs thinned to their centre lines and drawn again with a
  round pen of a random width (:func:`pen_drawn`). A printed letter differs from a
  handwritten digit in its strokes (serifs, thick and thin parts) as well as in its shape;
  drawn with a pen like the digits' strokes, only the shape is left to tell them apart.
- **pen curves**: smooth random strokes, long wandering lines, zigzags and spirals drawn
  with a round pen (:func:`curves`), made here from a seed.

No real digit is ever among them, so a model of one digit never learns the other digits as
anomalies (they stay the one-class protocol's test). Training varies both, and the normal
digits, in style (:mod:`ganmc.images.augment`).
"""

from __future__ import annotations

import numpy as np

from ganmc.core.errors import DataError

#: Pen curves made for a training run: one for every eight images its shape network sees,
#: within these bounds (drawing one takes a few milliseconds).
N_CURVES = (256, 8000)
#: Most outliers a run holds: every shipped glyph twice (as printed and pen-drawn) and the
#: most curves (for the memory estimate, :func:`ganmc.core.limits.training_bytes`).
MAX_OUTLIERS = 2 * 32_000 + N_CURVES[1]
#: The pen of :func:`pen_drawn`: the spread (pixels, a Gaussian's sigma) of its edge, and how
#: many times the ink it needs to be full ink at its centre line.
PEN_EDGE = (0.6, 0.95)
PEN_INK = (2.0, 4.0)
#: Side of the square the curves are drawn on (then framed as an upload is).
_CANVAS = 112


def glyph_file():
    """The shipped glyphs' file (``assets/outliers/glyphs.npz``)."""
    from ganmc.images.data import ASSETS_DIR

    return ASSETS_DIR / "outliers" / "glyphs.npz"


def glyphs() -> np.ndarray:
    """The rendered glyphs, uint8 (N, 28, 28), white on black in MNIST format.

    Raises:
        DataError: If the file is missing or not what it should be.
    """
    from ganmc.images.arrays import read_npz

    path = glyph_file()
    if not path.is_file():
        raise DataError(f"{path} is missing: the shape network's outlier glyphs ship with "
                        f"ganmc (python -m research.render_glyphs makes them again)")
    x = read_npz(path, ("x",)).get("x")
    if x is None or x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DataError(f"{path}: no uint8 (N, 28, 28) array 'x' of glyphs")
    return x


def _thinning_tables() -> np.ndarray:
    """For each of the 256 ways a pixel's eight neighbours can be ink, whether the two
    sub-steps of Zhang and Suen's thinning (1984) remove the pixel: bool (2, 256).
    Neighbour ``i`` (bit ``i``) goes clockwise from the one above."""
    table = np.zeros((2, 256), bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # P2, P3, ..., P9
        ink = sum(p)
        turns = sum(p[i] == 0 and p[(i + 1) % 8] == 1 for i in range(8))
        p2, _, p4, _, p6, _, p8, _ = p
        if 2 <= ink <= 6 and turns == 1:
            table[0, code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            table[1, code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return table


_THINNING = _thinning_tables()
#: The neighbours in the tables' order: (row, column) offsets, clockwise from above.
_AROUND = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def thin(ink: np.ndarray) -> np.ndarray:
    """The centre lines of a batch of binary images (N, H, W) bool, one pixel wide (Zhang
    and Suen's thinning)."""
    out = ink.copy()
    h, w = out.shape[1:]
    busy = np.arange(len(out))  # the images still thinning
    while len(busy):
        b = out[busy]
        changed = np.zeros(len(b), bool)
        for table in _THINNING:
            p = np.pad(b, ((0, 0), (1, 1), (1, 1))).view(np.uint8)
            code = np.zeros(b.shape, np.uint8)
            for i, (dy, dx) in enumerate(_AROUND):
                code |= p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] << i
            gone = b & table[code]
            b &= ~gone
            changed |= gone.any(axis=(1, 2))
        out[busy] = b
        busy = busy[changed]
    return out


def _blur(x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Each image of ``x`` (N, H, W) blurred by a Gaussian of its own ``sigma`` (N,)."""
    r = 3
    t = np.arange(-r, r + 1)
    k = np.exp(-t[None, :] ** 2 / (2 * sigma[:, None] ** 2))
    k /= k.sum(1, keepdims=True)
    h, w = x.shape[1:]
    p = np.pad(x, ((0, 0), (r, r), (r, r)))
    y = sum(k[:, i, None, None] * p[:, :, i:i + w] for i in range(2 * r + 1))
    return sum(k[:, i, None, None] * y[:, i:i + h] for i in range(2 * r + 1))


def pen_drawn(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The shapes of ``images`` (uint8 (N, 28, 28), white on black) drawn again with a round
    pen: their centre lines (:func:`thin`) blurred by a pen edge of random spread
    (:data:`PEN_EDGE`) and inked to full at the centre line (:data:`PEN_INK`), as a pen
    stroke is grey only at its edges; uint8, same shape. The same seed gives the same
    pictures."""
    rng = np.random.default_rng(seed)
    n = len(images)
    sigma = rng.uniform(*PEN_EDGE, n)
    # a blurred line one pixel wide peaks at 1 / (sqrt(2 pi) sigma)
    gain = rng.uniform(*PEN_INK, n) * np.sqrt(2 * np.pi) * sigma
    out = np.empty_like(images)
    for i in range(0, n, 4096):  # bounded working memory
        lines = thin(images[i:i + 4096] > 127).astype(np.float32)
        ink = _blur(lines, sigma[i:i + 4096]) * gain[i:i + 4096, None, None]
        out[i:i + 4096] = np.round(np.clip(ink, 0.0, 1.0) * 255)
    return out


def _walk(rng: np.random.Generator, points: int) -> list[tuple[float, float]]:
    """A smooth random walk: a pen that keeps its heading but for a slowly changing turn."""
    side = _CANVAS
    p = rng.uniform(0.2 * side, 0.8 * side, 2)
    heading = rng.uniform(0, 2 * np.pi)
    turn, step = rng.normal(0, 0.35), rng.uniform(0.02, 0.045) * side
    out = [tuple(p)]
    for _ in range(points):
        heading += turn + rng.normal(0, 0.25)
        p = np.clip(p + step * np.array([np.cos(heading), np.sin(heading)]), 0.04 * side,
                    0.96 * side)
        out.append(tuple(p))
        if rng.random() < 0.1:
            turn = rng.normal(0, 0.4)
    return out


def _curve_image(rng: np.random.Generator):
    """One picture of pen curves (a Pillow image): two to four smooth curves, one long
    wandering line, a zigzag (with a curve beside it, half the time) or a spiral."""
    from PIL import Image, ImageDraw

    side = _CANVAS
    img = Image.new("L", (side, side), 0)
    pen = ImageDraw.Draw(img)
    width = int(rng.integers(3, 11))
    kind = rng.integers(0, 4)
    if kind == 0:
        for _ in range(rng.integers(2, 5)):
            pen.line(_walk(rng, int(rng.integers(12, 40))), fill=255, width=width, joint="curve")
    elif kind == 1:
        pen.line(_walk(rng, int(rng.integers(40, 90))), fill=255, width=width, joint="curve")
    elif kind == 2:
        turns = int(rng.integers(3, 8))
        x0, x1 = sorted(rng.uniform(0.1 * side, 0.9 * side, 2))
        ys = rng.uniform(0.1 * side, 0.9 * side, turns)
        pen.line([(x0 if i % 2 == 0 else x1, y) for i, y in enumerate(ys)], fill=255,
                 width=width, joint="curve")
        if rng.random() < 0.5:
            pen.line(_walk(rng, int(rng.integers(12, 40))), fill=255, width=width,
                     joint="curve")
    else:
        centre = rng.uniform(0.35 * side, 0.65 * side, 2)
        t = np.linspace(0, rng.uniform(8, 16), 80)
        r = (0.03 + t * rng.uniform(0.02, 0.035)) * side
        pen.line([(centre[0] + a * np.cos(b), centre[1] + a * np.sin(b)) for a, b in zip(r, t)],
                 fill=255, width=width, joint="curve")
    return img


def curves(n: int, seed: int = 0) -> np.ndarray:
    """``n`` pictures of pen curves in MNIST format, uint8 (n, 28, 28); the same seed gives
    the same pictures."""
    from ganmc.core.errors import ImageError
    from ganmc.images.preprocess import to_mnist

    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    i = 0
    while i < n:
        try:
            out[i] = to_mnist(_curve_image(rng))
        except ImageError:  # a curve that left no ink: draw another
            continue
        i += 1
    return out


def training_outliers(images_seen: int, seed: int = 0, pen: bool = True) -> np.ndarray:
    """Everything the shape network is shown as not normal when it sees ``images_seen``
    outliers in its training: the glyphs as printed and (``pen``) pen-drawn, and pen curves
    (:data:`N_CURVES`), uint8 (N, 28, 28)."""
    n_curves = min(max(images_seen // 8, N_CURVES[0]), N_CURVES[1])
    printed = glyphs()
    drawn = [pen_drawn(printed, seed)] if pen else []
    return np.concatenate([printed, *drawn, curves(n_curves, seed)])
