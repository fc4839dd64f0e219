"""How a model's verdicts hold on other people's handwriting: digits written in other hands
should pass, capital letters should not.

:func:`measure` judges the digits and capitals of a file in the format of EMNIST's (the
project's ``handwriting-dev.npz``: ``digits``, ``digit_labels``, ``capitals``,
``capital_labels`` 0-25 = A-Z, uint8 28 x 28, white on black, the character filling its
square) as uploads are judged: each framed like an MNIST digit first
(:func:`ganmc.images.preprocess.to_mnist`), then by the model's verdict rule. ``ganmc assess
--handwriting FILE`` writes the figures onto the model's quality card, and ``python -m
benchmarks.shape`` prints them with its other sets. Such a file is for measuring only: a
detector shown handwritten letters as anomalies would tell nothing of anomalies it has never
seen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.core.errors import DataError, ImageError
from ganmc.thresholds.distribution import percent

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Capitals written like digits (O 0, I 1, L 1, S 5, Z 2): the figures are given with and
#: without them.
DIGIT_LIKE = "OILSZ"
#: The arrays a handwriting file holds.
KEYS = ("digits", "digit_labels", "capitals", "capital_labels")


def framed(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images framed as uploads are (:func:`ganmc.images.preprocess.to_mnist`), and which of them
    the framing refused (they stay black: no verdict is NORMAL for them)."""
    from ganmc.images.preprocess import to_mnist

    out = np.zeros((len(images), 28, 28), np.uint8)
    refused = np.zeros(len(images), bool)
    for i, im in enumerate(images):
        try:
            out[i] = to_mnist(im)
        except ImageError:
            refused[i] = True
    return out, refused


def read(path: Path | str, n: int | None = None) -> dict[str, np.ndarray]:
    """The first ``n`` (all: None) digits and capitals of a handwriting file, with labels.

    Raises:
        DataError: If the file is not one (in one line).
    """
    from ganmc.images.arrays import read_npz

    arrays = read_npz(path, KEYS)
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise DataError(f"{path}: not a handwriting file (no {', '.join(missing)}; it needs "
                        f"{', '.join(KEYS)})")
    for kind in ("digits", "capitals"):
        x, y = arrays[kind], arrays[kind[:-1] + "_labels"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (
                len(x),):
            raise DataError(f"{path}: {kind} must be uint8 (N, 28, 28) with one label each")
    return {k: v[:n] for k, v in arrays.items()}


def measure(judge: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
            data: dict[str, np.ndarray], source: str) -> dict[str, Any]:
    """The figures of other writers' handwriting, from ``judge(images) -> (scores, flags)``
    (the model's score and verdict rule) and the arrays of :func:`read`.

    Returns:
        ``digits_flagged`` (share of their digits flagged), ``digits_flagged_by_digit``,
        ``capitals_caught`` (all 26) and ``capitals_caught_plain`` (without
        :data:`DIGIT_LIKE`), ``capitals_caught_by_letter``, ``auroc`` and ``auroc_plain``
        (capitals against those writers' digits), the counts and the ``source``.
    """
    from ganmc.thresholds.metrics import auroc

    out: dict[str, Any] = {"source": source}
    results = {}
    for kind in ("digits", "capitals"):
        x, refused = framed(data[kind])
        scores, flags = judge(x)
        scores = np.where(refused, np.inf, scores)
        results[kind] = (scores, flags | refused)
        out[f"n_{kind}"] = int(len(x))
    (s_d, f_d), (s_c, f_c) = results["digits"], results["capitals"]
    digits = np.asarray(data["digit_labels"])
    letters = np.asarray(list(LETTERS))[np.asarray(data["capital_labels"])]
    plain = ~np.isin(letters, list(DIGIT_LIKE))
    out.update(
        digits_flagged=round(float(f_d.mean()), 4),
        digits_flagged_by_digit={str(d): round(float(f_d[digits == d].mean()), 4)
                                 for d in np.unique(digits)},
        capitals_caught=round(float(f_c.mean()), 4),
        capitals_caught_plain=round(float(f_c[plain].mean()), 4),
        capitals_caught_by_letter={c: round(float(f_c[letters == c].mean()), 4)
                                   for c in LETTERS if (letters == c).any()},
        auroc=round(auroc(s_d, s_c), 4), auroc_plain=round(auroc(s_d, s_c[plain]), 4))
    return out


def lines(h: dict[str, Any]) -> list[str]:
    """The figures in plain lines (the card's, ``ganmc info``'s, the Detect page's)."""
    weakest = sorted(h["capitals_caught_by_letter"].items(), key=lambda kv: kv[1])[:5]
    flagged, caught = percent(h["digits_flagged"], ".1f"), percent(h["capitals_caught"], ".1f")
    plain = percent(h["capitals_caught_plain"], ".1f")
    return [f"other people's handwriting ({h['source']}): {flagged} of "
            f"{h['n_digits']:,} digits flagged; {caught} of "
            f"{h['n_capitals']:,} capital letters caught, {plain} "
            f"without O, I, L, S, Z (written like 0, 1, 1, 5, 2); AUROC capitals against "
            f"those digits {h['auroc']:.3f} ({h['auroc_plain']:.3f} without them)",
            "  letters it misses most: " + ", ".join(f"{c} ({percent(v, '.0f')} caught)"
                                                      for c, v in weakest)]
