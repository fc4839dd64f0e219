"""What a user points at -> MNIST-format images with a name for each.

An input is an image file (PNG, JPEG, BMP, GIF, ...), a folder of image files, an ``.npz``
holding an ``x`` array (N x 28 x 28), or an IDX images file. Each image keeps its source and
index so results can be traced back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganmc.data import load_images_file
from ganmc.errors import DataError
from ganmc.preprocess import IMAGE_SUFFIXES, load_image

#: Most images one command reads from image files (arrays may hold more).
MAX_IMAGE_FILES = 10_000


@dataclass
class Images:
    """Images with where each came from."""

    x: np.ndarray  # uint8 (N, 28, 28)
    sources: list[str]
    indices: list[int]

    def __len__(self) -> int:
        return len(self.x)


def _is_array_file(path: Path) -> bool:
    return path.suffix == ".npz" or "idx" in path.name or path.suffix == ".ubyte"


def read_inputs(paths: list[str | Path]) -> Images:
    """Read every input into one batch.

    Raises:
        DataError: If a path is missing or a folder holds no images.
        ImageError: If an image file is unreadable or blank.
    """
    xs: list[np.ndarray] = []
    sources: list[str] = []
    indices: list[int] = []
    n_files = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise DataError(f"{path}: the folder holds no image files "
                                f"({', '.join(IMAGE_SUFFIXES)})")
        elif path.exists():
            files = [path]
        else:
            raise DataError(f"{path}: no such file or folder")
        for f in files:
            if _is_array_file(f):
                arr = load_images_file(f)
                xs.append(arr)
                sources.extend([str(f)] * len(arr))
                indices.extend(range(len(arr)))
            else:
                n_files += 1
                if n_files > MAX_IMAGE_FILES:
                    raise DataError(f"more than {MAX_IMAGE_FILES:,} image files; pack them in an "
                                    f".npz instead")
                xs.append(load_image(f)[None])
                sources.append(str(f))
                indices.append(0)
    if not xs:
        raise DataError("no input given")
    return Images(np.concatenate(xs), sources, indices)
