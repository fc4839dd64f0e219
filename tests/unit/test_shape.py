"""The shape network's parts that need no trained model: the style augmentation, the
outliers it is shown, its score from its logits, the photograph guard's pixel count and the
settings' defaults."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganmc.core.config import TrainConfig
from ganmc.images import outliers
from ganmc.images.augment import style
from ganmc.images.preprocess import to_mnist, to_model_input
from ganmc.scores.scoring import shape_margin, tones_count

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "photos"


def test_style_draws_each_image_again_in_a_seeded_random_hand(mnist):
    x = tf.constant(to_model_input(mnist.x_train[:64]))
    a = style(x, keras.random.SeedGenerator(3)).numpy()
    b = style(x, keras.random.SeedGenerator(3)).numpy()
    c = style(x, keras.random.SeedGenerator(4)).numpy()
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.min() >= -1.0 - 1e-6 and a.max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(a, b)  # the same seed, the same hands
    assert not np.allclose(a, c)
    moved = np.abs(a - x.numpy()).reshape(64, -1).mean(axis=1)
    assert (moved > 0.01).mean() > 0.9  # nearly every image is drawn again
    # still the same digit: ink where the digit's ink is, more than anywhere else
    ink = x.numpy() > 0
    assert (a[ink] > 0).mean() > 0.5 > (a[~ink] > 0).mean()


def test_a_wobbling_hand_moves_strokes_smoothly_by_at_most_its_reach(monkeypatch):
    from ganmc.images import augment

    for name, still in (("TURN", 0.0), ("SLANT", 0.0), ("SIZE", (0.0, 0.0)), ("ASPECT", 0.0),
                        ("SHIFT", 0.0), ("PEN", 0.0)):
        monkeypatch.setattr(augment, name, still)
    dots = np.full((64, 28, 28, 1), -1.0, np.float32)
    dots[:, 13, 13] = 1.0
    monkeypatch.setattr(augment, "WOBBLE", 0.0)
    np.testing.assert_allclose(style(tf.constant(dots), keras.random.SeedGenerator(0)).numpy(),
                               dots, atol=1e-5)  # no wobble: the image as it was
    monkeypatch.setattr(augment, "WOBBLE", 2.0)
    a = (style(tf.constant(dots), keras.random.SeedGenerator(0)).numpy()[..., 0] + 1) / 2
    yy, xx = np.mgrid[:28, :28]
    ink = a.sum(axis=(1, 2))
    moved = np.hypot((a * yy).sum(axis=(1, 2)) / ink - 13, (a * xx).sum(axis=(1, 2)) / ink - 13)
    assert moved.max() <= 2.0 * np.sqrt(2) + 1e-3  # no farther than the wobble reaches
    assert (moved > 0.25).mean() > 0.8  # and nearly every dot moves
    seed = keras.random.SeedGenerator(1)  # XLA compiles it (the mlp's training step)

    @tf.function(jit_compile=True)
    def compiled(x):
        return style(x, seed)

    assert compiled(tf.constant(dots)).shape == dots.shape


def test_the_warp_is_tensorflows_projective_transform_and_compiles_under_xla(mnist):
    """The style's resampling by gathers equals TensorFlow's bilinear projective transform,
    which XLA (the mlp's training step, every GPU step) cannot compile."""
    from ganmc.images.augment import _warp

    x = tf.constant(mnist.x_train[:16, :, :, None].astype("float32") / 255)
    rng = np.random.default_rng(0)
    inverse = np.concatenate([rng.normal(0, 0.15, (16, 4)) + [1, 0, 0, 1],
                              rng.normal(0, 1.5, (16, 2))], axis=1)[:, [0, 1, 4, 2, 3, 5]]
    inverse = tf.constant(inverse, tf.float32)
    ref = tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=tf.concat([inverse, tf.zeros((16, 2))], 1), output_shape=[28, 28],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT").numpy()
    np.testing.assert_allclose(_warp(x, inverse).numpy(), ref, atol=1e-5)
    xla = tf.function(_warp, jit_compile=True)
    np.testing.assert_allclose(xla(x, inverse).numpy(), ref, atol=1e-4)


def test_the_outliers_are_glyphs_and_pen_curves_and_never_digits():
    g = outliers.glyphs()
    assert g.dtype == np.uint8 and g.shape[1:] == (28, 28) and len(g) > 20_000
    with np.load(outliers.glyph_file()) as f:
        chars = set(f["char"].tolist())
    assert not chars & set("0123456789OoIlSsZzbgqi|")  # nothing written like a digit
    assert {"A", "K", "x", "#", "Ж", "λ"} <= chars  # letters, symbols, other scripts
    c = outliers.curves(20, seed=1)
    np.testing.assert_array_equal(c, outliers.curves(20, seed=1))
    assert not np.array_equal(c, outliers.curves(20, seed=2))
    assert (c.reshape(20, -1).max(axis=1) > 200).all()  # framed: ink at full strength
    # the curves grow with the images the shape network sees, within bounds
    # every glyph twice, as printed and pen-drawn
    assert len(outliers.training_outliers(64 * 32)) == 2 * len(g) + outliers.N_CURVES[0]
    assert len(outliers.training_outliers(64 * 32, pen=False)) == len(g) + outliers.N_CURVES[0]


def test_thinning_leaves_centre_lines_one_pixel_wide_and_unbroken():
    bars = np.zeros((2, 28, 28), bool)
    bars[0, 10:15, 4:24] = True  # a bar five pixels thick
    yy, xx = np.mgrid[:28, :28]
    r = np.hypot(yy - 13.5, xx - 13.5)
    bars[1] = (r > 6) & (r < 10)  # a thick ring
    lines = outliers.thin(bars)
    assert (lines <= bars).all()  # only takes ink away
    assert lines[0].sum(axis=0)[6:22].max() == 1  # one pixel across the bar
    assert lines[0].sum() >= 14  # ... along most of its length
    ring = lines[1]
    assert 25 < ring.sum() < bars[1].sum() / 3
    # still a ring: its inside is not connected to the outside (flood fill from a corner)
    seen = np.zeros_like(ring)
    seen[0, 0] = True
    for _ in range(60):
        grown = seen.copy()
        grown[1:] |= seen[:-1]
        grown[:-1] |= seen[1:]
        grown[:, 1:] |= seen[:, :-1]
        grown[:, :-1] |= seen[:, 1:]
        seen = grown & ~ring
    assert not seen[14, 14]


def test_pen_drawn_glyphs_keep_their_shape_with_a_pens_stroke():
    g = outliers.glyphs()[::500]
    a = outliers.pen_drawn(g, seed=1)
    np.testing.assert_array_equal(a, outliers.pen_drawn(g, seed=1))
    assert a.dtype == np.uint8 and a.shape == g.shape
    assert (a.reshape(len(a), -1).max(axis=1) == 255).all()  # full ink at the centre lines
    # the same shape: the new ink lies on or next to the glyph's
    near = np.pad(g > 127, ((0, 0), (2, 2), (2, 2)))
    near = np.stack([near[:, 2 + dy:30 + dy, 2 + dx:30 + dx] for dy in range(-2, 3)
                     for dx in range(-2, 3)]).any(axis=0)
    assert ((a > 127) & ~near).sum() / (a > 127).sum() < 0.02
    # a pen's stroke: grey only at its edges, so no photograph's tones
    assert (tones_count(to_model_input(a)).numpy() == 0).mean() > 0.95
    assert not np.array_equal(a, g)


def test_the_shape_score_is_how_much_more_an_outlier_than_any_class():
    logits = tf.constant([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 0.0, np.log(2.0)]])
    s = shape_margin(logits).numpy()
    assert s[0] < 0 < s[1]
    np.testing.assert_allclose(s[2], 0.0, atol=1e-6)  # as likely an outlier as a digit


def _blurred_stroke() -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).line([(60, 40), (200, 140), (90, 240)], fill=255, width=22)
    return to_mnist(img.filter(ImageFilter.GaussianBlur(6)))


def test_tones_count_grey_away_from_pen_strokes_not_their_blurred_edges():
    stroke = _blurred_stroke()
    assert ((stroke > 25) & (stroke < 230)).sum() > 60  # a blurred scan has many greys...
    from benchmarks.photos import photo_set

    photos, _ = photo_set(crops_per_photo=0)  # each whole (one too faint is refused)
    assert len(photos) >= 12
    counts = tones_count(to_model_input(np.concatenate([stroke[None], photos]))).numpy()
    assert counts[0] == 0  # ...all beside its ink
    assert np.median(counts[1:]) > 50  # a photograph's greys are everywhere
    assert counts.dtype == np.float32 and (counts == np.round(counts)).all()


def _tones_by_definition(x: np.ndarray) -> np.ndarray:
    """The tones count as its definition reads, pixel by pixel: grey, and no full ink in the
    square of side 2 * STROKE_REACH + 1 around it."""
    from ganmc.scores.combined import GREY_BAND, INK, STROKE_REACH

    ink = (x[..., 0].astype(np.float32) + np.float32(1)) / np.float32(2)
    full = np.pad(ink >= INK, ((0, 0), (STROKE_REACH,) * 2, (STROKE_REACH,) * 2))
    reach = 2 * STROKE_REACH + 1
    near = np.stack([full[:, dy:dy + 28, dx:dx + 28] for dy in range(reach)
                     for dx in range(reach)]).any(axis=0)
    grey = (ink > GREY_BAND[0]) & (ink < GREY_BAND[1])
    return (grey & ~near).reshape(len(x), -1).sum(axis=1).astype(np.float32)


def test_tones_count_is_its_definition_compiled_or_not(mnist):
    """The count takes the largest value around each pixel by rows then columns, and the
    Monte Carlo samplers run it XLA-compiled: both are the pixel-by-pixel definition, on
    digits, blurred strokes, photographs and values right at the band's and the ink's
    edges."""
    from benchmarks.photos import photo_set

    photos, _ = photo_set(crops_per_photo=1)
    rng = np.random.default_rng(0)
    edges = np.float32([0.1, 0.9]) * 2 - 1  # GREY_BAND's and INK's values as model input
    edgy = rng.choice(np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -2),
                                      np.float32([-1, 1, 0])]), (40, 28, 28, 1))
    x = np.concatenate([to_model_input(np.concatenate([mnist.x_test[:200], photos,
                                                       _blurred_stroke()[None]])),
                        edgy.astype(np.float32)])
    want = _tones_by_definition(x)
    assert (want > 0).sum() > 40 and (want == 0).sum() > 100  # both kinds in the set
    np.testing.assert_array_equal(tones_count(tf.constant(x)).numpy(), want)
    np.testing.assert_array_equal(tones_count(tf.constant(x), compiled=True).numpy(), want)


def test_the_shape_network_is_on_by_default_and_off_for_cards_made_before_it():
    assert TrainConfig().shape_weight == 1.0
    old = TrainConfig(shape_weight=0.0).to_dict()
    del old["shape_weight"]
    assert TrainConfig.from_dict(old).shape_weight == 0.0
    assert TrainConfig.from_dict(TrainConfig().to_dict()).shape_weight == 1.0
    with pytest.raises(Exception, match="shape_weight"):
        TrainConfig(shape_weight=-1.0)
    # one digit, or named classes (the user's own pictures): no shape network
    assert TrainConfig(digits=(3,)).shape_weight == 0.0
    assert TrainConfig(classes=("cat", "dog"), digits=(0, 1)).shape_weight == 0.0


@pytest.mark.slow
def test_the_encoder_learns_after_a_gan_with_a_shape_network(mnist):
    """The encoder is given the images alone (the GAN's batches carry their classes and the
    outliers beside them); a run with both used to fail at the encoder's first step."""
    from ganmc.nets.train import fit_networks

    keep = np.isin(mnist.y_train, (1, 7))
    x, y = mnist.x_train[keep][:128], mnist.y_train[keep][:128]
    config = TrainConfig(digits=(1, 7), steps=4, encoder_steps=4, batch_size=16, seed=0)
    assert config.shape_weight == 1.0
    result = fit_networks(x, config, classes=np.searchsorted([1, 7], y))
    assert result.shape is not None and result.encoder is not None
    assert result.encoder(to_model_input(x[:2])).shape == (2, config.latent_dim)
