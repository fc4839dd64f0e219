"""Non-GAN reference points on the same splits: ``python -m research.baselines``.

Two classic pixel-space detectors, to read the GAN scores against: the squared distance to
the nearest normal training image (1-NN) and the residual outside the first 50 principal
components of the normal training images (PCA). Both on the one-class protocol (train on
digit k of the bundled split, test on all 2,000 test digits) and on the out-of-distribution
sets of ``benchmarks.quality`` (all ten digits normal). Prints AUROC; writes nothing. Seconds.
"""

from __future__ import annotations

import argparse

import numpy as np


def _flat(x: np.ndarray) -> np.ndarray:
    """Images as the models see them, one row each (the scale does not change AUROC)."""
    from ganmc.images.preprocess import to_model_input

    return to_model_input(x).reshape(len(x), -1)


def nearest_neighbour(train: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Squared pixel distance from each query image to its nearest training image."""
    d = (query**2).sum(1)[:, None] + (train**2).sum(1)[None] - 2 * query @ train.T
    return d.min(1)


def pca_residual(train: np.ndarray, query: np.ndarray, components: int = 50) -> np.ndarray:
    """Squared norm of what the first principal components of ``train`` leave unexplained."""
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    centred = query - mean
    projected = centred @ vt[:components].T
    return (centred**2).sum(1) - (projected**2).sum(1)


DETECTORS = {"1-NN pixels": nearest_neighbour, "PCA-50 residual": pca_residual}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from benchmarks.quality import anomaly_sets
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.metrics import auroc

    print("One-class AUROC (%):")
    per: dict[str, list[float]] = {name: [] for name in DETECTORS}
    for k in range(10):
        s = load_mnist("bundled", (k,))
        train, test, normal = _flat(s.x_train), _flat(s.x_test), s.test_is_normal
        for name, fn in DETECTORS.items():
            score = fn(train, test)
            per[name].append(100 * auroc(score[normal], score[~normal]))
    for name, values in per.items():
        print(f"  {name}: " + " ".join(f"{v:.1f}" for v in values)
              + f"  mean {np.mean(values):.1f}")

    print("Out of distribution AUROC (all digits normal):")
    s = load_mnist("bundled")
    train, normal = _flat(s.x_train), _flat(s.x_test)
    sets, _ = anomaly_sets(s.x_test, 2000)
    for name, fn in DETECTORS.items():
        s_n = fn(train, normal)
        print(f"  {name}: " + ", ".join(f"{k} {auroc(s_n, fn(train, _flat(x))):.4f}"
                                         for k, x in sets.items()))


if __name__ == "__main__":
    main()
