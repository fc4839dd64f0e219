"""The Gaussian behind the mahalanobis scorer, on data whose answer is known."""

import numpy as np
import pytest
import tensorflow as tf

from ganmc.core.errors import ConfigError
from ganmc.nets.density import FeatureGaussian


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


def test_stroke_length_is_the_ink_s_total_variation():
    from ganmc.nets.density import stroke_length

    blank = -np.ones((1, 28, 28, 1), np.float32)
    line = blank.copy()
    line[0, 10, 5:15] = 1.0  # a full-ink horizontal stroke 10 pixels long
    grey = blank.copy()
    grey[0, 10, 5:15] = 0.0  # the same stroke at half ink
    got = stroke_length(tf.constant(np.concatenate([blank, line, grey]))).numpy()
    # above and below the stroke 10 each, its two ends 1 each; half the ink, half of that
    np.testing.assert_allclose(got, [0.0, 22.0, 11.0], atol=1e-5)


def _lengths(x, rng):
    """Stroke lengths unrelated to the features (so the correction is the lengths' alone)."""
    return rng.normal(100.0, 10.0, len(x))


def test_stroke_correction_is_standardised_on_new_normal_images():
    rng = np.random.default_rng(3)
    everything, _ = _samples(n=3600, scales=tuple(np.linspace(3.0, 0.3, 40)), seed=4)
    x, new = everything[:600], everything[600:]
    g = FeatureGaussian.fit(x, components=40).with_strokes(x, _lengths(x, rng), 40, weight=0.5)
    assert g.strokes.shape == (1, 4) and g.stroke_weight == 0.5
    # a training image's distance is smaller than a new one's: the scale is out-of-fold
    inside = g.distance(tf.constant(x, tf.float32)).numpy().mean()
    outside = g.distance(tf.constant(new, tf.float32)).numpy()
    assert g.strokes[0, 0] > 1.03 * inside
    assert g.strokes[0, 0] == pytest.approx(outside.mean(), rel=0.05)
    assert g.strokes[0, 1] == pytest.approx(outside.std(), rel=0.25)
    np.testing.assert_allclose(g.strokes[0, 2:], [100.0, 10.0], rtol=0.1)
    # new normal images score about 0 (plus the half-normal's mean, 0.4 spreads, times the
    # weight) with a spread of about 1
    lengths = _lengths(new, rng)
    score = g.corrected(tf.constant(new, tf.float32), tf.constant(lengths, tf.float32)).numpy()
    assert abs(score.mean() - 0.5 * 0.4) < 0.15 and 0.9 < score.std() < 1.35
    # drawing less than the mean counts against an image, by the weight per spread; drawing
    # more does not count for it
    f = tf.constant(new[:5], tf.float32)
    plain = (g.distance(f).numpy() - g.strokes[0, 0]) / g.strokes[0, 1]
    short = g.corrected(f, tf.constant([g.strokes[0, 2] - 20.0] * 5)).numpy()
    long = g.corrected(f, tf.constant([g.strokes[0, 2] + 20.0] * 5)).numpy()
    np.testing.assert_allclose(short - plain, 0.5 * 20.0 / g.strokes[0, 3], rtol=1e-4)
    np.testing.assert_allclose(long, plain, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="stroke"):
        FeatureGaussian.fit(x, components=40).corrected(f, tf.constant([80.0] * 5))


def test_per_digit_stroke_figures_are_each_digit_s_own():
    x, y = _two_digits()
    rng = np.random.default_rng(0)
    lengths = np.where(y == 3, rng.normal(60.0, 5.0, len(y)), rng.normal(140.0, 20.0, len(y)))
    g = FeatureGaussian.fit(x, components=3, labels=y, shrinkage=0.05)
    g = g.with_strokes(x, lengths, 3, labels=y, shrinkage=0.05, weight=1.0)
    assert g.strokes.shape == (2, 4)
    np.testing.assert_allclose(g.strokes[:, 2], [60.0, 140.0], rtol=0.03)
    np.testing.assert_allclose(g.strokes[:, 3], [5.0, 20.0], rtol=0.1)
    # a 3 as short as a typical 3 is short for a 7: the 7's shortfall counts, not the 3's
    three, seven = x[y == 3][:1], x[y == 7][:1]
    d3 = g.distance(tf.constant(three, tf.float32)).numpy()[0]
    m7, sd7 = g.strokes[1, 2:]
    assert (m7 - 65.0) / sd7 > 3.5  # over three spreads short of a 7's length, none of a 3's
    s3 = g.corrected(tf.constant(three, tf.float32), tf.constant([65.0])).numpy()[0]
    s7 = g.corrected(tf.constant(seven, tf.float32), tf.constant([65.0])).numpy()[0]
    assert s3 == pytest.approx((d3 - g.strokes[0, 0]) / g.strokes[0, 1], rel=1e-4, abs=1e-4)
    d7 = g.distance(tf.constant(seven, tf.float32)).numpy()[0]
    assert s7 == pytest.approx((d7 - g.strokes[1, 0]) / g.strokes[1, 1] + (m7 - 65.0) / sd7,
                               rel=1e-4)
