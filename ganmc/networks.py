"""The networks of each preset: generator G, discriminator D and encoder E.

The ``dcgan`` networks are sized for a 2-core CPU (about 0.25 M parameters in G, 37 k in D):
on MNIST a small DCGAN learns the digits well, and its transposed convolutions dominate
the cost of every training step and Monte Carlo sample. ``dcgan-deep`` has the same G and E
and a third convolution in D (167 k parameters): its features, 4 x 4 x 128, know the digits'
shapes better (one-class AUROC, docs/benchmarks.md) at about twice the time a step.

Only the maths lives here; training is in :mod:`ganmc.gan`. Images are float32
(N, 28, 28, 1) in [-1, 1]; D outputs a logit (higher = more "real"); the layer named
``features`` is the discriminator feature layer that f-AnoGAN compares.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from ganmc.density import FeatureGaussian
from ganmc.errors import ConfigError

IMAGE_SHAPE = (28, 28, 1)
#: The convolutions (filters, each 4 x 4 with stride 2) of the convolutional networks' D; E
#: has the first two.
D_CONVS = {"dcgan": (32, 64), "dcgan-deep": (32, 64, 128)}
FEATURES = "features"
#: The self-supervised task (SS-GAN, Chen et al. 2019): D's head tells which of these quarter
#: turns (0, 90, 180, 270 degrees) was applied to an image.
ROTATIONS = 4


def build_generator(arch: str, latent_dim: int, dtype: str | None = None) -> keras.Model:
    """G: z (latent_dim,) -> image (28, 28, 1) in [-1, 1].

    ``dtype`` is a Keras dtype policy for the hidden layers (e.g. ``mixed_bfloat16``); the
    output layer always computes in float32.
    """
    dt = {"dtype": dtype} if dtype else {}
    z = keras.Input((latent_dim,), name="z")
    if arch == "mlp":  # the seed notebook's generator: 100 -> 128 -> 256 -> 512 -> 784, tanh
        h = z
        for i, units in enumerate((128, 256, 512)):
            h = layers.Dense(units, name=f"g_dense{i}", **dt)(h)
            h = layers.LeakyReLU(0.2, name=f"g_act{i}", **dt)(h)
        h = layers.Dense(784, activation="tanh", name="g_out", dtype="float32")(h)
        out = layers.Reshape(IMAGE_SHAPE, name="g_image", dtype="float32")(h)
    elif arch in D_CONVS:
        h = layers.Dense(7 * 7 * 64, use_bias=False, name="g_dense", **dt)(z)
        h = layers.BatchNormalization(momentum=0.9, name="g_bn0", **dt)(h)
        h = layers.LeakyReLU(0.2, name="g_act0", **dt)(h)
        h = layers.Reshape((7, 7, 64), name="g_reshape", **dt)(h)
        h = layers.Conv2DTranspose(32, 4, strides=2, padding="same", use_bias=False,
                                   name="g_up1", **dt)(h)
        h = layers.LeakyReLU(0.2, name="g_act1", **dt)(
            layers.BatchNormalization(momentum=0.9, name="g_bn1", **dt)(h))
        out = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",
                                     name="g_out", dtype="float32")(h)
    else:
        raise ConfigError(f"unknown arch {arch!r}")
    return keras.Model(z, out, name="generator")


def _trunk(arch: str, x, prefix: str, dt: dict, convs: tuple[int, ...] = D_CONVS["dcgan"]):
    """The shared shape of D's and E's bodies (each has its own weights); ``convs``: the
    convolutions' filters."""
    if arch == "mlp":
        h = layers.Flatten(name=f"{prefix}_flat", **dt)(x)
        for i, units in enumerate((512, 256)):
            h = layers.LeakyReLU(0.2, name=f"{prefix}_act{i}", **dt)(
                layers.Dense(units, name=f"{prefix}_dense{i}", **dt)(h))
        return h
    if arch in D_CONVS:
        h = x
        for i, filters in enumerate(convs):
            h = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"{prefix}_conv{i}",
                              **dt)(h)
            h = layers.LeakyReLU(0.2, name=f"{prefix}_act{i}", **dt)(h)
        return h
    raise ConfigError(f"unknown arch {arch!r}")


def build_discriminator(arch: str, dtype: str | None = None) -> keras.Model:
    """D: image -> logit (higher = judged more real); the ``features`` layer feeds f-AnoGAN."""
    dt = {"dtype": dtype} if dtype else {}
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = _trunk(arch, x, "d", dt, D_CONVS.get(arch, ()))
    if arch == "mlp":  # the seed notebook's discriminator: 784 -> 512 -> 256 -> 128 -> 1
        h = layers.LeakyReLU(0.2, name=FEATURES, **dt)(layers.Dense(128, name="d_dense2", **dt)(h))
    else:
        h = layers.Flatten(name=FEATURES, **dt)(h)
    logit = layers.Dense(1, name="logit", dtype="float32")(h)
    return keras.Model(x, logit, name="discriminator")


def build_encoder(arch: str, latent_dim: int, dtype: str | None = None) -> keras.Model:
    """E: image -> z, trained so that G(E(x)) reconstructs x (f-AnoGAN)."""
    dt = {"dtype": dtype} if dtype else {}
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = _trunk(arch, x, "e", dt)
    if arch in D_CONVS:
        h = layers.Flatten(name="e_flat", **dt)(h)
    z = layers.Dense(latent_dim, name="z", dtype="float32")(h)
    return keras.Model(x, z, name="encoder")


def rotation_head(discriminator: keras.Model) -> keras.Model:
    """The self-supervised head: D's features -> logits of the quarter turn applied, one per
    turn in :data:`ROTATIONS`."""
    shape = discriminator.get_layer(FEATURES).output.shape[1:]
    f = keras.Input(shape, name="features")
    return keras.Model(f, layers.Dense(ROTATIONS, name="rotation", dtype="float32")(f),
                       name="rotation_head")


def feature_model(discriminator: keras.Model) -> keras.Model:
    """D as image -> (features, logit): one pass gives both."""
    return keras.Model(
        discriminator.inputs[0],  # one tensor, not a list: callers pass a batch, not [batch]
        [discriminator.get_layer(FEATURES).output, discriminator.outputs[0]],
        name="discriminator_features",
    )


@dataclass
class Networks:
    """The trained networks a scorer may use, and the Gaussian over D's features."""

    generator: keras.Model
    discriminator: keras.Model
    encoder: keras.Model | None = None
    density: FeatureGaussian | None = None

    def __post_init__(self) -> None:
        self.features = feature_model(self.discriminator)

    @property
    def strokes(self) -> FeatureGaussian | None:
        """The Gaussian when it has the stroke-length correction (``mahalanobis-strokes``)."""
        return self.density if self.density is not None and self.density.strokes is not None \
            else None

    def cast(self, dtype: str) -> Networks:
        """Copies of the networks that store their weights and compute in ``dtype``.

        ``float32`` turns mixed-precision networks back into plain ones; ``bfloat16`` gives
        fast inference copies, in which batch normalisation keeps float32 (those layers take
        and give float32; the next layer casts back). Scores are cast to float32 by
        :func:`score_graph`. The copies do not rely on Keras' mixed-precision autocasting,
        whose per-thread scope a host application can wipe from under a running thread
        (Streamlit's end-of-run ``clear_session`` did, in a dashboard Monte Carlo job: a
        float32 kernel met bfloat16 inputs): with the weights already in the compute type
        there is nothing left to cast.
        """
        def policy(layer: keras.layers.Layer) -> str:
            return ("float32" if isinstance(layer, keras.layers.BatchNormalization) else dtype)

        def clone(model: keras.Model | None) -> keras.Model | None:
            if model is None:
                return None
            copy = keras.models.clone_model(model, clone_function=lambda layer: layer.__class__
                                            .from_config({**layer.get_config(),
                                                          "dtype": policy(layer)}))
            for source, target in zip(model.weights, copy.weights, strict=True):
                target.assign(tf.cast(source, target.dtype))
            return copy

        return Networks(clone(self.generator), clone(self.discriminator), clone(self.encoder),
                        self.density)
