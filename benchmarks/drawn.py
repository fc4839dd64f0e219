"""Hand-drawn capital letters and digits, as a person draws them on the Detect page's canvas.

Each character is a few pen strokes (polylines, arcs sampled as polylines) in a unit box, as one
writes it by hand: an "A" is two slanted lines and a bar, an "O" one closed loop. Each drawing gets
its own hand: a slant (shear), a size and aspect, a small rotation, a wobble of every point and a
stroke width, and is drawn with a round brush (round joints and round ends) in white on a black
280 x 280 canvas, like the canvas's free-draw mode (``stroke_width=18``); then it goes through the
project's own preprocessing (:func:`ganmc.images.preprocess.to_mnist`), as a drawing on the page
does. Nothing is font-rendered.

``python -m benchmarks.drawn OUT.png`` writes a picture of a sample, to look at.
"""

from __future__ import annotations

import math
import string

import numpy as np

#: Canvas side in pixels, as on the Detect page.
CANVAS = 280
#: Brush widths drawn from (the page's brush is 18 px).
WIDTHS = (12, 22)


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 16):
    """Points of an elliptic arc from angle a0 to a1 (degrees, 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


# Strokes in a unit box (x right, y down), as people commonly write these characters.
LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0.05, 1), (0.5, 0), (0.95, 1)], [(0.25, 0.6), (0.75, 0.6)]],
    "B": [[(0.1, 1), (0.1, 0)], [(0.1, 0), *_arc(0.5, 0.25, 0.35, 0.25, -90, 90), (0.1, 0.5)],
          [(0.1, 0.5), *_arc(0.55, 0.75, 0.4, 0.25, -90, 90), (0.1, 1)]],
    "C": [_arc(0.55, 0.5, 0.45, 0.5, -45, -315, 24)],
    "D": [[(0.1, 0), (0.1, 1)], [(0.1, 0), *_arc(0.35, 0.5, 0.6, 0.5, -90, 90, 20), (0.1, 1)]],
    "E": [[(0.9, 0), (0.1, 0), (0.1, 1), (0.9, 1)], [(0.1, 0.5), (0.7, 0.5)]],
    "F": [[(0.9, 0), (0.1, 0), (0.1, 1)], [(0.1, 0.5), (0.7, 0.5)]],
    "G": [[*_arc(0.55, 0.5, 0.45, 0.5, -45, -340, 24), (0.95, 0.55), (0.6, 0.55)]],
    "H": [[(0.1, 0), (0.1, 1)], [(0.9, 0), (0.9, 1)], [(0.1, 0.5), (0.9, 0.5)]],
    "J": [[(0.8, 0), *_arc(0.45, 0.7, 0.35, 0.3, 0, 180, 12)]],
    "K": [[(0.1, 0), (0.1, 1)], [(0.9, 0), (0.1, 0.55)], [(0.35, 0.4), (0.9, 1)]],
    "L": [[(0.1, 0), (0.1, 1), (0.85, 1)]],
    "M": [[(0.05, 1), (0.1, 0), (0.5, 0.7), (0.9, 0), (0.95, 1)]],
    "N": [[(0.1, 1), (0.1, 0), (0.9, 1), (0.9, 0)]],
    "P": [[(0.1, 1), (0.1, 0)], [(0.1, 0), *_arc(0.5, 0.27, 0.4, 0.27, -90, 90), (0.1, 0.54)]],
    "Q": [_arc(0.5, 0.5, 0.45, 0.5, 0, 360, 28), [(0.55, 0.7), (0.95, 1.05)]],
    "R": [[(0.1, 1), (0.1, 0)], [(0.1, 0), *_arc(0.5, 0.27, 0.4, 0.27, -90, 90), (0.1, 0.54)],
          [(0.4, 0.54), (0.9, 1)]],
    "S": [[*_arc(0.5, 0.27, 0.4, 0.27, -20, -270, 14), *_arc(0.5, 0.73, 0.4, 0.27, -90, 160,
                                                               14)]],
    "T": [[(0.05, 0), (0.95, 0)], [(0.5, 0), (0.5, 1)]],
    "U": [[(0.1, 0), (0.1, 0.6), *_arc(0.5, 0.6, 0.4, 0.4, 180, 0, 12), (0.9, 0)]],
    "V": [[(0.05, 0), (0.5, 1), (0.95, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (1, 0)]],
    "X": [[(0.1, 0), (0.9, 1)], [(0.9, 0), (0.1, 1)]],
    "Y": [[(0.1, 0), (0.5, 0.5)], [(0.9, 0), (0.5, 0.5), (0.5, 1)]],
    "Z": [[(0.1, 0), (0.9, 0), (0.1, 1), (0.9, 1)]],
}
# I and O are left out: drawn by hand they are a "1" and a "0".
assert set(LETTERS) == set(string.ascii_uppercase) - {"I", "O"}

DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.4, 0.5, -90, 270, 28)],
    1: [[(0.3, 0.2), (0.55, 0), (0.55, 1)]],
    2: [[*_arc(0.5, 0.3, 0.4, 0.3, 200, 380, 14), (0.1, 1), (0.9, 1)]],
    3: [[*_arc(0.5, 0.27, 0.38, 0.27, 200, 450, 14), *_arc(0.5, 0.73, 0.42, 0.27, -90, 160,
                                                          14)]],
    4: [[(0.65, 1), (0.65, 0), (0.05, 0.7), (0.95, 0.7)]],
    5: [[(0.85, 0), (0.2, 0), (0.15, 0.45), *_arc(0.5, 0.7, 0.4, 0.3, -120, 150, 14)]],
    6: [[(0.75, 0), *_arc(0.5, 0.7, 0.38, 0.3, 200, 560, 24)]],
    7: [[(0.1, 0), (0.9, 0), (0.35, 1)]],
    8: [[*_arc(0.5, 0.25, 0.33, 0.25, 90, -270, 16), *_arc(0.5, 0.75, 0.4, 0.25, -90, 270,
                                                          16)]],
    9: [_arc(0.5, 0.3, 0.38, 0.3, 0, 360, 20), [(0.88, 0.3), (0.8, 1)]],
}


def draw(strokes: list[list[tuple[float, float]]], rng: np.random.Generator) -> np.ndarray:
    """One character in a random hand, on a 280 x 280 canvas, then in MNIST format."""
    from PIL import Image, ImageDraw

    from ganmc.images.preprocess import to_mnist

    slant = rng.uniform(-0.35, 0.15)  # most people lean right (negative shear of y-down x)
    angle = math.radians(rng.uniform(-8, 8))
    height = rng.uniform(150, 230)
    width = height * rng.uniform(0.55, 0.95)
    cos, sin = math.cos(angle), math.sin(angle)
    wobble = rng.uniform(0.01, 0.03)
    brush = int(rng.integers(*WIDTHS))
    img = Image.new("L", (CANVAS, CANVAS), 0)
    pen = ImageDraw.Draw(img)
    cx, cy = CANVAS / 2 + rng.uniform(-20, 20), CANVAS / 2 + rng.uniform(-20, 20)
    for stroke in strokes:
        p = np.asarray(stroke, np.float64) + rng.normal(0, wobble, (len(stroke), 2))
        u, v = p[:, 0] - 0.5, p[:, 1] - 0.5
        u = u - slant * v
        x, y = u * width, v * height
        pts = [(cx + a * cos - b * sin, cy + a * sin + b * cos) for a, b in zip(x, y)]
        pen.line(pts, fill=255, width=brush, joint="curve")
        r = brush / 2 - 0.5
        for px, py in (pts[0], pts[-1]):  # a round brush: round ends too
            pen.ellipse((px - r, py - r, px + r, py + r), fill=255)
    return to_mnist(img)


def drawn_set(shapes: dict, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n drawings cycling through ``shapes`` (each in its own random hand); and their keys."""
    rng = np.random.default_rng(seed)
    keys = list(shapes)
    labels = [keys[i % len(keys)] for i in range(n)]
    return np.stack([draw(shapes[k], rng) for k in labels]), np.asarray(labels)


def drawn_letters(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n hand-drawn capital letters (24 letters, I and O left out) and which letter each is."""
    return drawn_set(LETTERS, n, seed)


def drawn_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n hand-drawn digits in the same hand as :func:`drawn_letters`, and their digits."""
    return drawn_set(DIGITS, n, seed)


def photographs(n: int, seed: int = 0) -> np.ndarray:
    """n pictures that are not handwriting: the example photograph (``assets/examples/
    photo.jpg``), each randomly cropped (half to all of each side), turned (up to 20
    degrees), its contrast changed (0.6-1.4) and noise added (sd 0-60 grey levels), then put
    through the project's preprocessing as an upload is."""
    from pathlib import Path

    from PIL import Image

    from ganmc.images.preprocess import to_mnist

    photo = Image.open(Path(__file__).resolve().parents[1] / "assets" / "examples"
                       / "photo.jpg").convert("L")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.5, 1)), int(h * rng.uniform(0.5, 1))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = photo.crop((x0, y0, x0 + cw, y0 + ch)).rotate(float(rng.uniform(-20, 20)),
                                                           expand=True, fillcolor=255)
        a = np.asarray(im, np.float32)
        a = (a - a.mean()) * rng.uniform(0.6, 1.4) + a.mean()
        a = a + rng.normal(0, rng.uniform(0, 60), a.shape)
        out.append(to_mnist(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))))
    return np.stack(out)


def printed_letters(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n font-rendered capital letters (DejaVu Sans, bold or not), for comparison."""
    from PIL import Image, ImageDraw, ImageFont

    from ganmc.images.preprocess import to_mnist

    fonts = [f"/usr/share/fonts/truetype/dejavu/DejaVuSans{s}.ttf" for s in ("", "-Bold")]
    rng = np.random.default_rng(seed)
    keys = sorted(LETTERS)
    out, labels = [], []
    for i in range(n):
        k = keys[i % len(keys)]
        try:
            font = ImageFont.truetype(fonts[int(rng.integers(2))], 200)
        except OSError:
            font = ImageFont.load_default(200)
        img = Image.new("L", (CANVAS, CANVAS), 0)
        ImageDraw.Draw(img).text((40, 20), k, fill=255, font=font)
        out.append(to_mnist(img))
        labels.append(k)
    return np.stack(out), np.asarray(labels)


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="A picture of a sample of hand-drawn letters "
                                "(four rows) and digits (two rows), to look at.")
    p.add_argument("out", nargs="?", default="drawn.png", help="the PNG to write")
    out = p.parse_args().out

    from PIL import Image

    from ganmc.report.style import image_grid

    letters, _ = drawn_letters(48, seed=0)
    digits, _ = drawn_digits(24, seed=0)
    Image.fromarray(image_grid(np.concatenate([letters, digits]), cols=12)).save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
