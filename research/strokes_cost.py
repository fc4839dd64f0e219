"""What the stroke figures of ``mahalanobis-strokes`` add to the end of training:
``python -m research.strokes_cost``.

On the shipped model's networks (``dcgan``) and the bundled training digits: the seconds of
:func:`ganmc.nets.density.fit_density`'s Gaussian alone and of the stroke figures on top
(``FeatureGaussian.with_strokes``: its out-of-fold fits), for all ten digits with their
labels (per-digit Gaussians) and for digit 8 alone. Prints; writes nothing (the figures are
quoted in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    import numpy as np

    from ganmc import load_model
    from ganmc.core.config import DEFAULT_DIGIT_SHRINKAGE, DEFAULT_FEATURE_COMPONENTS
    from ganmc.core.runtime import quiet_tensorflow
    from ganmc.images.data import load_mnist
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.density import FeatureGaussian, features_of, stroke_length

    quiet_tensorflow()
    det = load_model()
    splits = load_mnist("bundled")
    for name, keep in (("ten digits, per-digit", np.ones(len(splits.y_train), bool)),
                       ("digit 8 alone", splits.y_train == 8)):
        x, y = splits.x_train[keep], splits.y_train[keep]
        labels = y if name.startswith("ten") else None
        f = features_of(det.networks_.features, x)
        lengths = np.asarray(stroke_length(to_model_input(x)))
        t = time.perf_counter()
        g = FeatureGaussian.fit(f, DEFAULT_FEATURE_COMPONENTS, labels, DEFAULT_DIGIT_SHRINKAGE)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        g.with_strokes(f, lengths, DEFAULT_FEATURE_COMPONENTS, labels, DEFAULT_DIGIT_SHRINKAGE)
        strokes_s = time.perf_counter() - t
        print(f"{name} ({len(x):,} images, {f.shape[1]:,} features): Gaussian {fit_s:.1f} s, "
              f"stroke figures {strokes_s:.1f} s more", flush=True)


if __name__ == "__main__":
    main()
