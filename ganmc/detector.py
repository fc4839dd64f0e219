"""The detector: train, score, simulate, calibrate, judge, save and load, in one object.

It follows the scikit-learn / PyOD contract: settings are keyword arguments, :meth:`fit`
returns ``self``, fitted attributes end in ``_``, :meth:`score_samples` and
:meth:`decision_function` are higher for more anomalous images, and :meth:`predict` gives
1 for an anomaly and 0 for a normal image.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import platform
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganmc import __version__, bundle, scoring
from ganmc.calibration import Calibration, ScoreDistribution
from ganmc.config import (
    DEFAULT_FEATURE_COMPONENTS,
    DEFAULT_KAPPA,
    DEFAULT_SEARCH_STEPS,
    TrainConfig,
)
from ganmc.data import as_images
from ganmc.errors import ConfigError, DataError, ModelError
from ganmc.montecarlo import MonteCarloResult, simulate
from ganmc.preprocess import from_model_output, to_model_input
from ganmc.train import TrainProgress, fit_networks
from ganmc.verdict import Verdict, judge

log = logging.getLogger(__name__)

SCORE_BATCH = 1024
_IMAGES = tf.TensorSpec([None, 28, 28, 1], tf.float32)
#: The arrays of a saved :class:`ganmc.scoring.FeatureGaussian`, in its fields' order.
_DENSITY_PARTS = tuple(f.name for f in dataclasses.fields(scoring.FeatureGaussian))


class Detector:
    """A GAN anomaly detector for 28x28 images.

    Args:
        arch, digits, epochs, encoder_epochs, batch_size, latent_dim, learning_rate, beta_1, kappa,
            search_steps, feature_components, calibration_fraction, seed, precision,
            jit_compile: Training settings, see :class:`ganmc.TrainConfig`.
        scorer: ``"fanogan"``, ``"mahalanobis"``, ``"discriminator"``, ``"latent-search"``
            (slow, for comparison) or ``"auto"`` (the first of these the model has).
        calibration: ``"holdout"`` (conformal, on real normal images never trained on),
            ``"monte-carlo"`` (percentile of generated images' scores) or ``"auto"``
            (holdout when a calibration set exists).
        alpha: Nominal false-alarm rate; the threshold is the (1 - alpha) level.
        mc_samples: Monte Carlo samples simulated at the end of :meth:`fit` for each
            one-pass scorer (``latent-search`` is left to an explicit :meth:`run_monte_carlo`).
    """

    def __init__(self, *, arch: str = "dcgan", digits: tuple[int, ...] | None = None,
                 epochs: int = 10, encoder_epochs: int | None = None, batch_size: int = 128,
                 latent_dim: int | None = None, learning_rate: float = 2e-4, beta_1: float = 0.5,
                 kappa: float = DEFAULT_KAPPA, search_steps: int = DEFAULT_SEARCH_STEPS,
                 feature_components: int = DEFAULT_FEATURE_COMPONENTS,
                 calibration_fraction: float = 0.1, seed: int = 0, precision: str = "auto",
                 jit_compile: bool | None = None, scorer: str = "auto",
                 calibration: str = "auto", alpha: float = 0.05, mc_samples: int = 20_000):
        self.config = TrainConfig(
            arch=arch, digits=tuple(range(10)) if digits is None else tuple(digits),
            epochs=epochs, encoder_epochs=encoder_epochs, batch_size=batch_size,
            latent_dim=latent_dim, learning_rate=learning_rate, beta_1=beta_1, kappa=kappa,
            search_steps=search_steps, feature_components=feature_components,
            calibration_fraction=calibration_fraction, seed=seed,
            precision=precision, jit_compile=jit_compile)
        self.scorer = scorer
        self.calibration = calibration
        self.alpha = alpha
        self.mc_samples = mc_samples
        self.networks_: scoring.Networks | None = None
        self.holdout_scores_: dict[str, np.ndarray] = {}
        self.monte_carlo_: dict[str, MonteCarloResult] = {}
        self.metadata_: dict[str, Any] = {}
        self.path_: Path | None = None
        self._score_fns: dict[str, Any] = {}
        self._sample_fns: dict[str, Any] = {}

    # ------------------------------------------------------------------ training
    def fit(self, x: np.ndarray, *, data_source: str = "array",
            progress: Callable[[TrainProgress], None] | None = None,
            stop_event: threading.Event | None = None, checkpoint: Path | str | None = None,
            resume: bool = False) -> Detector:
        """Train on normal images, then calibrate on the held-out share of them.

        Args:
            x: Normal images, uint8 (N, 28, 28) (or anything :func:`ganmc.data.as_images`
                accepts).
            data_source: Where ``x`` came from, for the model card.
            progress: Called with :class:`ganmc.train.TrainProgress` reports.
            stop_event: Set it to stop training early; the model is still usable.
            checkpoint: Folder for per-epoch checkpoints.
            resume: Go on from ``checkpoint``.

        Returns:
            self
        """
        x = as_images(x, "training images")
        train, holdout = self._split(x)
        result = fit_networks(train, self.config, progress=progress, stop_event=stop_event,
                              checkpoint=checkpoint, resume=resume)
        nets = scoring.Networks(result.generator, result.discriminator, result.encoder)
        log.info("Fitting the Gaussian over the discriminator features of %d training images",
                 len(train))
        try:
            features = _in_batches(lambda t: nets.features(t, training=False)[0],
                                   to_model_input(train))
            nets.density = scoring.FeatureGaussian.fit(features, self.config.feature_components)
        except ConfigError as exc:  # degenerate training data: the other scorers still work
            log.warning("No mahalanobis scorer: %s", exc)
        self._attach(nets)
        self.metadata_ = {
            "data_source": data_source, "n_train": int(len(train)),
            "n_calibration": int(len(holdout)), "device": result.device,
            "train_seconds": round(result.seconds, 2),
            "train_images_per_s": round(result.images_per_s, 1),
            "epochs_done": result.epochs_done, "stopped_early": result.stopped,
            "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": {"ganmc": __version__, "tensorflow": tf.__version__,
                         "keras": keras.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "history": result.history,
        }
        if len(holdout):
            self.calibrate(holdout)
        if self.mc_samples:
            for name in (s for s in self.scorers_ if s in scoring.ONE_PASS):
                self.run_monte_carlo(self.mc_samples, seed=self.config.seed, scorer=name)
        return self

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_cal = int(round(self.config.calibration_fraction * len(x)))
        if len(x) - n_cal < 2:
            raise DataError(f"{len(x)} normal images are too few to train on")
        order = np.random.default_rng(self.config.seed).permutation(len(x))
        return x[order[n_cal:]], x[order[:n_cal]]

    def calibrate(self, x_normal: np.ndarray) -> Detector:
        """Score real normal images never trained on, for the conformal ``holdout`` threshold.

        Returns:
            self
        """
        x_normal = as_images(x_normal, "calibration images")
        self.holdout_scores_ = {name: np.sort(self.score_samples(x_normal, scorer=name))
                                for name in self.scorers_}
        return self

    def _attach(self, networks: scoring.Networks) -> None:
        self.networks_ = networks
        self._score_fns.clear()
        self._sample_fns.clear()
        self._cast_networks: dict[str, scoring.Networks] = {}

    def _networks(self, precision: str) -> scoring.Networks:
        """The networks computing in float32 or bfloat16 (a cached copy)."""
        nets = self._check_fitted()
        if precision == "float32":
            return nets
        if precision not in self._cast_networks:
            self._cast_networks[precision] = nets.cast("bfloat16")
        return self._cast_networks[precision]

    # ------------------------------------------------------------------ settings
    def _check_fitted(self) -> scoring.Networks:
        if self.networks_ is None:
            raise ModelError("this detector is not trained yet: call fit() or load a model")
        return self.networks_

    @property
    def scorers_(self) -> tuple[str, ...]:
        """Scorers this model supports."""
        return scoring.available(self._check_fitted())

    @property
    def scorer_(self) -> str:
        """The scorer in use (``auto`` resolved)."""
        if self.scorer == "auto":
            return self.scorers_[0]
        if self.scorer not in self.scorers_:
            raise ConfigError(f"scorer {self.scorer!r} is not available for this model "
                              f"(available: {', '.join(self.scorers_)})")
        return self.scorer

    @property
    def calibration_(self) -> Calibration:
        """The calibration in use for the current scorer."""
        return self.calibration_for()

    def calibration_for(self, scorer: str | None = None, source: str | None = None
                        ) -> Calibration:
        """The calibration of a scorer from a source, without changing this detector's settings.

        Args:
            scorer: A scorer name; ``None`` takes :attr:`scorer_`.
            source: ``"holdout"``, ``"monte-carlo"`` or ``"auto"``; ``None`` takes the
                detector's ``calibration`` setting.
        """
        name = scorer or self.scorer_
        source = source or self.calibration
        if source == "auto":
            source = "holdout" if name in self.holdout_scores_ else "monte-carlo"
        if source == "holdout":
            if name not in self.holdout_scores_:
                raise ConfigError("this model has no hold-out calibration set; use monte-carlo")
            return Calibration("holdout", ScoreDistribution.from_scores(self.holdout_scores_[name]))
        if source == "monte-carlo":
            if name not in self.monte_carlo_:
                if name not in scoring.ONE_PASS:
                    raise ConfigError(f"no Monte Carlo simulation of {name} yet: it is slow, so "
                                      f"run one explicitly, or use the holdout threshold")
                self.run_monte_carlo(self.mc_samples or 20_000, seed=self.config.seed,
                                     scorer=name)
            return self.monte_carlo_[name].calibration()
        raise ConfigError(f"calibration must be holdout, monte-carlo or auto, not {source!r}")

    @property
    def threshold_(self) -> float:
        """Scores above this are anomalies, at the current scorer, calibration and alpha."""
        return self.calibration_.threshold(self.alpha)

    # ------------------------------------------------------------------ scoring
    def _image_fn(self, key: str):
        """A compiled function of an image batch, built once per key for these networks.

        ``key`` is a scorer name (its scores) or ``"latent-search/z"`` (the z its search finds).
        """
        if key not in self._score_fns:
            nets, kappa, steps = self._check_fitted(), self.config.kappa, self.config.search_steps

            @tf.function(input_signature=[_IMAGES], reduce_retracing=True)
            def fn(x):
                if key == "latent-search/z":
                    return scoring.search_latent(nets, x, kappa, steps)[1]
                return scoring.score_graph(key, nets, x, kappa, steps)

            self._score_fns[key] = fn
        return self._score_fns[key]

    def score_samples(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """Anomaly scores, higher = more anomalous.

        Args:
            x: uint8 MNIST-format images (N, 28, 28) (or as :func:`ganmc.data.as_images`).
            scorer: Override the current scorer.

        Returns:
            float64 (N,).
        """
        name = scorer or self.scorer_
        if name not in self.scorers_:
            raise ConfigError(f"scorer {name!r} is not available (have {', '.join(self.scorers_)})")
        x = to_model_input(as_images(x, "images"))
        scores = _in_batches(self._image_fn(name), x).astype(np.float64)
        if not np.isfinite(scores).all():
            raise ModelError("the model returned NaN/inf scores; it is broken, retrain it")
        return scores

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Score minus threshold: positive = anomaly."""
        return self.score_samples(x) - self.threshold_

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 for an anomaly, 0 for a normal image (PyOD's convention)."""
        return (self.score_samples(x) > self.threshold_).astype(np.int64)

    def verdicts(self, x: np.ndarray, *, scorer: str | None = None,
                 calibration: Calibration | None = None, alpha: float | None = None
                 ) -> list[Verdict]:
        """Score, p-value, percentile rank and NORMAL/ANOMALY for each image.

        The keyword arguments override the detector's settings for this call only, so one
        loaded model can serve several users with different settings at once.
        """
        calibration = calibration or self.calibration_for(scorer)
        alpha = self.alpha if alpha is None else alpha
        return judge(self.score_samples(x, scorer=scorer), calibration, alpha)

    def can_reconstruct(self, scorer: str | None = None) -> bool:
        """Whether :meth:`reconstruct` works for this scorer (G(E(x)) needs an encoder)."""
        return (scorer or self.scorer_) == "latent-search" or (
            self._check_fitted().encoder is not None)

    def reconstruct(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """What the model thinks x should be, as uint8 images.

        G(E(x)) for every scorer but ``latent-search``, whose reconstruction is G(z*) at the
        best z its search found.
        """
        nets = self._check_fitted()
        if not self.can_reconstruct(scorer):
            raise ConfigError("reconstruction needs an encoder; this model has none")
        x = to_model_input(as_images(x, "images"))
        if (scorer or self.scorer_) == "latent-search":
            z = _in_batches(self._image_fn("latent-search/z"), x)
        else:
            z = nets.encoder(x, training=False)
        return from_model_output(nets.generator(z, training=False))

    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n generated images, uint8 (n, 28, 28)."""
        nets = self._check_fitted()
        z = tf.random.stateless_normal([n, self.config.latent_dim], seed=[seed, 0])
        return from_model_output(nets.generator(z, training=False))

    # ------------------------------------------------------------------ Monte Carlo
    def sample_scores(self, n: int, seed: int, index: int, scorer: str | None = None,
                      precision: str = "float32") -> np.ndarray:
        """Generate n images from latent batch (seed, index) and score them, in one graph.

        Args:
            n: Batch size.
            seed, index: The batch's stateless seed pair; the same pair gives the same z.
            scorer: Scorer name; ``None`` takes :attr:`scorer_`.
            precision: ``float32``, ``bfloat16`` or ``auto`` (bfloat16 where it is fast).
        """
        name = scorer or self.scorer_
        precision = scoring.resolve_precision(precision)
        key = (name, precision)
        if key not in self._sample_fns:
            nets, kappa = self._networks(precision), self.config.kappa
            latent, steps = self.config.latent_dim, self.config.search_steps

            @tf.function(input_signature=[tf.TensorSpec([], tf.int32),
                                          tf.TensorSpec([2], tf.int32)])
            def fn(m, seed_pair):
                z = tf.random.stateless_normal(tf.stack([m, latent]), seed=seed_pair)
                x = tf.cast(nets.generator(z, training=False), tf.float32)
                return scoring.score_graph(name, nets, x, kappa, steps)

            self._sample_fns[key] = fn
        return self._sample_fns[key](tf.constant(n, tf.int32),
                                     tf.constant([seed, index], tf.int32)).numpy()

    def run_monte_carlo(self, n_samples: int, *, seed: int = 0, batch_size: int | None = None,
                        scorer: str | None = None, precision: str = "float32",
                        progress: Callable[[MonteCarloResult], None] | None = None
                        ) -> MonteCarloResult:
        """Simulate n_samples generated images and keep the result for this scorer.

        Args:
            n_samples: Generated images.
            seed: Seed of the latent draws.
            batch_size: Images per compiled call; ``None`` chooses for the device.
            scorer: Scorer name; ``None`` takes :attr:`scorer_`.
            precision: ``float32``, ``bfloat16`` or ``auto``.
            progress: Sees each partial result.
        """
        name = scorer or self.scorer_
        result = simulate(self, n_samples, seed=seed,
                          batch_size=batch_size or scoring.default_batch_size(name), scorer=name,
                          precision=precision, progress=progress)
        self.monte_carlo_[name] = result
        return result

    def monte_carlo_false_alarm(self, alpha: float | None = None, *, scorer: str | None = None,
                                result: MonteCarloResult | None = None) -> float | None:
        """False-alarm rate of a Monte Carlo threshold, measured on the hold-out normals.

        This says how far the seed's threshold is from its nominal rate on real images.

        Args:
            alpha: Nominal rate; ``None`` takes the detector's.
            scorer: Scorer; ``None`` takes :attr:`scorer_`.
            result: A simulation to judge; ``None`` takes the one kept for the scorer.

        Returns:
            The share of held-out normal images above the threshold, or None when there is no
            hold-out set or no simulation.
        """
        name, alpha = scorer or self.scorer_, self.alpha if alpha is None else alpha
        result = result or self.monte_carlo_.get(name)
        if name not in self.holdout_scores_ or result is None:
            return None
        t = result.calibration().threshold(alpha)
        return float(np.mean(self.holdout_scores_[name] > t))

    # ------------------------------------------------------------------ persistence
    def card(self) -> dict[str, Any]:
        """The model card: settings, training metadata and calibration summary."""
        calib = {}
        for name in self.scorers_:
            entry: dict[str, Any] = {}
            if name in self.holdout_scores_:
                c = self.calibration_for(name, "holdout")
                entry["holdout"] = {"n": c.distribution.n, "threshold": c.threshold(self.alpha)}
            if name in self.monte_carlo_:
                r = self.monte_carlo_[name]
                entry["monte_carlo"] = {"n": r.n, "seed": r.seed,
                                        "threshold": r.threshold(100 * (1 - self.alpha)),
                                        "samples_per_s": round(r.samples_per_s, 1)}
            calib[name] = entry
        return {"config": self.config.to_dict(), "metadata": self.metadata_,
                "scorers": list(self.scorers_), "scorer": self.scorer,
                "calibration": self.calibration, "alpha": self.alpha, "calibration_summary": calib}

    def save(self, path: Path | str) -> Path:
        """Write the model folder atomically (see :mod:`ganmc.bundle`)."""
        nets = self._check_fitted()
        networks = {"generator": nets.generator, "discriminator": nets.discriminator}
        if nets.encoder is not None:
            networks["encoder"] = nets.encoder
        arrays = {f"holdout/{k}": v for k, v in self.holdout_scores_.items()}
        if nets.density is not None:
            arrays.update({f"density/{k}": getattr(nets.density, k) for k in _DENSITY_PARTS})
        for k, r in self.monte_carlo_.items():
            if r.distribution.exact:
                arrays[f"montecarlo/{k}"] = r.distribution.scores
        self.path_ = bundle.save_bundle(path, card=self.card(), networks=networks, arrays=arrays)
        return self.path_

    @classmethod
    def load(cls, path: Path | str | None = None) -> Detector:
        """Load a model folder (the shipped default when ``path`` is None) and warm it up."""
        path = Path(path) if path is not None else bundle.DEFAULT_MODEL
        files = bundle.load_bundle(path)
        card = files.card
        try:
            cfg = TrainConfig.from_dict(card["config"])
            det = cls(**{k: v for k, v in cfg.to_dict().items() if k != "extra"},
                      scorer=card.get("scorer", "auto"),
                      calibration=card.get("calibration", "auto"),
                      alpha=float(card.get("alpha", 0.05)), mc_samples=0)
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ModelError(f"{path}: bad model card ({exc})") from None
        try:
            nets = scoring.Networks(files.networks["generator"], files.networks["discriminator"],
                                    files.networks.get("encoder"), _density(files.arrays))
        except (ValueError, KeyError) as exc:  # no "features" layer: not one of our networks
            raise ModelError(f"{path}: networks are not ganmc's ({exc})") from None
        _check_shapes(path, nets, cfg.latent_dim)
        det._attach(nets)
        det.metadata_ = card.get("metadata", {})
        det.path_ = path
        summary = card.get("calibration_summary", {})
        for key, arr in files.arrays.items():
            kind, _, name = key.partition("/")
            if name not in det.scorers_:
                continue
            if kind == "holdout":
                det.holdout_scores_[name] = np.sort(arr.astype(np.float64))
            elif kind == "montecarlo":
                info = summary.get(name, {}).get("monte_carlo", {})
                rate = float(info.get("samples_per_s") or 0.0)
                det.monte_carlo_[name] = MonteCarloResult(
                    len(arr), len(arr), int(info.get("seed", 0)), name,
                    len(arr) / rate if rate else 0.0, ScoreDistribution.from_scores(arr))
        det.score_samples(np.zeros((1, 28, 28), np.uint8))  # trace now, not at the first verdict
        return det


def train_model(out: Path | str, *, data: str = "auto", digits: tuple[int, ...] | None = None,
                progress: Callable[[TrainProgress], None] | None = None,
                stop_event: threading.Event | None = None, resume: bool = False,
                **settings: Any) -> Detector:
    """Load data, train, calibrate and save a model folder: the whole ``ganmc train`` job.

    Checkpoints go to ``OUT.ckpt`` beside the folder after every epoch and are removed once
    the model is saved; ``resume=True`` continues from them. The CLI and the dashboard both
    call this.

    Args:
        out: The model folder to write.
        data: A :func:`ganmc.data.load_mnist` source.
        digits: The normal digits (``None``: all).
        progress, stop_event: See :meth:`Detector.fit`.
        resume: Continue from the checkpoint of an interrupted run.
        **settings: :class:`Detector` keyword arguments (arch, epochs, batch_size, ...).

    Returns:
        The trained detector (also saved in ``out``).
    """
    import shutil

    from ganmc.data import load_mnist
    from ganmc.train import checkpoint_dir

    det = Detector(digits=digits, **settings)
    splits = load_mnist(data, det.config.digits)
    ckpt = checkpoint_dir(out)
    det.fit(splits.x_train, data_source=splits.source, progress=progress, stop_event=stop_event,
            checkpoint=ckpt, resume=resume)
    det.save(out)
    shutil.rmtree(ckpt, ignore_errors=True)
    return det


def load_model(path: Path | str | None = None) -> Detector:
    """Load a model folder; ``None`` loads the pretrained model shipped under ``assets/``."""
    return Detector.load(path)


def _in_batches(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` over model-input images in slices of ``SCORE_BATCH``, results concatenated."""
    return np.concatenate([fn(tf.constant(x[i:i + SCORE_BATCH])).numpy()
                           for i in range(0, len(x), SCORE_BATCH)])


def _density(arrays: dict[str, np.ndarray]) -> scoring.FeatureGaussian | None:
    """The saved feature Gaussian, or None for models saved before ``mahalanobis`` existed."""
    parts = [arrays.get(f"density/{k}") for k in _DENSITY_PARTS]
    if any(p is None for p in parts):
        return None
    return scoring.FeatureGaussian(*(p.astype(np.float32) for p in parts))


def _check_shapes(path: Path, nets: scoring.Networks, latent_dim: int) -> None:
    def shape(t):
        return tuple(t.shape[1:])

    problems = []
    if shape(nets.generator.inputs[0]) != (latent_dim,):
        problems.append(f"generator takes {shape(nets.generator.inputs[0])}, card says "
                        f"({latent_dim},)")
    if shape(nets.generator.outputs[0]) != (28, 28, 1):
        problems.append(f"generator makes {shape(nets.generator.outputs[0])}")
    if shape(nets.discriminator.inputs[0]) != (28, 28, 1):
        problems.append(f"discriminator takes {shape(nets.discriminator.inputs[0])}")
    if nets.encoder is not None and shape(nets.encoder.outputs[0]) != (latent_dim,):
        problems.append(f"encoder makes {shape(nets.encoder.outputs[0])}")
    if nets.density is not None:
        n_features = int(np.prod(nets.features.outputs[0].shape[1:]))
        k, width = nets.density.components.shape
        if width != n_features or nets.density.mean.shape != (n_features,) or (
                nets.density.variances.shape != (k,)):
            problems.append(f"the feature Gaussian is over {width} features, D has {n_features}")
    if problems:
        raise ModelError(f"{path}: networks do not fit together: {'; '.join(problems)}")
