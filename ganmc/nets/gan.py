"""The two training models, in the keras-io custom ``train_step`` pattern.

:class:`GAN` trains G and D against each other (non-saturating loss, logits).
:class:`EncoderTrainer` then trains E with G and D frozen, the f-AnoGAN "izi_f" recipe:
minimise ||x - G(E(x))||^2 + kappa * ||f(x) - f(G(E(x)))||^2 over real images x.
Every random draw goes through a ``keras.random.SeedGenerator``.
"""

from __future__ import annotations

import itertools

import keras
import tensorflow as tf
from keras import ops

from ganmc.core.config import DEFAULT_KAPPA
from ganmc.core.presets import TASKS
from ganmc.images.augment import style
from ganmc.nets.networks import ROTATIONS, feature_model

#: Weight of G's share of the rotation task, relative to D's (SS-GAN's alpha / beta).
G_ROTATION_SHARE = 0.2


def rotate(images, k):
    """Each image of a batch (N, 28, 28, 1) turned by ``k[i]`` quarter turns."""
    turns = ops.stack([images] + [tf.image.rot90(images, i) for i in range(1, ROTATIONS)], 1)
    return tf.gather(turns, k, batch_dims=1)


#: Every order of an image's four quarters but its own (23).
JIGSAW_ORDERS = [list(p) for p in itertools.permutations(range(4)) if p != (0, 1, 2, 3)]


def jigsaw(images, seed_generator):
    """Pseudo-anomalies: each image of a batch (N, 28, 28, 1) cut into its four quadrants and
    put back in a random other order (the "jigsaw" of negative data augmentation, Sinha et
    al. 2021). The strokes stay digit strokes; the shape is no longer a digit."""
    n = ops.shape(images)[0]
    h, w = ops.shape(images)[1] // 2, ops.shape(images)[2] // 2
    quads = ops.stack([images[:, :h, :w], images[:, :h, w:], images[:, h:, :w],
                       images[:, h:, w:]], 1)
    order = tf.gather(tf.constant(JIGSAW_ORDERS, dtype="int32"),
                      keras.random.randint((n,), 0, len(JIGSAW_ORDERS), seed=seed_generator))
    q = tf.gather(quads, order, batch_dims=1)
    top = ops.concatenate([q[:, 0], q[:, 1]], 2)
    bottom = ops.concatenate([q[:, 2], q[:, 3]], 2)
    return ops.concatenate([top, bottom], 1)


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
        rotation_weight: Weight of the self-supervised rotation task (SS-GAN): a head on D's
            features learns which quarter turn was applied to each real image (D's loss),
            and G is asked for images whose turns D can tell (G's loss, weighted by
            ``G_ROTATION_SHARE`` of it). 0 trains none.
        rotation_head: That head (:func:`ganmc.nets.networks.rotation_head` of D), needed when
            ``rotation_weight`` is not 0.
        jigsaw_weight: Weight of the pseudo-anomalies: D is also taught to call real images
            put together in another order (:func:`jigsaw`) not normal. 0 shows none.
        shape: The shape network (:func:`ganmc.nets.networks.build_shape`), trained beside G and
            D when ``shape_weight`` is not 0: each step it sees the real batch and a batch
            of outliers (:mod:`ganmc.images.outliers`), both in a random hand
            (:func:`ganmc.images.augment.style`), and learns each real image's class and the
            outliers as its last class. The training data are then
            ``((images, classes), outliers)``.
        shape_weight: Weight of the outliers' loss against the classes' in the shape
            network's training. 0 trains none.
        shape_every: The shape network learns on every this many steps (see
            :func:`ganmc.core.presets.shape_every`).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int,
                 seed: int | None = None, rotation_weight: float = 0.0,
                 rotation_head: keras.Model | None = None, jigsaw_weight: float = 0.0,
                 shape: keras.Model | None = None, shape_weight: float = 0.0,
                 shape_every: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.rotation_weight = float(rotation_weight)
        self.jigsaw_weight = float(jigsaw_weight)
        self.rotation_head = rotation_head if self.rotation_weight else None
        if self.rotation_weight and rotation_head is None:
            raise ValueError("a rotation_weight needs a rotation_head")
        if self.rotation_head is not None:
            self.features = feature_model(discriminator)
        self.shape_weight = float(shape_weight)
        self.shape = shape if self.shape_weight else None
        if self.shape_weight and shape is None:
            raise ValueError("a shape_weight needs a shape network")
        self.shape_every = int(shape_every)

    def _d_variables(self) -> list:
        head = self.rotation_head.trainable_weights if self.rotation_head is not None else []
        return self.discriminator.trainable_weights + head

    def _rotation_loss(self, images, training: bool):
        """Cross-entropy of the rotation head on randomly turned ``images``."""
        k = keras.random.randint((ops.shape(images)[0],), 0, ROTATIONS, seed=self.seed_generator)
        feats, _ = self.features(rotate(images, k), training=training)
        logits = self.rotation_head(feats, training=training)
        return ops.mean(keras.losses.sparse_categorical_crossentropy(k, logits,
                                                                     from_logits=True))

    def compile(self, d_optimizer: keras.optimizers.Optimizer,
                g_optimizer: keras.optimizers.Optimizer,
                s_optimizer: keras.optimizers.Optimizer | None = None, **kwargs) -> None:
        """``s_optimizer``: the shape network's (needed when it is trained)."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.s_optimizer = s_optimizer
        # Create the optimizers' slots now, outside any compiled (XLA, distributed) step.
        d_optimizer.build(self._d_variables())
        g_optimizer.build(self.generator.trainable_variables)
        if self.shape is not None:
            if s_optimizer is None:
                raise ValueError("training the shape network needs its optimizer")
            s_optimizer.build(self.shape.trainable_variables)
        self.shape_tracker = keras.metrics.Mean(name=TASKS["shape_weight"].loss)
        self.rotation_tracker = keras.metrics.Mean(name=TASKS["rotation_weight"].loss)
        self.jigsaw_tracker = keras.metrics.Mean(name=TASKS["jigsaw_weight"].loss)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker,
                    self.d_fake_tracker]
        return (trackers + ([self.rotation_tracker] if self.rotation_head is not None else [])
                + ([self.jigsaw_tracker] if self.jigsaw_weight else [])
                + ([self.shape_tracker] if self.shape is not None else []))

    def call(self, data, training=False):
        """D's logits for a batch of the training data (fit builds the model by calling it)."""
        return self.discriminator(self._images(data), training=training)

    def _images(self, data):
        """The real images of a batch of the training data (see ``shape``): the batch itself,
        or the first of its nested parts (``((images, classes), outliers)`` in ``train_step``;
        Keras builds the model under a distribution strategy by calling it on the
        ``(images, classes)`` part alone)."""
        while isinstance(data, (tuple, list)):
            data = data[0]
        return data

    def _shape_step(self, images, classes, outliers, replicas) -> tf.Tensor:
        """One update of the shape network; returns its loss."""
        n = ops.shape(images)[0]
        shown = ops.concatenate([style(images, self.seed_generator),
                                 style(outliers, self.seed_generator)], 0)
        other = self.shape.outputs[1].shape[-1] - 1  # the outliers' class: the last
        with tf.GradientTape() as tape:
            _, logits = self.shape(shown, training=True)
            logits = ops.cast(logits, "float32")
            normal = ops.mean(keras.losses.sparse_categorical_crossentropy(
                classes, logits[:n], from_logits=True))
            outlier = ops.mean(keras.losses.sparse_categorical_crossentropy(
                ops.full_like(classes, other), logits[n:], from_logits=True))
            loss = normal + self.shape_weight * outlier
            scaled = loss / replicas
        grads = tape.gradient(scaled, self.shape.trainable_weights)
        self.s_optimizer.apply_gradients(zip(grads, self.shape.trainable_weights))
        return loss

    def train_step(self, data):
        real_images = self._images(data)
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
                    shown = [real_images, fake_images]
                    if self.jigsaw_weight:
                        shown.append(jigsaw(real_images, self.seed_generator))
                    logits = self.discriminator(ops.concatenate(shown, 0), training=True)
                    real_logits, fake_logits = logits[:batch], logits[batch:2 * batch]
                    d_loss = _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
                    total = d_loss
                    if self.jigsaw_weight:
                        jigsaw_loss = _bce(logits[2 * batch:], 0.0)
                        total = total + self.jigsaw_weight * jigsaw_loss
                    if self.rotation_head is not None:
                        rotation_loss = self._rotation_loss(real_images, True)
                        total = total + self.rotation_weight * rotation_loss
                    scaled = total / replicas
                variables = self._d_variables()
                grads = d_tape.gradient(scaled, variables)
                self.d_optimizer.apply_gradients(zip(grads, variables))
            # Generator: make the updated D call the fakes real (non-saturating loss).
            logits = self.discriminator(fake_images, training=True)
            g_loss = _bce(logits, 1.0)
            total = g_loss
            if self.rotation_head is not None and G_ROTATION_SHARE:
                total = total + (G_ROTATION_SHARE * self.rotation_weight
                                 * self._rotation_loss(fake_images, True))
            scaled = total / replicas
        grads = g_tape.gradient(scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        if self.shape is not None:
            (_, classes), outliers = data

            def shape_step():
                self.shape_tracker.update_state(
                    self._shape_step(real_images, classes, outliers, replicas))
                return tf.constant(True)

            if self.shape_every == 1:  # no condition: tf.distribute cannot update inside one
                shape_step()
            else:
                tf.cond(ops.equal(self.g_optimizer.iterations % self.shape_every, 0),
                        shape_step, lambda: tf.constant(False))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(ops.mean(ops.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(ops.mean(ops.sigmoid(fake_logits)))
        if self.rotation_head is not None:
            self.rotation_tracker.update_state(rotation_loss)
        if self.jigsaw_weight:
            self.jigsaw_tracker.update_state(jigsaw_loss)
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
