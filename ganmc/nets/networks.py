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
    product once and writes the output once. A batch normalisation and a LeakyReLU that
    followed the layer are folded in (:func:`_fusions`: the normalisation into the kernel and
    the bias, the LeakyReLU as ``negative_slope``) and its output is then bfloat16, ready for
    the next product; otherwise the output is float32 (a network's output). TensorFlow's own
    bfloat16 bias-add and LeakyReLU kernels are slow on a CPU, and the same steps as separate
    float32 ops cost four passes over the activations: this layout runs the mlp's bfloat16
    Monte Carlo about 1.6 times as fast (``python -m benchmarks.speed``). The weights stay
    float32; inputs are not autocast (the layer casts them itself).
    """

    def __init__(self, *args, negative_slope: float | None = None, **kwargs):
        super().__init__(*args, autocast=False, **kwargs)
        self.negative_slope = negative_slope

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}

    def call(self, inputs, training=None):
        x = tf.matmul(tf.cast(inputs, tf.bfloat16), tf.cast(self.kernel, tf.bfloat16))
        return _finish_layer(self, x)


class BFloat16Conv2DTranspose(layers.Conv2DTranspose):
    """A transposed convolution of a bfloat16 inference copy, laid out as
    :class:`BFloat16Dense`: the product in bfloat16, then the bias, the activation and a
    folded LeakyReLU in one XLA pass. G's batch normalisations fold into it, so G's
    activations are read and written once between two products, in bfloat16, where a
    float32 normalisation and LeakyReLU took three passes of twice the bytes (the shipped
    model's G about 1.25 times as fast, ``python -m benchmarks.speed``)."""

    def __init__(self, *args, negative_slope: float | None = None, **kwargs):
        super().__init__(*args, autocast=False, **kwargs)
        self.negative_slope = negative_slope

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}

    def call(self, inputs):
        x = keras.ops.conv_transpose(
            tf.cast(inputs, tf.bfloat16), tf.cast(self.kernel, tf.bfloat16),
            strides=list(self.strides), padding=self.padding,
            output_padding=self.output_padding, dilation_rate=self.dilation_rate,
            data_format=self.data_format)
        return _finish_layer(self, x)


def _finish_layer(layer, product: tf.Tensor) -> tf.Tensor:
    """A bfloat16 product layer's epilogue: its bias (zeros without one), activation and
    folded LeakyReLU, by :func:`_finish`."""
    bias = tf.zeros([product.shape[-1]]) if layer.bias is None else layer.bias.value
    activation = keras.activations.serialize(layer.activation)
    return _finish(activation, layer.negative_slope)(product, bias)


@functools.cache
def _finish(activation: str, negative_slope: float | None):
    """The XLA-compiled ``(bfloat16 product, float32 bias) -> output`` of a bfloat16 product
    layer: bias and activation in float32, then LeakyReLU (``negative_slope``) and a
    bfloat16 output, or float32 without it. The bias is on the last axis (channels last)."""
    act = keras.activations.get(activation)

    @tf.function(jit_compile=True, autograph=False)
    def finish(product, bias):
        y = act(tf.nn.bias_add(tf.cast(product, tf.float32), bias))
        if negative_slope is None:
            return y
        return tf.cast(tf.nn.leaky_relu(y, negative_slope), tf.bfloat16)

    return finish


#: The product layers that a bfloat16 inference copy replaces with one of its own, which
#: folds in the batch normalisation and LeakyReLU that follow (:func:`_fusions`).
_FUSED = {layers.Dense: BFloat16Dense, layers.Conv2DTranspose: BFloat16Conv2DTranspose}
#: The layers that compute in bfloat16 in a bfloat16 inference copy, besides the fused
#: ones and what :func:`_fusions` says; every other layer computes in float32.
_BFLOAT16_PRODUCTS = (layers.Conv2D,)


def _source(layer: keras.layers.Layer) -> keras.layers.Layer | None:
    """The one layer whose output ``layer`` takes (None for several or none)."""
    parents = layer._inbound_nodes[0].parent_nodes if layer._inbound_nodes else []
    return parents[0].operation if len(parents) == 1 else None


def _only_reader(layer: keras.layers.Layer) -> keras.layers.Layer | None:
    """The one layer that takes ``layer``'s output (None for several or none)."""
    return layer._outbound_nodes[0].operation if len(layer._outbound_nodes) == 1 else None


class _Folded(layers.Identity):
    """A layer of a bfloat16 inference copy folded into the product before it: its output
    is its input (kept under its own name, so ``features`` is still found)."""

    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_spec(self, inputs, training=None, mask=None):
        return super().compute_output_spec(inputs)


@dataclass
class _Fusion:
    """What a bfloat16 copy folds into one product layer (:func:`_fusions`)."""

    norm: layers.BatchNormalization | None = None
    slope: float | None = None


def _fusions(model: keras.Model) -> tuple[dict[str, _Fusion], set[str], set[str]]:
    """How a bfloat16 copy of ``model`` lays out its layers.

    Each dense layer and transposed convolution becomes its :data:`_FUSED` layer. A batch
    normalisation that alone reads a linear one is folded into its kernel and bias (at
    inference it is a scale and a shift of each channel), and a LeakyReLU that alone reads
    it (or that normalisation) into its epilogue; the first result holds these by product,
    the second names the folded layers (kept as identities under their own names, so
    ``features`` is still found). A LeakyReLU after a convolution computes in bfloat16:
    oneDNN fuses a bfloat16 convolution, its bias and its LeakyReLU (measured: D's
    convolutions run 1.7 times as fast as with a float32 LeakyReLU); so does a reshape of a
    product's bfloat16 output; those names are the third result. Anything else computes in
    float32, like its input.
    """
    fusions, folded, low = {}, set(), set()
    for layer in model.layers:
        if type(layer) not in _FUSED:
            continue
        fusion = _Fusion()
        reader = _only_reader(layer)
        if (isinstance(reader, layers.BatchNormalization)
                and keras.activations.serialize(layer.activation) == "linear"
                and reader.axis in (-1, len(reader.input.shape) - 1)):
            fusion.norm = reader
            reader = _only_reader(reader)
        if (isinstance(reader, layers.LeakyReLU)
                and keras.activations.serialize(layer.activation) == "linear"):
            fusion.slope = float(reader.negative_slope)
            folded.add(reader.name)
            reader = _only_reader(reader)
            if isinstance(reader, layers.Reshape):
                low.add(reader.name)
        if fusion.norm is not None:
            folded.add(fusion.norm.name)
        fusions[layer.name] = fusion
    for layer in model.layers:
        if isinstance(layer, layers.LeakyReLU) and isinstance(_source(layer), layers.Conv2D):
            low.add(layer.name)
    return fusions, folded, low


def _folded_weights(layer: keras.layers.Layer, norm: layers.BatchNormalization | None
                    ) -> list:
    """A product layer's kernel and bias with the batch normalisation after it folded in:
    ``norm(K x + b) = (s K) x + s (b - mean) + beta``, ``s = gamma / sqrt(var + eps)`` for
    each output channel (the kernel's last axis for a dense layer, the one before it for a
    transposed convolution)."""
    kernel = tf.convert_to_tensor(layer.kernel, tf.float32)
    bias = (tf.convert_to_tensor(layer.bias, tf.float32) if layer.bias is not None
            else tf.zeros([kernel.shape[-1] if isinstance(layer, layers.Dense)
                           else kernel.shape[-2]]))
    if norm is None:
        return [kernel, bias]
    gamma = norm.gamma if norm.scale else 1.0
    beta = norm.beta if norm.center else 0.0
    s = gamma / tf.sqrt(tf.convert_to_tensor(norm.moving_variance) + norm.epsilon)
    shift = (bias - norm.moving_mean) * s + beta
    if isinstance(layer, layers.Conv2DTranspose):
        s = s[:, None]
    return [kernel * s, shift]


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
        dense layer's and a transposed convolution's bias and activation in float32, with
        the batch normalisation and LeakyReLU that follow folded in (:func:`_fusions`); a
        LeakyReLU after a convolution in bfloat16; other layers in float32. Scores are cast
        to float32 by :func:`score_graph`, and the Gaussian's products run in bfloat16 too
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
            if any(type(layer) in _FUSED.values() for layer in model.layers):
                raise ValueError("a bfloat16 inference copy folds layers together and "
                                 "cannot be cast again; cast the original networks")
            fusions, folded, low = (_fusions(model) if dtype == "bfloat16"
                                    else ({}, set(), set()))

            def copy_of(layer: keras.layers.Layer) -> keras.layers.Layer:
                config = layer.get_config()
                if layer.name in fusions:
                    fusion = fusions[layer.name]
                    return _FUSED[type(layer)].from_config(
                        {**config, "dtype": "float32", "negative_slope": fusion.slope,
                         "use_bias": config["use_bias"] or fusion.norm is not None})
                if isinstance(layer, layers.Dense):
                    return layers.Dense.from_config({**config, "dtype": "float32"})
                if layer.name in folded:
                    return _Folded(name=layer.name)
                bf16 = dtype == "bfloat16" and (isinstance(layer, _BFLOAT16_PRODUCTS)
                                                or layer.name in low)
                return layer.__class__.from_config({**config,
                                                    "dtype": "bfloat16" if bf16 else "float32"})

            copy = keras.models.clone_model(model, clone_function=copy_of)
            for source, target in zip(model.layers, copy.layers, strict=True):
                if source.name in folded:  # its weights are in its product's
                    continue
                weights = (_folded_weights(source, fusions[source.name].norm)
                           if source.name in fusions else source.weights)
                for w, v in zip(target.weights, weights, strict=True):
                    w.assign(tf.cast(v, w.dtype))
            return copy

        def gaussian(g: FeatureGaussian | None) -> FeatureGaussian | None:
            return None if g is None else replace(g, product_dtype=dtype)

        return Networks(clone(self.generator), clone(self.discriminator), clone(self.encoder),
                        gaussian(self.density), clone(self.shape),
                        gaussian(self.shape_density))
