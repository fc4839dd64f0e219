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
#: Most outliers a run holds: every shipped glyph and the most curves (for the memory
#: estimate, :func:`ganmc.core.limits.training_bytes`).
MAX_OUTLIERS = 32_000 + N_CURVES[1]
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


def training_outliers(images_seen: int, seed: int = 0) -> np.ndarray:
    """Everything the shape network is shown as not normal when it sees ``images_seen``
    outliers in its training: the glyphs and pen curves (:data:`N_CURVES`), uint8
    (N, 28, 28)."""
    n_curves = min(max(images_seen // 8, N_CURVES[0]), N_CURVES[1])
    return np.concatenate([glyphs(), curves(n_curves, seed)])
