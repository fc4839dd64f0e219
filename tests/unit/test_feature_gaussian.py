"""The Gaussian behind the mahalanobis scorer, on data whose answer is known."""

import numpy as np
import pytest
import tensorflow as tf

from ganmc.density import FeatureGaussian
from ganmc.errors import ConfigError


def _samples(n=4000, scales=(5.0, 2.0, 0.5), seed=0):
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((len(scales), len(scales))))
    return (rng.standard_normal((n, len(scales))) * scales) @ rotation.T + 3.0, rotation


def test_recovers_the_axes_and_variances():
    x, rotation = _samples()
    g = FeatureGaussian.fit(x, components=10)
    np.testing.assert_allclose(g.mean, 3.0, atol=0.2)
    np.testing.assert_allclose(g.variances, [25.0, 4.0, 0.25], rtol=0.08)
    # the axes are the rotation's columns, up to sign
    np.testing.assert_allclose(np.abs(g.components @ rotation), np.eye(3), atol=0.05)


def test_distance_is_the_mahalanobis_distance_per_axis():
    x, rotation = _samples()
    g = FeatureGaussian.fit(x, components=3)
    d = g.distance(tf.constant(x, tf.float32)).numpy()
    assert d.mean() == pytest.approx(1.0, rel=1e-3)  # chi-square(3) / 3 averages 1
    # one step along the narrowest axis counts as much as ten along the widest
    narrow = g.mean + 0.5 * g.components[2]
    wide = g.mean + 5.0 * g.components[0]
    d2 = g.distance(tf.constant(np.stack([g.mean, narrow, wide]), tf.float32)).numpy()
    assert d2[0] == pytest.approx(0.0, abs=1e-6)
    assert d2[1] == pytest.approx(d2[2], rel=0.1) and d2[1] == pytest.approx(1 / 3, rel=0.1)


def test_keeps_at_most_the_components_asked_and_drops_empty_directions():
    x, _ = _samples()
    assert FeatureGaussian.fit(x, components=2).components.shape == (2, 3)
    flat = np.concatenate([x, np.zeros((len(x), 2))], axis=1)  # two directions never vary
    g = FeatureGaussian.fit(flat, components=100)
    assert g.components.shape == (3, 5) and np.isfinite(g.variances).all()
    assert np.all(g.variances > 0)
    with pytest.raises(ConfigError, match="at least 2"):
        FeatureGaussian.fit(x[:1], components=3)
    with pytest.raises(ConfigError, match="do not vary"):
        FeatureGaussian.fit(np.ones((10, 4)), components=3)


def _two_digits(n=1500, seed=1):
    """Two digits' features: the same spread, different means, one wide along its own axis."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 3)) * [1.0, 1.0, 0.2]
    b = rng.standard_normal((n, 3)) * [0.2, 1.0, 1.0] + [6.0, 0.0, 0.0]
    return np.concatenate([a, b]), np.repeat([3, 7], n)


def test_per_digit_gaussians_find_the_digit_and_measure_from_the_nearest():
    x, y = _two_digits()
    g = FeatureGaussian.fit(x, components=3, labels=y, shrinkage=0.0)
    assert g.per_digit and list(g.digits) == [3, 7]
    nearest = g.nearest(tf.constant(x, tf.float32)).numpy()
    assert np.mean(nearest == y) > 0.99
    d = g.distance(tf.constant(x, tf.float32)).numpy()
    assert d.mean() == pytest.approx(1.0, rel=0.05)  # each image near its own digit's Gaussian
    # between the two means: far from both, though the pooled Gaussian's centre is there
    between = tf.constant([[3.0, 0.0, 0.0]], tf.float32)
    middle = g.distance(between).numpy()[0]
    plain = FeatureGaussian.fit(x, components=3).distance(between).numpy()[0]
    assert middle > 2.5 and plain < 0.5
    # a step along digit 3's narrow axis counts far more than along its wide one
    narrow, wide = g.distance(tf.constant([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], tf.float32)).numpy()
    assert narrow > 5 * wide


def test_one_digit_or_no_labels_is_the_single_gaussian():
    x, _ = _samples()
    plain = FeatureGaussian.fit(x, components=3)
    one = FeatureGaussian.fit(x, components=3, labels=np.full(len(x), 4), shrinkage=0.05)
    assert not one.per_digit
    np.testing.assert_allclose(one.distance(tf.constant(x[:50], tf.float32)).numpy(),
                               plain.distance(tf.constant(x[:50], tf.float32)).numpy())
    assert (one.nearest(tf.constant(x[:5], tf.float32)).numpy() == -1).all()


def test_full_shrinkage_is_one_shared_covariance():
    x, y = _two_digits()
    g = FeatureGaussian.fit(x, components=3, labels=y, shrinkage=1.0)
    np.testing.assert_allclose(g.whiteners[0], g.whiteners[1], atol=1e-6)
    with pytest.raises(ConfigError, match="shrinkage"):
        FeatureGaussian.fit(x, components=3, labels=y, shrinkage=1.5)
    with pytest.raises(ConfigError, match="labels"):
        FeatureGaussian.fit(x, components=3, labels=y[:10])
