"""Anomaly scorers: one interface, higher score = more anomalous, everywhere.

A scorer turns a batch of images (float32 (N, 28, 28, 1) in [-1, 1]) into one score per image
with TensorFlow ops only, so that the same graph scores user images and, fused behind the
generator, Monte Carlo samples.

- ``discriminator``: the seed notebook's score, D's judgement turned round: minus D's logit.
  (The seed used D's sigmoid output and flagged its low percentiles; the logit is the same
  order without saturating at 0 or 1.)
- ``fanogan``: f-AnoGAN (Schlegl et al., 2019), izi_f: the residual between x and its
  reconstruction G(E(x)), in pixels and in D's feature layer:
  mean((x - G(E(x)))^2) + kappa * mean((f(x) - f(G(E(x))))^2), kappa = 100 by default
  (see :data:`ganmc.config.DEFAULT_KAPPA`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from ganmc.config import DEFAULT_KAPPA
from ganmc.errors import ConfigError
from ganmc.networks import feature_model

SCORERS = ("fanogan", "discriminator")
DESCRIPTIONS = {
    "fanogan": "f-AnoGAN: pixel + feature residual of the reconstruction G(E(x))",
    "discriminator": "the seed's score: minus the discriminator's logit",
}


@dataclass
class Networks:
    """The trained networks a scorer may use."""

    generator: keras.Model
    discriminator: keras.Model
    encoder: keras.Model | None = None

    def __post_init__(self) -> None:
        self.features = feature_model(self.discriminator)

    def cast(self, policy: str) -> Networks:
        """Copies of the networks computing under a Keras dtype policy (``mixed_bfloat16``).

        Variables stay float32; matrix work runs in the policy's compute type. Scores are cast
        back to float32 by :func:`score_graph`.
        """
        def clone(model: keras.Model | None) -> keras.Model | None:
            if model is None:
                return None
            copy = keras.models.clone_model(model, clone_function=lambda layer: layer.__class__
                                            .from_config({**layer.get_config(), "dtype": policy}))
            copy.set_weights(model.get_weights())
            return copy

        return Networks(clone(self.generator), clone(self.discriminator), clone(self.encoder))


PRECISIONS = ("auto", "float32", "bfloat16")


def fast_bfloat16() -> bool:
    """Whether this machine computes bfloat16 fast: a GPU, or a CPU with AVX-512 BF16 / AMX."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bfloat16`` where it is fast, else ``float32``."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bfloat16" if fast_bfloat16() else "float32"
    return precision


def default_batch_size() -> int:
    """Monte Carlo batch size for the device: large on a GPU, cache-friendly on a CPU."""
    return 65_536 if tf.config.list_physical_devices("GPU") else 8192


def available(networks: Networks) -> tuple[str, ...]:
    """Names of the scorers these networks support (``fanogan`` needs an encoder)."""
    return tuple(s for s in SCORERS if s != "fanogan" or networks.encoder is not None)


def score_graph(name: str, networks: Networks, x: tf.Tensor,
                kappa: float = DEFAULT_KAPPA) -> tf.Tensor:
    """Score a batch with TensorFlow ops (traceable inside ``tf.function``).

    Args:
        name: ``"fanogan"`` or ``"discriminator"``.
        networks: The trained networks.
        x: float32 (N, 28, 28, 1) in [-1, 1].
        kappa: Feature-residual weight of ``fanogan``.

    Returns:
        float32 (N,), higher = more anomalous.
    """
    def f32(t):
        return tf.cast(t, tf.float32)

    if name == "discriminator":
        return -tf.reshape(f32(networks.discriminator(x, training=False)), [-1])
    if name == "fanogan":
        if networks.encoder is None:
            raise ConfigError("the fanogan scorer needs an encoder; this model has none")
        recon = f32(networks.generator(networks.encoder(x, training=False), training=False))
        f_x, _ = networks.features(x, training=False)
        f_r, _ = networks.features(recon, training=False)
        f_x, f_r = f32(f_x), f32(f_r)
        pixel = tf.reduce_mean(tf.square(tf.reshape(x - recon, [tf.shape(x)[0], -1])), axis=1)
        feature = tf.reduce_mean(tf.square(f_x - f_r), axis=1)
        return pixel + kappa * feature
    raise ConfigError(f"unknown scorer {name!r}; choose one of {', '.join(SCORERS)}")
