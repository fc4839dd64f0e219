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
  (see :data:`ganmc.core.config.DEFAULT_KAPPA`).
- ``mahalanobis``: how far the image's discriminator features lie from those of the training
  images: the Mahalanobis distance under a Gaussian fitted to the training images' features
  after training (the leading ``feature_components`` principal directions), divided by the
  number of directions so that training images score about 1. Where f-AnoGAN asks "can G
  redraw it?", this asks "does D see it as it saw the training digits?": one pass of D. A
  model of several digits trained with their labels has one Gaussian per digit
  (:mod:`ganmc.nets.density`): the distance to the nearest, and that digit is the one the image is
  taken for.
- ``mahalanobis-strokes``: ``mahalanobis`` corrected for how much is drawn: the distance
  and the image's stroke length, each standardised on normal images, the first plus
  ``DEFAULT_STROKE_WEIGHT`` times how far the second falls short of 0
  (:mod:`ganmc.nets.density`). A density score favours simple images, so a 1 passes for part of an
  8; this one does not. 0 is about a typical normal image, and a score counts spreads of
  normal images. Models fitted before it have no stroke
  figures and so no such score.
- ``shape``: how much more the shape network (:func:`ganmc.nets.networks.build_shape`), which
  learnt the normal digits in many hands against letters, symbols and pen curves, takes the
  image for "not a normal image" than for any normal digit: its last logit minus the
  log-sum-exp of the others. One pass of the shape network.
- ``latent-search``: AnoGAN-style (Schlegl et al., 2017), kept for comparison: for each image,
  search the latent space for the z whose G(z) best matches it, by Adam on z for
  ``search_steps`` steps (from E(x) when there is an encoder, else from z = 0), minimising the
  same pixel + kappa * feature residual; the score is the smallest residual found. About
  ``search_steps`` times slower than ``fanogan``, so Monte Carlo runs at training time skip it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ganmc.core.config import DEFAULT_KAPPA, DEFAULT_SEARCH_STEPS, PRECISIONS
from ganmc.core.errors import ConfigError
from ganmc.core.scorers import REGISTRY, auto_order
from ganmc.images.preprocess import to_model_input
from ganmc.nets.density import stroke_length
from ganmc.nets.networks import Networks
from ganmc.scores.combined import GREY_BAND, INK, STROKE_REACH

#: Adam's step size on z in ``latent-search`` (z ~ N(0, I), so 0.05 moves it a few percent).
SEARCH_LEARNING_RATE = 0.05


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


def default_batch_size(scorer: str = "fanogan") -> int:
    """Monte Carlo batch size for the device: large on a GPU, cache-friendly on a CPU.

    The slow ``latent-search`` gets batches a sixteenth the size, so that its progress and
    partial histograms still arrive every few seconds.
    """
    size = 65_536 if tf.config.list_physical_devices("GPU") else 8192
    return size if REGISTRY[scorer].one_pass else size // 16


def parts_of(networks: Networks, combination: bool = False) -> set[str]:
    """The fitted parts a score may need (:attr:`ganmc.core.scorers.Scorer.needs`)."""
    parts = {"combination"} if combination else set()
    for name in ("encoder", "density", "strokes", "shape"):
        if getattr(networks, name) is not None:
            parts.add(name)
    return parts


def available(networks: Networks, digits: tuple[int, ...] = (), combination: bool = False
              ) -> tuple[str, ...]:
    """Names of the scorers these networks support (``combination``: the detector has the
    combined score's references), in the order ``auto`` prefers them
    (:func:`ganmc.core.scorers.auto_order`)."""
    return auto_order(parts_of(networks, combination), len(digits), networks.per_digit)


_IMAGES = tf.TensorSpec([None, 28, 28, 1], tf.float32)
#: Images per call when scoring user images.
SCORE_BATCH = 1024


def batch_input(x: np.ndarray) -> tf.Tensor:
    """A slice of images as the networks take them: uint8 MNIST images (N, 28, 28) are
    turned into model input here, a slice at a time (250,000 images as float32 would take
    784 MB at once); float32 model input (N, 28, 28, 1) passes as it is."""
    return tf.constant(to_model_input(x) if x.dtype == np.uint8 else x)


def in_batches(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` over images (uint8 MNIST images or model input, :func:`batch_input`) in slices
    of ``SCORE_BATCH``, results concatenated."""
    return np.concatenate([fn(batch_input(x[i:i + SCORE_BATCH])).numpy()
                           for i in range(0, len(x), SCORE_BATCH)])


#: Images per progress report when scoring held-out images with a one-pass score.
PROGRESS_CHUNK = 8192


def holdout_scores(score, x: np.ndarray, names: tuple[str, ...], stop_event=None,
                   progress=None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Scores of hold-out images (in the images' order) for each scorer, ``score(images,
    name)`` computing them; ``progress(name, done, total)`` is told after each chunk.

    A set ``stop_event`` leaves out the slow scorers (in chunks of 64 images, so a stop is seen
    within a second or so); returns the scores and the names left out.
    """
    out, skipped = {}, []
    for name in names:
        one_pass = REGISTRY[name].one_pass
        chunk = PROGRESS_CHUNK if one_pass else 64
        parts = []
        for i in range(0, len(x), chunk):
            if not one_pass and stop_event is not None and stop_event.is_set():
                skipped.append(name)
                break
            parts.append(score(x[i:i + chunk], name))
            if progress is not None:
                progress(name, min(i + chunk, len(x)), len(x))
        else:
            out[name] = np.concatenate(parts)
    return out, skipped


class CompiledScorers:
    """Compiled scoring functions of one set of networks, built once per scorer and settings.

    The cache key holds everything a function captures (scorer, kappa, search steps), so a
    change of settings never reuses a function traced with the old ones.
    """

    def __init__(self, networks: Networks):
        self.networks = networks
        self._images: dict[tuple, object] = {}
        self._samples: dict[tuple, object] = {}
        self._cast: dict[str, Networks] = {"float32": networks}

    def images(self, key: str, kappa: float, steps: int):
        """A compiled function of an image batch: a scorer's scores, ``"latent-search/z"``
        (the z its search finds), ``"digit"`` (the digit each image is taken for,
        :func:`digit_graph`), ``"grey"`` (:func:`grey_count`) or ``"views/A,B,..."`` (the
        views A, B, ... of :func:`views_graph`)."""
        cache_key = (key, float(kappa), int(steps))
        if cache_key not in self._images:
            nets = self.networks

            # No AutoGraph: the branches are on Python values, the loops are tf.while_loop;
            # converting a closure made in a loop warned "could not transform" in every run.
            @tf.function(input_signature=[_IMAGES], reduce_retracing=True, autograph=False)
            def fn(x):
                if key == "latent-search/z":
                    return search_latent(nets, x, kappa, steps)[1]
                if key == "grey":
                    return grey_count(x)
                if key.startswith("views/"):
                    return views_graph(tuple(key.removeprefix("views/").split(",")), nets, x)
                if key == "digit":
                    return digit_graph(nets, x)
                return score_graph(key, nets, x, kappa, steps)

            self._images[cache_key] = fn
        return self._images[cache_key]

    def reconstruct(self, x: np.ndarray, searched: bool, kappa: float, steps: int
                    ) -> np.ndarray:
        """G(E(x)), or G(z*) at the z the latent search finds when ``searched``, float32
        model output (N, 28, 28, 1), a slice of images at a time."""
        nets = self.networks
        parts = []
        for i in range(0, len(x), SCORE_BATCH):
            part = x[i:i + SCORE_BATCH]
            z = (in_batches(self.images("latent-search/z", kappa, steps), part) if searched
                 else nets.encoder(batch_input(part), training=False))
            parts.append(np.asarray(nets.generator(z, training=False), np.float32))
        return np.concatenate(parts)

    def cast(self, precision: str) -> Networks:
        """The networks in this precision, cast once."""
        if precision not in self._cast:
            self._cast[precision] = self.networks.cast(precision)
        return self._cast[precision]

    def samples(self, name: str, precision: str, latent: int, kappa: float, steps: int):
        """A compiled ``(n, seed pair) -> scores`` that generates n images and scores them."""
        cache_key = (name, precision, int(latent), float(kappa), int(steps))
        if cache_key not in self._samples:
            nets = self.cast(precision)

            @tf.function(input_signature=[tf.TensorSpec([], tf.int32),
                                          tf.TensorSpec([2], tf.int32)], autograph=False)
            def fn(m, seed_pair):
                z = tf.random.stateless_normal(tf.stack([m, latent]), seed=seed_pair)
                x = tf.cast(nets.generator(z, training=False), tf.float32)
                return score_graph(name, nets, x, kappa, steps)

            self._samples[cache_key] = fn
        return self._samples[cache_key]


def _f32(t: tf.Tensor) -> tf.Tensor:
    return tf.cast(t, tf.float32)


def _residual(networks: Networks, x: tf.Tensor, f_x: tf.Tensor, z: tf.Tensor,
              kappa: float) -> tf.Tensor:
    """Per image: mean((x - G(z))^2) + kappa * mean((f(x) - f(G(z)))^2), float32 (N,)."""
    recon = _f32(networks.generator(z, training=False))
    f_r, _ = networks.features(recon, training=False)
    pixel = tf.reduce_mean(tf.square(tf.reshape(x - recon, [tf.shape(x)[0], -1])), axis=1)
    return pixel + kappa * tf.reduce_mean(tf.square(f_x - _f32(f_r)), axis=1)


def search_latent(networks: Networks, x: tf.Tensor, kappa: float = DEFAULT_KAPPA,
                  steps: int = DEFAULT_SEARCH_STEPS) -> tuple[tf.Tensor, tf.Tensor]:
    """AnoGAN's latent search: per image, the best z found by ``steps`` Adam steps.

    Each image's residual depends on its own z only, so the gradient of the batch's sum is
    every image's own gradient, and Adam (element-wise) runs one independent search per image.

    Args:
        networks: The trained networks.
        x: float32 (N, 28, 28, 1) in [-1, 1].
        kappa: Feature-residual weight.
        steps: Adam steps on z.

    Returns:
        (the smallest residual found, float32 (N,); the z that reached it, (N, latent)).
    """
    f_x = _f32(networks.features(x, training=False)[0])
    if networks.encoder is not None:
        z = _f32(networks.encoder(x, training=False))
    else:
        z = tf.zeros([tf.shape(x)[0], networks.generator.inputs[0].shape[-1]], tf.float32)
    b1, b2, eps = 0.9, 0.999, 1e-7

    def step(i, z, m, v, best, z_best):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = _residual(networks, x, f_x, z, kappa)
            total = tf.reduce_sum(loss)
        better = loss < best
        best, z_best = tf.where(better, loss, best), tf.where(better[:, None], z, z_best)
        g = tape.gradient(total, z)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * tf.square(g)
        t = tf.cast(i + 1, tf.float32)
        z = z - SEARCH_LEARNING_RATE * (m / (1 - b1 ** t)) / (tf.sqrt(v / (1 - b2 ** t)) + eps)
        return i + 1, z, m, v, best, z_best

    best = tf.fill([tf.shape(x)[0]], float("inf"))
    _, z, _, _, best, z_best = tf.while_loop(
        lambda i, *_: i < steps, step,
        (tf.constant(0), z, tf.zeros_like(z), tf.zeros_like(z), best, z))
    last = _residual(networks, x, f_x, z, kappa)
    better = last < best
    return tf.where(better, last, best), tf.where(better[:, None], z, z_best)


def grey_count(x: tf.Tensor) -> tf.Tensor:
    """Pixels of each image whose ink lies strictly inside :data:`ganmc.scores.combined.GREY_BAND`
    (neither background nor full ink), float32 (N,): a whole number, exact."""
    ink = (tf.reshape(_f32(x), [tf.shape(x)[0], -1]) + 1.0) / 2.0
    grey = tf.logical_and(ink > GREY_BAND[0], ink < GREY_BAND[1])
    return tf.reduce_sum(tf.cast(grey, tf.float32), axis=1)


def tones_count(x: tf.Tensor, compiled: bool = False) -> tf.Tensor:
    """Pixels of each image that are grey (:data:`ganmc.scores.combined.GREY_BAND`) and farther
    than :data:`ganmc.scores.combined.STROKE_REACH` pixels from any pixel of full ink
    (:data:`ganmc.scores.combined.INK`), float32 (N,), a whole number: pen strokes are grey only at
    their edges, beside their ink; a photograph's tones are grey everywhere.

    ``compiled`` runs it as one XLA pass (the Monte Carlo samplers, whose batches are all of
    one size: XLA compiles once for each shape, too often for verdicts of any number of
    images); the counts are the same either way."""
    return (_tones_compiled if compiled else _tones)(x)


def _tones(x: tf.Tensor) -> tf.Tensor:
    x = tf.cast(x, tf.float32)
    ink = (x + 1.0) / 2.0
    grey = tf.logical_and(ink > GREY_BAND[0], ink < GREY_BAND[1])
    # Full ink within reach: the largest value in the square around each pixel, taken as
    # rows then columns. Taking the ink of the largest value is exact: the mapping to ink
    # is monotone, rounding included.
    reach = 2 * STROKE_REACH + 1
    nearest = tf.nn.max_pool2d(tf.nn.max_pool2d(x, (reach, 1), 1, "SAME"), (1, reach), 1,
                               "SAME")
    lone = tf.logical_and(grey, (nearest + 1.0) / 2.0 < INK)
    return tf.reduce_sum(tf.cast(tf.reshape(lone, [tf.shape(x)[0], -1]), tf.float32), axis=1)


_tones_compiled = tf.function(_tones, jit_compile=True, autograph=False, reduce_retracing=True)


def shape_margin(logits: tf.Tensor) -> tf.Tensor:
    """The ``shape`` score from the shape network's logits (N, C + 1): the last ("not a
    normal image") minus the log-sum-exp of the C normal classes', float32 (N,)."""
    logits = _f32(logits)
    return logits[:, -1] - tf.reduce_logsumexp(logits[:, :-1], axis=1)


def digit_graph(networks: Networks, x: tf.Tensor) -> tf.Tensor:
    """The digit each image is taken for, int64 (N,): the shape network's likeliest digit
    where it has several, else the nearest per-digit Gaussian over D's features; -1 for a
    model with neither."""
    return views_graph(("digit",), networks, x)["digit"]


def _digit_by_shape(networks: Networks) -> bool:
    """Whether :func:`digit_graph` reads the shape network (else D's features)."""
    gauss = networks.shape_density
    return networks.shape is not None and gauss is not None and gauss.per_digit


def viewable(networks: Networks, names: tuple[str, ...]) -> bool:
    """Whether the networks have what each of the named views (:func:`views_graph`)
    needs."""
    need = {"mahalanobis": networks.density, "mahalanobis-strokes": networks.strokes,
            "shape": networks.shape, "shape-distance": networks.shape_density}
    return all(need.get(n, True) is not None for n in names)


def views_graph(names: tuple[str, ...], networks: Networks, x: tf.Tensor,
                compiled: bool = False) -> dict[str, tf.Tensor]:
    """The named views of a batch, each network's from one pass of it (the combined score's
    views, :mod:`ganmc.scores.combined`): ``mahalanobis``, ``mahalanobis-strokes`` and
    ``discriminator`` (D) and ``shape`` (the shape network) as :func:`score_graph` gives
    each, ``shape-distance`` (the per-digit Gaussian over the shape network's features),
    ``grey`` (:func:`grey_count`) and ``tones`` (:func:`tones_count`); ``digit`` is the digit
    each image is taken for (:func:`digit_graph`) from the same passes, so a verdict runs
    each network once. ``compiled``: see :func:`tones_count`."""
    out = {}
    digit = "digit" in names
    by_shape = digit and _digit_by_shape(networks)
    if ({"mahalanobis", "mahalanobis-strokes", "discriminator"} & set(names)
            or (digit and not by_shape and networks.density is not None)):
        f, logit = networks.features(x, training=False)
        if "mahalanobis" in names:
            out["mahalanobis"] = networks.density.distance(f)
        if "mahalanobis-strokes" in names:
            out["mahalanobis-strokes"] = networks.strokes.corrected(f, stroke_length(x))
        out["discriminator"] = -tf.reshape(_f32(logit), [-1])
        if digit and not by_shape:
            out["digit"] = networks.density.nearest(f)
    if {"shape", "shape-distance"} & set(names) or by_shape:
        f, logits = networks.shape(x, training=False)
        if {"shape", "shape-distance"} & set(names):
            out["shape"] = shape_margin(logits)
            out["shape-distance"] = networks.shape_density.distance(f)
        if by_shape:
            out["digit"] = tf.gather(tf.constant(networks.shape_density.digits),
                                     tf.argmax(_f32(logits)[:, :-1], axis=1))
    if digit and "digit" not in out:  # a model that takes images for no digit
        out["digit"] = tf.fill([tf.shape(x)[0]], tf.constant(-1, tf.int64))
    if "grey" in names:
        out["grey"] = grey_count(x)
    if "tones" in names:
        out["tones"] = tones_count(x, compiled)
    return {k: out[k] for k in names}


def _discriminator(networks, x, kappa, steps):
    return -tf.reshape(_f32(networks.discriminator(x, training=False)), [-1])


def _shape(networks, x, kappa, steps):
    if networks.shape is None:
        raise ConfigError("the shape score needs the shape network; this model has none")
    return shape_margin(networks.shape(x, training=False)[1])


def _latent_search(networks, x, kappa, steps):
    return search_latent(networks, x, kappa, steps)[0]


def _mahalanobis(networks, x, kappa, steps):
    if networks.density is None:
        raise ConfigError("the mahalanobis scorer needs the feature Gaussian fitted after "
                          "training; this model has none")
    return networks.density.distance(networks.features(x, training=False)[0])


def _mahalanobis_strokes(networks, x, kappa, steps):
    if networks.strokes is None:
        raise ConfigError("the mahalanobis-strokes scorer needs the feature Gaussian's "
                          "stroke figures, fitted after training; this model has none")
    return networks.strokes.corrected(networks.features(x, training=False)[0],
                                      stroke_length(x))


def _fanogan(networks, x, kappa, steps):
    if networks.encoder is None:
        raise ConfigError("the fanogan scorer needs an encoder; this model has none")
    f_x = _f32(networks.features(x, training=False)[0])
    return _residual(networks, x, f_x, networks.encoder(x, training=False), kappa)


#: The graph of each score of :data:`ganmc.core.scorers.REGISTRY` but the composite ones (made of
#: :func:`views_graph`'s views): ``(networks, x, kappa, search_steps) -> (N,)``.
GRAPHS = {"discriminator": _discriminator, "shape": _shape, "latent-search": _latent_search,
          "mahalanobis": _mahalanobis, "mahalanobis-strokes": _mahalanobis_strokes,
          "fanogan": _fanogan}


def score_graph(name: str, networks: Networks, x: tf.Tensor, kappa: float = DEFAULT_KAPPA,
                search_steps: int = DEFAULT_SEARCH_STEPS) -> tf.Tensor:
    """Score a batch with TensorFlow ops (traceable inside ``tf.function``).

    Args:
        name: One of :data:`ganmc.core.config.SCORERS` with a graph of its own (:data:`GRAPHS`).
        networks: The trained networks.
        x: float32 (N, 28, 28, 1) in [-1, 1].
        kappa: Feature-residual weight of ``fanogan`` and ``latent-search``.
        search_steps: Optimisation steps of ``latent-search``.

    Returns:
        float32 (N,), higher = more anomalous.
    """
    if name not in GRAPHS:
        raise ConfigError(f"unknown scorer {name!r}; choose one of {', '.join(GRAPHS)}")
    return GRAPHS[name](networks, x, kappa, search_steps)
