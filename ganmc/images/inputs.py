"""What a user points at -> MNIST-format images with a name for each.

An input is an image file (PNG, JPEG, BMP, GIF, ...), a folder of image files, an ``.npz``
holding an ``x`` array (N x 28 x 28), or an IDX images file. Each image keeps its source and
index so results can be traced back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ganmc.core import limits
from ganmc.core.config import DIGITS
from ganmc.core.errors import DataError, GanmcError, ImageError, shown
from ganmc.images.arrays import load_images_file
from ganmc.images.preprocess import BLANK, IMAGE_SUFFIXES, load_image, no_digit

#: Most images one command reads from image files (arrays may hold more).
MAX_IMAGE_FILES = 10_000


@dataclass
class Images:
    """Images with where each came from, and what was refused.

    Attributes:
        x: uint8 (N, 28, 28).
        sources: The file each image came from, as it may be printed (control characters and
            bytes that are not UTF-8 escaped: :func:`ganmc.core.errors.shown`).
        indices: Its index in that file (0 for an image file).
        problems: ``(source, reason)`` for each file or array image refused (only filled by
            ``read_inputs(..., strict=False)``; ``source`` is ``FILE`` or ``FILE[INDEX]``,
            ``reason`` the one-line message, which starts with the source too).
    """

    x: np.ndarray  # uint8 (N, 28, 28)
    sources: list[str]
    indices: list[int]
    problems: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)


def _is_array_file(path: Path) -> bool:
    return path.suffix == ".npz" or "idx" in path.name or path.suffix == ".ubyte"


def blank_images(x: np.ndarray) -> np.ndarray:
    """Which images of uint8 (N, 28, 28) hold no digit: :func:`ganmc.images.preprocess.no_digit`,
    the test a picture is put to as well."""
    return no_digit(x)


def read_inputs(paths: list[str | Path], *, strict: bool = True,
                framing: str = DIGITS) -> Images:
    """Read every input into one batch.

    Pictures are put into the 28x28 frame by ``framing`` (the model's:
    :func:`ganmc.images.preprocess.frame`); array images (``.npz``, IDX) are taken as they are, and
    in the ``digits`` framing those that are blank are refused like a blank image file.

    Args:
        paths: Image files, folders of them, ``.npz`` files (array ``x``), IDX files.
        strict: True: stop at the first bad input (raise). False: refuse each bad file or
            image on its own, list it in ``Images.problems`` and go on with the rest.
        framing: ``digits`` or ``whole`` (:data:`ganmc.core.config.FRAMINGS`).

    Raises:
        DataError: If a path is missing or a folder holds no images (strict), if nothing at
            all could be read (either mode), or if the inputs hold more than
            ``MAX_IMAGE_FILES`` image files or ``limits.MAX_IMAGES`` images (either mode).
        ImageError: If an image file is unreadable or blank (strict).
    """
    xs: list[np.ndarray] = []
    sources: list[str] = []
    indices: list[int] = []
    problems: list[tuple[str, str]] = []
    n_files = n_images = 0

    def refuse(source: str, exc: GanmcError) -> None:
        if strict:
            raise type(exc)(shown(exc)) from None
        problems.append((shown(source), shown(exc)))

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                refuse(str(path), DataError(f"{path}: the folder holds no image files "
                                            f"({', '.join(IMAGE_SUFFIXES)})"))
                continue
        elif path.exists():
            files = [path]
        else:
            refuse(str(path), DataError(f"{path}: no such file or folder"))
            continue
        for f in files:
            if _is_array_file(f):
                try:
                    arr = load_images_file(f)
                except GanmcError as exc:
                    refuse(str(f), exc)
                    continue
                keep = np.ones(len(arr), bool)
                blank = blank_images(arr) if framing == DIGITS else ~keep  # whole: kept
                for i in np.flatnonzero(blank):
                    refuse(f"{f}[{i}]", ImageError(f"{f}[{i}]: {BLANK}"))
                    keep[i] = False
                n_images += int(keep.sum())
                if n_images > limits.MAX_IMAGES:
                    raise DataError(f"the inputs hold more than the {limits.MAX_IMAGES:,} "
                                    f"images one command may read")
                xs.append(arr[keep])
                sources.extend([shown(f)] * int(keep.sum()))
                indices.extend(int(i) for i in np.flatnonzero(keep))
            else:
                n_files += 1
                if n_files > MAX_IMAGE_FILES:
                    raise DataError(f"more than {MAX_IMAGE_FILES:,} image files; pack them in an "
                                    f".npz instead")
                try:
                    xs.append(load_image(f, framing=framing)[None])
                except GanmcError as exc:
                    refuse(str(f), exc)
                    continue
                n_images += 1
                sources.append(shown(f))
                indices.append(0)
    if not sources:
        if not paths:
            raise DataError("no input given")
        first = f"; first problem: {problems[0][1]}" if problems else ""
        raise DataError(f"no readable image in the {len(paths)} input(s) given{first}")
    return Images(np.concatenate(xs), sources, indices, problems)
