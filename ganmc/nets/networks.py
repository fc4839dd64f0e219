"""The networks of each preset: generator G, discriminator D and encoder E.

The ``dcgan`` networks are sized for a 2-core CPU (about 0.25 M parameters in G, 37 k in D):
on MNIST a small DCGAN learns the digits well, and its transposed convolutions dominate
the cost of every training step and Monte Carlo sample. ``dcgan-deep`` has the same G and E
and a third convolution in D (167 k parameters): its features, 4 x 4 x 128, know the digits'
shapes better (one-class AUROC, docs/benchmarks.md) at about twice the time a step.

Only the maths lives here; training is in :mod:`ganmc.nets.gan`. Images are float32
(N, 28, 28, 1) in [-1, 1]; D outputs a logit (higher = more "real"); the layer named
``features`` is the discriminator feature layer that f-AnoGAN compares.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import keras
import tensorflow as tf
from keras import layers

from ganmc.core.errors import ConfigError
from ganmc.nets.density import FeatureGaussian

IMAGE_SHAPE = (28, 28, 1)
#: The convolutions (filters, each 4 x 4 with stride 2) of the convolutional networks' D; E
#: has the first two.
D_CONVS = {"dcgan": (32, 64), "dcgan-deep": (32, 64, 128)}
FEATURES = "features"
#: The shape network's feature layer (the per-digit Gaussian of the ``shape`` views is over it).
SHAPE_FEATURES = "shape_features"
#: The shape network's convolutions (filters; 4 x 4, 4 x 4 and 3 x 3, each of stride 2) and
#: the width of its feature layer: as good as twice the filters on the sets of ``python -m
#: benchmarks.shape`` at a quarter of the arithmetic (``python -m research.shape_probe``).
SHAPE_CONVS = (16, 32, 64)
SHAPE_WIDTH = 128
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


def build_shape(n_classes: int, dtype: str | None = None,
                convs: tuple[int, ...] = SHAPE_CONVS) -> keras.Model:
    """The shape network S: image -> (features, logits), one logit for each of the ``n_classes``
    normal classes (the digits, or one class without labels) and a last one for "not a normal
    image". Trained beside the GAN on style-augmented digits against the outliers of
    :mod:`ganmc.images.outliers` (:class:`ganmc.nets.gan.GAN`); the ``shape`` score is how much
    more it takes an image for an outlier than for any normal class. ``convs``: the convolutions'
    filters (``python -m research.shape_probe`` compares sizes)."""
    dt = {"dtype": dtype} if dtype else {}
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = x
    for i, (filters, size) in enumerate(zip(convs, (4, 4, 3))):
        h = layers.Conv2D(filters, size, strides=2, padding="same", name=f"s_conv{i}", **dt)(h)
        h = layers.LeakyReLU(0.2, name=f"s_act{i}", **dt)(h)
    h = layers.Flatten(name="s_flat", **dt)(h)
    f = layers.LeakyReLU(0.2, name=SHAPE_FEATURES, **dt)(
        layers.Dense(SHAPE_WIDTH, name="s_dense", **dt)(h))
    logits = layers.Dense(n_classes + 1, name="s_logits", dtype="float32")(f)
    return keras.Model(x, [f, logits], name="shape")


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


class BFloat16Dense(layers.Dense):
    """A dense layer of a bfloat16 inference copy (:meth:`Networks.cast`).

    The product runs in bfloat16 (oneDNN; AMX or AVX-512 BF16 on a CPU). The bias and the
    activation run in float32, in one XLA-compiled pass (:func:`_finish`) that reads the
    product once and writes the output once. A LeakyReLU that followed the layer is folded
    in (``negative_slope``) and its output is bfloat16, ready for the next product;
    otherwise the output is float32 (a network's output, or batch normalisation's input).
    TensorFlow's own bfloat16 bias-add and LeakyReLU kernels are slow on a CPU, and the same
    steps as separate float32 ops cost four passes over the activations: this layout runs
    the mlp's bfloat16 Monte Carlo about 1.6 times as fast (``python -m benchmarks.speed``).
    The weights stay float32; inputs are not autocast (the layer casts them itself).
    """

    def __init__(self, *args, negative_slope: float | None = None, **kwargs):
        super().__init__(*args, autocast=False, **kwargs)
        self.negative_slope = negative_slope

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}

    def call(self, inputs, training=None):
        x = tf.matmul(tf.cast(inputs, tf.bfloat16), tf.cast(self.kernel, tf.bfloat16))
        activation = keras.activations.serialize(self.activation)
        return _finish(activation, self.negative_slope)(
            x, tf.zeros([self.units]) if self.bias is None else self.bias.value)


@functools.cache
def _finish(activation: str, negative_slope: float | None):
    """The XLA-compiled ``(bfloat16 product, float32 bias) -> output`` of a
    :class:`BFloat16Dense`: bias and activation in float32, then LeakyReLU (``negative_slope``)
    and a bfloat16 output, or float32 without it."""
    act = keras.activations.get(activation)

    @tf.function(jit_compile=True, autograph=False)
    def finish(product, bias):
        y = act(tf.nn.bias_add(tf.cast(product, tf.float32), bias))
        if negative_slope is None:
            return y
        return tf.cast(tf.nn.leaky_relu(y, negative_slope), tf.bfloat16)

    return finish


#: The layers that compute in bfloat16 in a bfloat16 inference copy, besides
#: :class:`BFloat16Dense` and the activations that follow them (:func:`_bfloat16_layout`);
#: every other layer (batch normalisation, reshapes) computes in float32.
_BFLOAT16_PRODUCTS = (layers.Conv2D, layers.Conv2DTranspose)


def _source(layer: keras.layers.Layer) -> keras.layers.Layer | None:
    """The one layer whose output ``layer`` takes (None for several or none)."""
    parents = layer._inbound_nodes[0].parent_nodes if layer._inbound_nodes else []
    return parents[0].operation if len(parents) == 1 else None


def _bfloat16_layout(model: keras.Model) -> tuple[dict[str, float], set[str]]:
    """How a bfloat16 copy of ``model`` treats its LeakyReLU layers, each by what it follows.

    After a dense layer (linear, with no other reader) it is folded into that layer's
    float32 epilogue (:class:`BFloat16Dense`): the first result maps both layers' names to
    the slope, and the LeakyReLU is kept as an identity under its own name (so
    ``features`` is still found). After a convolution it computes in bfloat16: oneDNN fuses
    a bfloat16 convolution, its bias and its LeakyReLU (measured: D's convolutions run 1.7
    times as fast as with a float32 LeakyReLU); those names are the second result. After
    anything else (batch normalisation) it computes in float32, like its input.
    """
    folded, low = {}, set()
    for layer in model.layers:
        source = _source(layer) if isinstance(layer, layers.LeakyReLU) else None
        if isinstance(source, _BFLOAT16_PRODUCTS):
            low.add(layer.name)
        elif (isinstance(source, layers.Dense) and len(source._outbound_nodes) == 1
              and keras.activations.serialize(source.activation) == "linear"):
            folded[source.name] = folded[layer.name] = float(layer.negative_slope)
    return folded, low


@dataclass
class Networks:
    """The trained networks a scorer may use, and the Gaussian over D's features."""

    generator: keras.Model
    discriminator: keras.Model
    encoder: keras.Model | None = None
    density: FeatureGaussian | None = None
    #: The shape network (:func:`build_shape`) and the Gaussian over its features, one per
    #: normal class (None for a model trained without it).
    shape: keras.Model | None = None
    shape_density: FeatureGaussian | None = None

    def __post_init__(self) -> None:
        self.features = feature_model(self.discriminator)

    @property
    def per_digit(self) -> bool:
        """Whether each image is taken for one of several digits (the shape network's
        classes, or per-digit Gaussians over D's features): then thresholds can be per
        digit."""
        return any(g is not None and g.per_digit for g in (self.shape_density, self.density))

    @property
    def strokes(self) -> FeatureGaussian | None:
        """The Gaussian when it has the stroke-length correction (``mahalanobis-strokes``)."""
        return self.density if self.density is not None and self.density.strokes is not None \
            else None

    def cast(self, dtype: str) -> Networks:
        """Copies of the networks that compute in ``dtype``, for inference.

        ``float32`` turns mixed-precision networks back into plain ones. ``bfloat16`` gives
        fast inference copies, laid out for speed on a CPU with AVX-512 BF16 or AMX
        (``python -m benchmarks.speed``): matrix products and convolutions in bfloat16; a
        dense layer's bias and activation in float32 (:class:`BFloat16Dense`); a LeakyReLU
        after a convolution in bfloat16 and elsewhere as :func:`_bfloat16_layout` says;
        batch normalisation and reshapes in float32. Scores are cast to float32 by
        :func:`score_graph`, and the Gaussian's products run in bfloat16 too
        (:attr:`ganmc.nets.density.FeatureGaussian.product_dtype`). A copy cannot be cast again.

        The copies do not rely on Keras' mixed-precision autocasting, whose per-thread scope
        a host application can wipe from under a running thread (Streamlit's end-of-run
        ``clear_session`` did, in a dashboard Monte Carlo job: a float32 kernel met bfloat16
        inputs): each layer's weights are already in the type it computes in, or cast by the
        layer itself.
        """
        def clone(model: keras.Model | None) -> keras.Model | None:
            if model is None:
                return None
            if any(isinstance(layer, BFloat16Dense) for layer in model.layers):
                raise ValueError("a bfloat16 inference copy folds layers together and "
                                 "cannot be cast again; cast the original networks")
            folded, after_convolution = (_bfloat16_layout(model) if dtype == "bfloat16"
                                         else ({}, set()))

            def copy_of(layer: keras.layers.Layer) -> keras.layers.Layer:
                config = layer.get_config()
                if isinstance(layer, layers.Dense):
                    if dtype != "bfloat16":
                        return layers.Dense.from_config({**config, "dtype": "float32"})
                    return BFloat16Dense.from_config({**config, "dtype": "float32",
                                                      "negative_slope": folded.get(layer.name)})
                if layer.name in folded:  # its slope is in the dense layer before it
                    return layers.Identity(name=layer.name, autocast=False)
                low = dtype == "bfloat16" and (isinstance(layer, _BFLOAT16_PRODUCTS)
                                               or layer.name in after_convolution)
                return layer.__class__.from_config({**config,
                                                    "dtype": "bfloat16" if low else "float32"})

            copy = keras.models.clone_model(model, clone_function=copy_of)
            for source, target in zip(model.weights, copy.weights, strict=True):
                target.assign(tf.cast(source, target.dtype))
            return copy

        def gaussian(g: FeatureGaussian | None) -> FeatureGaussian | None:
            return None if g is None else replace(g, product_dtype=dtype)

        return Networks(clone(self.generator), clone(self.discriminator), clone(self.encoder),
                        gaussian(self.density), clone(self.shape),
                        gaussian(self.shape_density))
