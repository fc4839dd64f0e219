"""What a fitted detector computes from images: scores, the digit each is taken for,
reconstructions, generated images and Monte Carlo batches.

:class:`Inference` holds the networks, the settings the scores read (kappa, search steps,
latent size) and the compiled functions (:class:`ganmc.scores.scoring.CompiledScorers`); it stores
nothing about calibration. The ``combined`` score (:mod:`ganmc.scores.combined`) is computed here
from its views, which one compiled function gives for a generated batch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ganmc.core.config import TrainConfig
from ganmc.core.errors import ConfigError, ModelError
from ganmc.core.scorers import REGISTRY
from ganmc.images.preprocess import from_model_output
from ganmc.nets.networks import Networks
from ganmc.scores import scoring
from ganmc.scores.combined import VIEW_WORDS, Combination, shares

_SAMPLE_SIGNATURE = [tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)]


class Inference:
    """The compiled computations of one set of networks under one training config."""

    def __init__(self, networks: Networks, config: TrainConfig):
        self.networks, self.config = networks, config
        self.compiled = scoring.CompiledScorers(networks)
        self._views: dict[tuple, object] = {}

    def _images_fn(self, key: str):
        return self.compiled.images(key, self.config.kappa, self.config.search_steps)

    def scores(self, x: np.ndarray, name: str, combination: Combination | None = None
               ) -> np.ndarray:
        """Scores of images (uint8 MNIST images (N, 28, 28), or float32 model input
        (N, 28, 28, 1): :func:`ganmc.scores.scoring.batch_input`), float64 (N,).

        Raises:
            ModelError: If the networks give NaN or infinite scores.
        """
        if REGISTRY[name].composite:
            if combination is None:
                raise ConfigError("the combined score needs the held-out references; this "
                                  "model has none")
            scores = combination.score(self.views(x, combination.views))
        else:
            scores = scoring.in_batches(self._images_fn(name), x).astype(np.float64)
        if not np.isfinite(scores).all():
            raise ModelError("the model returned NaN/inf scores; it is broken, retrain it")
        return scores

    def combined(self, x: np.ndarray, combination: Combination
                 ) -> tuple[np.ndarray, list[str], np.ndarray | None]:
        """The combined scores of images (as :meth:`scores` takes them), the reason each
        would be flagged (:data:`ganmc.scores.combined.VIEW_WORDS` of its deciding view) and the
        digit each is taken for (:meth:`digits`), from one conversion and one pass of each
        network a batch."""
        names = combination.views + (("digit",) if self.networks.per_digit else ())
        views = self.views(x, names)
        digits = views.pop("digit", None)
        return (combination.score(views),
                [VIEW_WORDS[v] for v in combination.deciding(views)], digits)

    def views(self, x: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The values of the named views (:func:`ganmc.scores.scoring.views_graph`: a combined
        score's main views and guards, and ``digit``), each network's from one pass of it a
        batch; pixel counts as shares of the image.

        Raises:
            ModelError: If the networks give NaN or infinite values.
        """
        fn = self._images_fn("views/" + ",".join(names))
        parts = [fn(scoring.batch_input(x[i:i + scoring.SCORE_BATCH]))
                 for i in range(0, len(x), scoring.SCORE_BATCH)] or [fn(scoring.batch_input(x))]
        values = {k: np.concatenate([p[k].numpy() for p in parts]) for k in parts[0]}
        digits = values.pop("digit", None)
        return {**_finite(shares(values)), **({} if digits is None else {"digit": digits})}

    def digits(self, x: np.ndarray) -> np.ndarray | None:
        """The digit each image is taken for (:func:`ganmc.scores.scoring.digit_graph`); None for a
        model that takes images for no digit."""
        if not self.networks.per_digit:
            return None
        return scoring.in_batches(self._images_fn("digit"), x)

    def reconstruct(self, x: np.ndarray, searched: bool) -> np.ndarray:
        """G(E(x)), or G(z*) of the latent search when ``searched``; uint8."""
        return from_model_output(self.compiled.reconstruct(
            x, searched, self.config.kappa, self.config.search_steps))

    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n generated images, uint8 (n, 28, 28)."""
        z = tf.random.stateless_normal([n, self.config.latent_dim], seed=[seed, 0])
        return from_model_output(self.networks.generator(z, training=False))

    def sample(self, n: int, seed: int, index: int, name: str, precision: str,
               combination: Combination | None = None) -> np.ndarray:
        """Generate n images from latent batch (seed, index) and score them, in one graph
        (for ``combined``, one graph gives every view of the same images)."""
        args = (tf.constant(n, tf.int32), tf.constant([seed, index], tf.int32))
        if not REGISTRY[name].composite:
            fn = self.compiled.samples(name, precision, self.config.latent_dim,
                                       self.config.kappa, self.config.search_steps)
            return fn(*args).numpy()
        if combination is None:
            raise ConfigError("the combined score needs the held-out references; this model "
                              "has none")
        values = {k: v.numpy() for k, v in
                  self._views_fn(combination.views, precision)(*args).items()}
        return combination.score(_finite(shares(values)))

    def _views_fn(self, names: tuple[str, ...], precision: str):
        key = (names, precision)
        if key not in self._views:
            nets = self.compiled.cast(precision)
            latent = self.config.latent_dim

            @tf.function(input_signature=_SAMPLE_SIGNATURE, autograph=False)
            def fn(m, seed_pair):
                z = tf.random.stateless_normal(tf.stack([m, latent]), seed=seed_pair)
                x = tf.cast(nets.generator(z, training=False), tf.float32)
                return scoring.views_graph(names, nets, x, compiled=True)

            self._views[key] = fn
        return self._views[key]


def _finite(views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The views, checked: a NaN would rank as an ordinary value in the combined score."""
    if not all(np.isfinite(v).all() for v in views.values()):
        raise ModelError("the model returned NaN/inf scores; it is broken, retrain it")
    return views
