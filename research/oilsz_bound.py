"""How many capitals written like digits can any detector catch? ``python -m
research.oilsz_bound [--handwriting FILE]``.

O, I, L, S and Z are commonly written like 0, 1, 1, 5 and 2. A detector that has never seen
handwritten letters can do no better on them than a classifier trained on those very letters
against those very digits. For each pair (O against 0, I against 1, L against 1, S against
5, Z against 2) this trains a small CNN on other writers' handwriting
(``handwriting-dev.npz``, framed like MNIST digits, as uploads are), in five folds, and
measures on the held-out fold how many of the letters it catches where it flags no more
than 7 % of the digit (the issue's bound on other writers' digits flagged). That is a
ceiling for the unsupervised detector, and with the figures for the other 21 letters it
bounds what share of all 26 capitals any detector can catch. Research only: the file is for
measuring, and nothing here is used to train the product.
"""

from __future__ import annotations

import argparse

import numpy as np

PAIRS = (("O", 0), ("I", 1), ("L", 1), ("S", 5), ("Z", 2))
#: The share of the digit the classifier may flag (the issue's bound on other writers'
#: digits flagged).
FLAGGED = 0.07


def cnn():
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPool2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPool2D(),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(1)])


def caught(letters: np.ndarray, digits: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated share of ``letters`` caught at the threshold flagging ``FLAGGED`` of
    ``digits``."""
    import keras

    x = np.concatenate([letters, digits]).astype("float32")[..., None] / 255.0
    y = np.r_[np.ones(len(letters)), np.zeros(len(digits))].astype("float32")
    fold = np.random.default_rng(seed).integers(0, folds, len(x))
    hits = []
    for k in range(folds):
        keras.utils.set_random_seed(seed + k)
        model = cnn()
        model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
        model.fit(x[fold != k], y[fold != k], epochs=8, batch_size=64, verbose=0)
        s = model.predict(x[fold == k], verbose=0).ravel()
        yk = y[fold == k]
        cut = np.quantile(s[yk == 0], 1 - FLAGGED)
        hits.append((s[yk == 1] > cut).mean())
    return float(np.mean(hits))


def main() -> None:
    from benchmarks.shape import HANDWRITING
    from ganmc.thresholds import handwriting

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--handwriting", default=HANDWRITING)
    args = p.parse_args()
    data = handwriting.read(args.handwriting)
    letters = np.asarray(list(handwriting.LETTERS))[data["capital_labels"]]
    capitals, _ = handwriting.framed(data["capitals"])
    digits, _ = handwriting.framed(data["digits"])
    counts = {c: int((letters == c).sum()) for c in handwriting.LETTERS}
    best = {}
    for letter, digit in PAIRS:
        best[letter] = caught(capitals[letters == letter], digits[data["digit_labels"] == digit])
        print(f"{letter} against {digit}: at most {best[letter]:.1%} of {counts[letter]:,} "
              f"caught with {FLAGGED:.0%} of the {digit}s flagged", flush=True)
    like = sum(counts[c] for c in handwriting.DIGIT_LIKE)
    ceiling = sum(best[c] * counts[c] for c in handwriting.DIGIT_LIKE)
    total = sum(counts.values())
    print(f"O, I, L, S, Z: {like:,} of {total:,} capitals; at most {ceiling / like:.1%} of "
          f"them caught")
    for plain in (0.90, 1.0):
        print(f"all 26 caught at most {(ceiling + plain * (total - like)) / total:.1%} with the "
              f"other 21 letters caught at {plain:.0%}")


if __name__ == "__main__":
    main()
