"""The Gaussian over the discriminator's features behind the ``mahalanobis`` score.

Fitted to the training images' features at the end of training (one pass of D), saved with
the model, and read by :func:`ganmc.scoring.score_graph`.

A model of several digits whose training images came with their labels gets one Gaussian per
digit (the class-conditional detector of Lee et al., 2018): the principal axes of the
features' spread *within* the digits, each digit's mean, and each digit's covariance in those
axes shrunk towards the pooled within-digit one by ``shrinkage`` (1 = one shared covariance,
Lee et al.'s choice; the default, ``config.DEFAULT_DIGIT_SHRINKAGE``, keeps most of each
digit's own shape, which measured better). The score is the distance to the nearest digit's
Gaussian and that digit is the one the image is taken for. With one digit (or no labels) it is
the single Gaussian as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
    #: The per-digit parts (None for a single Gaussian): the digits (C,), each one's mean in
    #: the principal axes (C, K), and a whitening matrix per digit (C, K, K): W with
    #: W S W^T = I for that digit's (shrunk) covariance S.
    digits: np.ndarray | None = None
    digit_means: np.ndarray | None = None
    whiteners: np.ndarray | None = None

    @classmethod
    def fit(cls, features: np.ndarray, components: int, labels: np.ndarray | None = None,
            shrinkage: float = 1.0) -> FeatureGaussian:
        """Fit to features (N, F) of the training images, keeping up to ``components`` axes;
        one Gaussian per label when ``labels`` (N,) hold two or more, their covariances
        shrunk by ``shrinkage`` (0-1) towards the pooled within-label one."""
        f = np.asarray(features, np.float64).reshape(len(features), -1)
        if len(f) < 2:
            raise ConfigError("the feature Gaussian needs at least 2 training images")
        mean = f.mean(axis=0)
        if labels is not None and len(labels) != len(f):
            raise ConfigError(f"{len(labels)} labels for {len(f)} training images")
        classes = None if labels is None else np.unique(labels)
        if classes is None or len(classes) < 2:
            centred, dof = f - mean, len(f) - 1
        else:
            labels = np.asarray(labels)
            if not 0.0 <= shrinkage <= 1.0:
                raise ConfigError(f"shrinkage must be between 0 and 1, not {shrinkage}")
            means = np.stack([f[labels == c].mean(axis=0) for c in classes])
            centred = f - means[np.searchsorted(classes, labels)]
            dof = max(len(f) - len(classes), 1)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        var = s ** 2 / dof
        k = int(min(components, np.sum(var > var[0] * 1e-9))) if var[0] > 0 else 0
        if k == 0:
            raise ConfigError("the training images' discriminator features do not vary")
        axes, var = vt[:k], var[:k]
        if classes is None or len(classes) < 2:
            return cls(mean.astype(np.float32), axes.astype(np.float32), var.astype(np.float32))
        p = (f - mean) @ axes.T
        digit_means = (means - mean) @ axes.T
        whiteners = []
        for i, c in enumerate(classes):
            r = p[labels == c] - digit_means[i]
            own = r.T @ r / (len(r) - 1) if len(r) > 1 else np.diag(var)
            cov = (1.0 - shrinkage) * own + shrinkage * np.diag(var)
            whiteners.append(np.linalg.inv(np.linalg.cholesky(cov)))
        return cls(mean.astype(np.float32), axes.astype(np.float32), var.astype(np.float32),
                   classes.astype(np.int64), digit_means.astype(np.float32),
                   np.stack(whiteners).astype(np.float32))

    @property
    def per_digit(self) -> bool:
        """Whether there is one Gaussian per digit (a model of several labelled digits)."""
        return self.digits is not None

    def distances(self, f: tf.Tensor) -> tf.Tensor:
        """Squared Mahalanobis distance of each row of ``f`` (N, F) to each digit's Gaussian
        (N, C) (one column for a single Gaussian), divided by the axes kept."""
        p = tf.matmul(_f32(f) - self.mean, self.components, transpose_b=True)
        if not self.per_digit:
            return tf.reduce_mean(tf.square(p) / self.variances, axis=1, keepdims=True)
        d = p[:, None, :] - self.digit_means[None]
        return tf.reduce_mean(tf.square(tf.einsum("nck,cjk->ncj", d, self.whiteners)), axis=2)

    def distance(self, f: tf.Tensor) -> tf.Tensor:
        """The distance to the nearest Gaussian, per row of ``f`` (N, F)."""
        return tf.reduce_min(self.distances(f), axis=1)

    def nearest(self, f: tf.Tensor) -> tf.Tensor:
        """The digit whose Gaussian is nearest, per row of ``f`` (-1 without per-digit parts)."""
        if not self.per_digit:
            return tf.fill([tf.shape(f)[0]], tf.constant(-1, tf.int64))
        return tf.gather(tf.constant(self.digits), tf.argmin(self.distances(f), axis=1))


#: The arrays of a saved Gaussian: the single Gaussian's, then the per-digit parts.
PARTS = ("mean", "components", "variances")
DIGIT_PARTS = ("digits", "digit_means", "whiteners")


def fit_density(networks, images: np.ndarray, components: int,
                labels: np.ndarray | None = None, shrinkage: float = 1.0
                ) -> FeatureGaussian | None:
    """The Gaussian over D's features of uint8 training images, in batches (per digit when
    ``labels`` name several); None (with a warning) when the features do not vary, since the
    other scores still work."""
    log.info("Fitting the Gaussian over the discriminator features of %d training images%s",
             len(images), "" if labels is None else " (per digit)")
    try:
        return FeatureGaussian.fit(features_of(networks.features, images), components, labels,
                                   shrinkage)
    except ConfigError as exc:
        log.warning("No mahalanobis score: %s", exc)
        return None


def features_of(features, images: np.ndarray) -> np.ndarray:
    """D's feature layer for uint8 images, in batches of 1,024, flattened to (N, F);
    ``features`` is :func:`ganmc.networks.feature_model` of D (``Networks.features``)."""
    from ganmc.preprocess import to_model_input

    x = to_model_input(images)
    return np.concatenate([np.asarray(features(x[i:i + 1024], training=False)[0],
                                      np.float32).reshape(len(x[i:i + 1024]), -1)
                           for i in range(0, len(x), 1024)])


def _f32(t: tf.Tensor) -> tf.Tensor:
    return tf.cast(t, tf.float32)
