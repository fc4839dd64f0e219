"""The Gaussian over the discriminator's features behind the ``mahalanobis`` score.

Fitted to the training images' features at the end of training (one pass of D), saved with
the model, and read by :func:`ganmc.scoring.score_graph`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np
import tensorflow as tf

from ganmc.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class FeatureGaussian:
    """A Gaussian over the discriminator features of the training images (``mahalanobis``).

    Kept in principal axes: the mean, the leading ``k`` directions (rows, orthonormal) and the
    variance along each. Directions of (near) zero variance are dropped, since a distance
    along them would only measure rounding.
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, components: int) -> FeatureGaussian:
        """Fit to features (N, F) of the training images, keeping up to ``components`` axes."""
        f = np.asarray(features, np.float64).reshape(len(features), -1)
        if len(f) < 2:
            raise ConfigError("the feature Gaussian needs at least 2 training images")
        mean = f.mean(axis=0)
        _, s, vt = np.linalg.svd(f - mean, full_matrices=False)
        var = s ** 2 / (len(f) - 1)
        k = int(min(components, np.sum(var > var[0] * 1e-9)))
        if k == 0:
            raise ConfigError("the training images' discriminator features do not vary")
        return cls(mean.astype(np.float32), vt[:k].astype(np.float32),
                   var[:k].astype(np.float32))

    def distance(self, f: tf.Tensor) -> tf.Tensor:
        """Squared Mahalanobis distance per row of ``f`` (N, F), divided by the axes kept."""
        p = tf.matmul(_f32(f) - self.mean, self.components, transpose_b=True)
        return tf.reduce_mean(tf.square(p) / self.variances, axis=1)


#: The arrays of a saved Gaussian, in its fields' order.
PARTS = tuple(f.name for f in fields(FeatureGaussian))


def fit_density(networks, images: np.ndarray, components: int) -> FeatureGaussian | None:
    """The Gaussian over D's features of uint8 training images, in batches; None (with a
    warning) when the features do not vary, since the other scores still work."""
    from ganmc.preprocess import to_model_input

    log.info("Fitting the Gaussian over the discriminator features of %d training images",
             len(images))
    x = to_model_input(images)
    try:
        features = np.concatenate([networks.features(x[i:i + 1024], training=False)[0].numpy()
                                   for i in range(0, len(x), 1024)])
        return FeatureGaussian.fit(features, components)
    except ConfigError as exc:
        log.warning("No mahalanobis score: %s", exc)
        return None


def _f32(t: tf.Tensor) -> tf.Tensor:
    return tf.cast(t, tf.float32)
