"""Real photographs and crops of them, as a user would upload them.

The photographs are in ``tests/data/photos/`` (their sources and licences are in its
README): portraits, a cat, a cup, coins, a rocket, a deep-sky image, microscope slides, a
retina, a sign, a clock and textures of brick, grass and gravel. :func:`photo_set` gives
each whole and ``crops_per_photo`` random crops of it (a tenth to four fifths of its shorter
side), each framed as an upload is (:func:`ganmc.images.preprocess.to_mnist`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "data" / "photos"


def photo_files() -> list[Path]:
    """The photographs, by name."""
    return sorted(PHOTOS.glob("*.jpg"))


def crops(path: Path, n: int, rng: np.random.Generator) -> list:
    """The photograph whole and ``n`` random crops of it (Pillow images, in colour if it
    is)."""
    from PIL import Image

    with Image.open(path) as im:
        photo = im.copy()
    w, h = photo.size
    out = [photo]
    for _ in range(n):
        side = int(min(w, h) * rng.uniform(0.1, 0.8))
        aspect = rng.uniform(0.7, 1.4)
        cw, ch = min(w, max(8, int(side * aspect))), min(h, max(8, side))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        out.append(photo.crop((x0, y0, x0 + cw, y0 + ch)))
    return out


def photo_set(crops_per_photo: int = 8, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Every photograph whole and cropped, framed as uploads, and a name for each (a
    picture the framing refuses as blank is left out)."""
    from ganmc.core.errors import ImageError
    from ganmc.images.preprocess import to_mnist

    rng = np.random.default_rng(seed)
    images, names = [], []
    for path in photo_files():
        for i, im in enumerate(crops(path, crops_per_photo, rng)):
            try:
                images.append(to_mnist(im))
            except ImageError:
                continue
            names.append(path.stem + ("" if i == 0 else f" crop {i}"))
    return np.stack(images), names
