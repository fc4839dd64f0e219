"""The two training models, in the keras-io custom ``train_step`` pattern.

:class:`GAN` trains G and D against each other (non-saturating loss, logits).
:class:`EncoderTrainer` then trains E with G and D frozen, the f-AnoGAN "izi_f" recipe:
minimise ||x - G(E(x))||^2 + kappa * ||f(x) - f(G(E(x)))||^2 over real images x.
Every random draw goes through a ``keras.random.SeedGenerator``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from ganmc.config import DEFAULT_KAPPA
from ganmc.networks import feature_model


def _bce(logits, label: float):
    """Mean binary cross-entropy of logits against one label, over this replica's batch.

    The functional loss, not ``keras.losses.BinaryCrossentropy``: that class already divides
    by the number of replicas under ``tf.distribute``, and the train steps scale explicitly.
    """
    return ops.mean(keras.losses.binary_crossentropy(ops.full_like(logits, label), logits,
                                                     from_logits=True))


class GAN(keras.Model):
    """Generator and discriminator trained adversarially.

    Args:
        generator: G, z -> image.
        discriminator: D, image -> logit.
        latent_dim: Size of z.
        seed: Seed of the latent draws.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compile(self, d_optimizer: keras.optimizers.Optimizer,
                g_optimizer: keras.optimizers.Optimizer, **kwargs) -> None:
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Create the optimizers' slots now, outside any compiled (XLA, distributed) step.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker,
                self.d_fake_tracker]

    def call(self, images, training=False):
        """D's logits for a batch of the training data (fit builds the model by calling it)."""
        return self.discriminator(images, training=training)

    def train_step(self, real_images):
        # Under tf.distribute each replica sees its share of the global batch and the
        # optimizer sums the replicas' gradients: scale each replica's mean loss by 1/replicas
        # so the update is that of the mean over the global batch.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = ops.shape(real_images)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)

        # One generator pass serves both updates (as in PyTorch's DCGAN example): the
        # generator's tape records it, pauses for the discriminator's update, then records D's
        # judgement of the same fakes by the updated D.
        with tf.GradientTape() as g_tape:
            fake_images = self.generator(z, training=True)
            with g_tape.stop_recording():
                # Discriminator: real -> 1, fake -> 0.
                with tf.GradientTape() as d_tape:
                    # One pass over real and fake together: fewer, larger matrix products. D
                    # has no batch statistics (no BatchNorm), so this equals two passes.
                    logits = self.discriminator(ops.concatenate([real_images, fake_images], 0),
                                                training=True)
                    real_logits, fake_logits = logits[:batch], logits[batch:]
                    d_loss = _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
                    scaled = d_loss / replicas
                grads = d_tape.gradient(scaled, self.discriminator.trainable_weights)
                self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            # Generator: make the updated D call the fakes real (non-saturating loss).
            logits = self.discriminator(fake_images, training=True)
            g_loss = _bce(logits, 1.0)
            scaled = g_loss / replicas
        grads = g_tape.gradient(scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        return {m.name: m.result() for m in self.metrics}


class EncoderTrainer(keras.Model):
    """Trains the encoder E so that G(E(x)) reproduces x, with G and D frozen (izi_f).

    Args:
        encoder: E, image -> z (trained).
        generator: G (frozen).
        discriminator: D (frozen); its ``features`` layer gives f.
        kappa: Weight of the feature residual.
    """

    def __init__(self, encoder: keras.Model, generator: keras.Model,
                 discriminator: keras.Model, kappa: float = DEFAULT_KAPPA, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.generator = generator
        self.features = feature_model(discriminator)
        self.kappa = kappa

    def compile(self, optimizer: keras.optimizers.Optimizer, **kwargs) -> None:
        super().compile(**kwargs)
        self.e_optimizer = optimizer
        optimizer.build(self.encoder.trainable_variables)  # slots outside compiled steps
        self.loss_tracker = keras.metrics.Mean(name="e_loss")
        self.pixel_tracker = keras.metrics.Mean(name="pixel_loss")
        self.feature_tracker = keras.metrics.Mean(name="feature_loss")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.pixel_tracker, self.feature_tracker]

    def call(self, x, training=False):
        return self.generator(self.encoder(x, training=training), training=False)

    def train_step(self, images):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # see GAN.train_step
        with tf.GradientTape() as tape:
            recon = ops.cast(self.generator(self.encoder(images, training=True), training=False),
                             "float32")
            f_real, _ = self.features(images, training=False)
            f_recon, _ = self.features(recon, training=False)
            pixel = ops.mean(ops.square(images - recon))
            feature = ops.mean(ops.square(ops.cast(f_real, "float32") - ops.cast(f_recon,
                                                                                 "float32")))
            loss = pixel + self.kappa * feature
            scaled = loss / replicas
        grads = tape.gradient(scaled, self.encoder.trainable_weights)
        self.e_optimizer.apply_gradients(zip(grads, self.encoder.trainable_weights))
        self.loss_tracker.update_state(loss)
        self.pixel_tracker.update_state(pixel)
        self.feature_tracker.update_state(feature)
        return {m.name: m.result() for m in self.metrics}
