"""Make the example pictures in this folder (run from anywhere: python make_examples.py).

- ``digit-3.png``, ``digit-7.png``: test-split digits drawn large, dark ink on white paper,
  the way a user's scan or drawing looks (normal).
- ``letter-A.png``, ``letter-K.png``: printed letters (not digits; a printed K sits close
  to the shipped model's 5 % line).
- ``photo.jpg``: a synthetic photograph-like scene (an anomaly).
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent


def main() -> None:
    data = np.load(HERE.parent / "mnist-10k.npz")
    x, y = data["x"], data["y"]
    for digit in (3, 7):
        img = x[np.flatnonzero(y == digit)[-1]]  # from the end: the bundled test split
        big = Image.fromarray(255 - img).resize((280, 280), Image.LANCZOS)
        big.save(HERE / f"digit-{digit}.png")
    font = ImageFont.load_default(size=220)
    for letter in "AK":
        img = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(img).text((140, 140), letter, fill=0, font=font, anchor="mm")
        img.save(HERE / f"letter-{letter}.png")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    sky = np.stack([90 + yy * 0.4, 140 + yy * 0.3, 230 - yy * 0.2], -1)
    scene = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(scene)
    draw.rectangle([0, 170, 320, 240], fill=(60, 120, 50))
    draw.ellipse([230, 30, 280, 80], fill=(250, 230, 120))
    for _ in range(6):
        cx, cy = rng.integers(20, 300), rng.integers(150, 200)
        draw.ellipse([cx - 25, cy - 40, cx + 25, cy + 10], fill=(30, 90 + rng.integers(40), 30))
    scene = scene.filter(ImageFilter.GaussianBlur(1.5))
    noisy = np.asarray(scene, np.float32) + rng.normal(0, 6, (240, 320, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(HERE / "photo.jpg", quality=90)


if __name__ == "__main__":
    main()
