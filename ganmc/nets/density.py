"""The Gaussian over the discriminator's features behind the ``mahalanobis`` score.

Fitted to the training images' features at the end of training (one pass of D), saved with
the model, and read by :func:`ganmc.scores.scoring.score_graph`.

A model of several digits whose training images came with their labels gets one Gaussian per
digit (the class-conditional detector of Lee et al., 2018): the principal axes of the
features' spread *within* the digits, each digit's mean, and each digit's covariance in those
axes shrunk towards the pooled within-digit one by ``shrinkage`` (1 = one shared covariance,
Lee et al.'s choice; the default, ``config.DEFAULT_DIGIT_SHRINKAGE``, keeps most of each
digit's own shape, which measured better). The score is the distance to the nearest digit's
Gaussian and that digit is the one the image is taken for. With one digit (or no labels) it is
the single Gaussian as before.

The ``mahalanobis-strokes`` score corrects that distance for how much is drawn. A density
score favours simple images (Serra et al., 2020): to a model of 8s a 1 is part of an 8, and
1s were the anomalies such models missed most. The score is the distance, standardised by the
mean and spread of a new normal image's distance (out-of-fold distances of a fifth of the
training images: the hold-out set stays for the threshold alone, so its guarantee holds), plus
``stroke_weight`` times how far the image's stroke length (:func:`stroke_length`) falls short
of the training images' mean, in their spreads: an image that draws less than the normal
digits do scores higher; one that draws more is left to the distance (it is not made more
normal by drawing more). With per-digit Gaussians both are standardised by the nearest
digit's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from ganmc.core.config import DEFAULT_STROKE_WEIGHT, STROKE_FOLDS
from ganmc.core.errors import ConfigError
from ganmc.images.preprocess import to_model_input

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
    #: The stroke-length correction (None without it; see :meth:`with_strokes`): per digit
    #: (C rows; one for a single Gaussian) the mean and spread of a new normal image's
    #: distance and of the training images' stroke length (C, 4), and its weight.
    strokes: np.ndarray | None = None
    stroke_weight: float = 0.0
    #: The type of the matrix products (not saved): ``"bfloat16"`` in the Gaussian of a
    #: bfloat16 inference copy (:meth:`ganmc.nets.networks.Networks.cast`), else ``"float32"``.
    product_dtype: str = "float32"

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
        (N, C) (one column for a single Gaussian), divided by the axes kept; float32.

        The matrix products run in :attr:`product_dtype`: float32 for user images and a
        float32 Monte Carlo; bfloat16 in a bfloat16 Monte Carlo, which oneDNN accumulates in
        float32, three to four times faster on a CPU with AVX-512 BF16. Each digit's mean is
        subtracted in float32 before its whitening, so no large terms cancel after a rounded
        product. One (N, K) product per digit: the same arithmetic as an einsum over the
        (N, C, K) differences, without that C-fold copy of the projected features.
        """
        f = tf.convert_to_tensor(f)
        dtype = tf.as_dtype(self.product_dtype)
        p = tf.matmul(tf.cast(_f32(f) - self.mean, dtype),
                      tf.constant(self.components, dtype), transpose_b=True)
        p = _f32(p)
        if not self.per_digit:
            return tf.reduce_mean(tf.square(p) / self.variances, axis=1, keepdims=True)
        return tf.stack([tf.reduce_mean(tf.square(_f32(tf.matmul(
            tf.cast(p - self.digit_means[c], dtype), tf.constant(self.whiteners[c], dtype),
            transpose_b=True))), axis=1) for c in range(len(self.digits))], axis=1)

    def distance(self, f: tf.Tensor) -> tf.Tensor:
        """The distance to the nearest Gaussian, per row of ``f`` (N, F)."""
        return tf.reduce_min(self.distances(f), axis=1)

    def corrected(self, f: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        """The ``mahalanobis-strokes`` score of rows of ``f`` (N, F) whose images have these
        stroke lengths (N,): the distance to the nearest Gaussian and the length, each
        standardised by that digit's :attr:`strokes`; the first plus ``stroke_weight`` times
        how far the second is below 0 (a shorter length than the mean's)."""
        if self.strokes is None:
            raise ConfigError("this feature Gaussian has no stroke-length correction")
        d = self.distances(f)
        s = tf.gather(tf.constant(self.strokes), tf.argmin(d, axis=1))
        short = tf.maximum(0.0, (s[:, 2] - _f32(lengths)) / s[:, 3])
        return (tf.reduce_min(d, axis=1) - s[:, 0]) / s[:, 1] + self.stroke_weight * short

    def with_strokes(self, features: np.ndarray, lengths: np.ndarray, components: int,
                     labels: np.ndarray | None = None, shrinkage: float = 1.0,
                     folds: int = STROKE_FOLDS, weight: float = DEFAULT_STROKE_WEIGHT
                     ) -> FeatureGaussian:
        """This Gaussian with the stroke-length correction fitted to its training images'
        ``features`` (N, F) and stroke ``lengths`` (N,) (``labels`` and the settings as given to
        :meth:`fit`).

        A training image's own distance is smaller than a new one's (the Gaussian was fitted
        to it), so the distance's mean and spread come from one fold of ``folds``: every
        ``folds``-th image measured by a Gaussian fitted to the others (one extra fit; each
        fold in turn cost five, a minute and a half more for a model of ten digits)."""
        f = np.asarray(features, np.float32).reshape(len(features), -1)
        lengths = np.asarray(lengths, np.float64)
        own = (np.zeros(len(f), np.int64) if not self.per_digit
               else np.searchsorted(self.digits, np.asarray(labels)))
        out_of_fold = np.full(len(f), np.nan)
        rest = np.arange(len(f)) % folds != 0
        g = FeatureGaussian.fit(f[rest], components,
                                None if labels is None else np.asarray(labels)[rest], shrinkage)
        d = np.asarray(g.distances(f[~rest]), np.float64)
        if self.per_digit:  # the column of each image's own digit in the fold's fit
            cols = {int(c): i for i, c in enumerate(g.digits)} if g.per_digit else {}
            out_of_fold[~rest] = [d[r, cols[w]] if w in cols else np.nan
                                  for r, w in enumerate(self.digits[own[~rest]].tolist())]
        else:
            out_of_fold[~rest] = d[:, 0]
        rows = []
        for c in range(len(self.digits) if self.per_digit else 1):
            mine = own == c
            dist = out_of_fold[mine & np.isfinite(out_of_fold)]
            if len(dist) < 2:  # too few images of this digit: the pooled figures
                dist = out_of_fold[np.isfinite(out_of_fold)]
            length = lengths[mine] if mine.sum() >= 2 else lengths
            rows.append([dist.mean(), max(dist.std(), 1e-6), length.mean(),
                         max(length.std(), 1e-6)])
        return replace(self, strokes=np.asarray(rows, np.float32),
                       stroke_weight=float(weight))

    def nearest(self, f: tf.Tensor) -> tf.Tensor:
        """The digit whose Gaussian is nearest, per row of ``f`` (-1 without per-digit parts)."""
        if not self.per_digit:
            return tf.fill([tf.shape(f)[0]], tf.constant(-1, tf.int64))
        return tf.gather(tf.constant(self.digits), tf.argmin(self.distances(f), axis=1))


#: The arrays of a saved Gaussian: the single Gaussian's, then the per-digit parts.
PARTS = ("mean", "components", "variances")
DIGIT_PARTS = ("digits", "digit_means", "whiteners")
#: The arrays of the stroke-length correction (see :meth:`FeatureGaussian.with_strokes`).
STROKE_PARTS = ("strokes", "stroke_weight")


def stroke_length(x: tf.Tensor) -> tf.Tensor:
    """How much is drawn in each image (N, 28, 28, 1) in [-1, 1]: the total variation of its
    ink (0-1), the summed differences between neighbouring pixels across and down, about twice
    the length of its strokes in pixels. (N,) float32."""
    v = (_f32(x) + 1.0) / 2.0
    return (tf.reduce_sum(tf.abs(v[:, 1:] - v[:, :-1]), axis=[1, 2, 3])
            + tf.reduce_sum(tf.abs(v[:, :, 1:] - v[:, :, :-1]), axis=[1, 2, 3]))


def fit_density(networks, images: np.ndarray, components: int,
                labels: np.ndarray | None = None, shrinkage: float = 1.0
                ) -> FeatureGaussian | None:
    """The Gaussian over D's features of uint8 training images, in batches (per digit when
    ``labels`` name several); None (with a warning) when the features do not vary, since the
    other scores still work."""
    log.info("Fitting the Gaussian over the discriminator features of %d training images%s",
             len(images), "" if labels is None else " (per digit)")
    features = features_of(networks.features, images)
    try:
        gauss = FeatureGaussian.fit(features, components, labels, shrinkage)
    except ConfigError as exc:
        log.warning("No mahalanobis score: %s", exc)
        return None
    if len(images) < 2 * STROKE_FOLDS:
        log.warning("No mahalanobis-strokes score: %d training images are too few for its "
                    "%d folds", len(images), STROKE_FOLDS)
        return gauss
    lengths = np.concatenate([np.asarray(stroke_length(to_model_input(images[i:i + 1024])))
                              for i in range(0, len(images), 1024)])
    try:
        return gauss.with_strokes(features, lengths, components, labels, shrinkage)
    except ConfigError as exc:
        log.warning("No mahalanobis-strokes score: %s", exc)
        return gauss


def fit_shape_density(shape, images: np.ndarray, labels: np.ndarray | None = None,
                      shrinkage: float = 1.0) -> FeatureGaussian | None:
    """The Gaussian over the shape network's features of uint8 training images (per digit
    when ``labels`` name several; every axis of its features is kept); None (with a warning)
    when the features do not vary."""
    log.info("Fitting the Gaussian over the shape network's features of %d training images",
             len(images))
    features = features_of(shape, images)
    try:
        return FeatureGaussian.fit(features, features.shape[1], labels, shrinkage)
    except ConfigError as exc:
        log.warning("No shape-distance view: %s", exc)
        return None


def features_of(features, images: np.ndarray) -> np.ndarray:
    """A network's feature layer for uint8 images, in batches of 1,024, flattened to (N, F);
    ``features`` gives (features, ...) of an image batch: :func:`ganmc.nets.networks.feature_model`
    of D (``Networks.features``) or the shape network."""
    x = to_model_input(images)
    return np.concatenate([np.asarray(features(x[i:i + 1024], training=False)[0],
                                      np.float32).reshape(len(x[i:i + 1024]), -1)
                           for i in range(0, len(x), 1024)])


def _f32(t: tf.Tensor) -> tf.Tensor:
    return tf.cast(t, tf.float32)
