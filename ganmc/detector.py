"""The detector: fit on normal images, score, judge, simulate, save and load.

It follows the PyOD ``BaseDetector`` contract: settings are keyword arguments; :meth:`fit`
returns ``self`` and sets every fitted attribute (ending in ``_``); :meth:`decision_function`
gives raw scores, higher = more anomalous; :meth:`predict` gives 1 for an anomaly and 0 for a
normal image by ``threshold_``. Reading an attribute never computes or stores anything: the
fitted attributes are set by :meth:`fit`, :meth:`calibrate`, :meth:`run_monte_carlo`,
:meth:`set_params` and :meth:`load`, which say so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ganmc import modelfile, quality, scoring
from ganmc.arrays import as_images
from ganmc.calibration import Calibration, Level, ScoreDistribution, choose
from ganmc.config import (
    AUTO,
    CALIBRATIONS,
    DEFAULT_DIGIT_SHRINKAGE,
    DEFAULT_FEATURE_COMPONENTS,
    DEFAULT_KAPPA,
    DEFAULT_SEARCH_STEPS,
    DEFAULT_TRAIN_MC_SAMPLES,
    SCORERS,
    TrainConfig,
    checked_choice,
)
from ganmc.data import holdout_indices
from ganmc.density import fit_density
from ganmc.errors import ConfigError, ModelError
from ganmc.montecarlo import MonteCarloResult, simulate
from ganmc.networks import Networks
from ganmc.preprocess import from_model_output, to_model_input
from ganmc.train import TrainProgress, fit_networks
from ganmc.verdict import Verdict, judge

log = logging.getLogger(__name__)



class Detector:
    """A GAN anomaly detector for 28x28 images.

    Training settings are :class:`ganmc.TrainConfig`'s. ``scorer``: a name of
    :data:`ganmc.config.SCORERS` or ``auto`` (:func:`ganmc.scoring.available`);
    ``calibration``: ``holdout``, ``monte-carlo`` or ``auto`` (:func:`ganmc.calibration.choose`);
    ``alpha``: the nominal false-alarm rate; ``mc_samples``: Monte Carlo samples simulated by
    :meth:`fit` for each one-pass score.

    Fitted attributes: ``networks_``, ``scorers_`` (the scores this model has, in the order
    ``auto`` prefers them), ``scorer_`` (the one in use), ``holdout_scores_`` (sorted, per
    score), ``holdout_digits_`` (the digit each of those held-out images is taken for, in the
    same order; only for per-digit Gaussians), ``monte_carlo_``, ``calibration_``,
    ``threshold_`` (``None`` when the chosen source has no scores: :meth:`predict` then says
    why; for a ``per-digit`` calibration the pooled threshold, which a digit with too few
    held-out images falls back to) and ``thresholds_`` (per digit, for ``per-digit``),
    ``notes_`` (what a loaded folder lacks, in plain words), ``quality_`` (the quality card,
    :func:`ganmc.quality.assess`; ``None`` for models from before it), ``metadata_`` (with the
    live quality curve), ``path_``.
    """

    def __init__(self, *, arch: str | None = TrainConfig.arch,
                 digits: tuple[int, ...] | None = None,
                 preset: str = TrainConfig.preset, steps: int | None = None,
                 encoder_steps: int | None = None, epochs: int | None = None,
                 encoder_epochs: int | None = None,
                 batch_size: int | None = None, latent_dim: int | None = None,
                 learning_rate: float = 2e-4, beta_1: float = 0.5, kappa: float = DEFAULT_KAPPA,
                 search_steps: int = DEFAULT_SEARCH_STEPS,
                 feature_components: int = DEFAULT_FEATURE_COMPONENTS,
                 digit_shrinkage: float = DEFAULT_DIGIT_SHRINKAGE,
                 calibration_fraction: float = TrainConfig.calibration_fraction,
                 rotation_weight: float = TrainConfig.rotation_weight,
                 jigsaw_weight: float = TrainConfig.jigsaw_weight, seed: int = 0,
                 precision: str = AUTO, jit_compile: bool | None = None, scorer: str = AUTO,
                 calibration: str = AUTO, alpha: float = Level().alpha,
                 mc_samples: int = DEFAULT_TRAIN_MC_SAMPLES):
        self.config = TrainConfig(
            arch=arch, digits=tuple(range(10)) if digits is None else tuple(digits),
            preset=preset, steps=steps, encoder_steps=encoder_steps, epochs=epochs,
            encoder_epochs=encoder_epochs, batch_size=batch_size,
            latent_dim=latent_dim, learning_rate=learning_rate, beta_1=beta_1, kappa=kappa,
            search_steps=search_steps, feature_components=feature_components,
            digit_shrinkage=digit_shrinkage, calibration_fraction=calibration_fraction,
            rotation_weight=rotation_weight, jigsaw_weight=jigsaw_weight, seed=seed,
            precision=precision,
            jit_compile=jit_compile)
        self.scorer, self.calibration, self.alpha = _checked(scorer, calibration, alpha)
        self.mc_samples = _checked_samples(mc_samples)
        self.networks_: Networks | None = None
        self.scorers_: tuple[str, ...] = ()
        self.scorer_: str | None = None
        self.holdout_scores_: dict[str, np.ndarray] = {}
        self.holdout_digits_: dict[str, np.ndarray] = {}
        self.monte_carlo_: dict[str, MonteCarloResult] = {}
        self.calibration_: Calibration | None = None
        self.threshold_: float | None = None
        self.thresholds_: dict[int, float] = {}
        self.notes_: list[str] = []
        self.quality_: dict[str, Any] | None = None
        self.metadata_: dict[str, Any] = {}
        self.path_: Path | None = None
        self._compiled: scoring.CompiledScorers | None = None

    def fit(self, x: np.ndarray, y: np.ndarray | None = None, *,
            others: np.ndarray | None = None, data_source: str = "array",
            progress: Callable[[TrainProgress], None] | None = None,
            stop_event: threading.Event | None = None, checkpoint: Path | str | None = None,
            resume: bool = False) -> Detector:
        """Train on normal images ``x`` (uint8 (N, 28, 28)), then calibrate on the held-out
        share of them, simulate each one-pass score and assess the model (``quality_``).

        ``y``: the digit of each image (optional, as in scikit-learn): with two or more
        digits the ``mahalanobis`` Gaussian is fitted per digit, and the held-out images are
        grouped by the digit each is taken for (the ``per-digit`` threshold).
        ``others``: images known not to be normal (e.g. the other digits' test images), for
        the live quality curve and the quality card; synthetic anomalies are used either way.
        ``data_source`` names ``x`` in the model card; ``progress`` sees
        :class:`ganmc.train.TrainProgress` reports; a set ``stop_event`` ends training early
        (the model is still usable); ``checkpoint`` is the folder for the per-round
        checkpoints, which ``resume`` goes on from.
        """
        x = as_images(x, "training images")
        labels = None if y is None else self._checked_labels(y, len(x))
        others = None if others is None or not len(others) else as_images(others, "anomalies")
        i_train, i_holdout = holdout_indices(len(x), self.config.calibration_fraction,
                                             self.config.seed)
        train, holdout = x[i_train], x[i_holdout]
        probe = quality.LiveProbe(train, holdout, others, self.config.seed)
        result = fit_networks(train, self.config, progress=progress, stop_event=stop_event,
                              checkpoint=checkpoint, resume=resume, probe=probe)
        nets = Networks(result.generator, result.discriminator, result.encoder)
        nets.density = fit_density(nets, train, self.config.feature_components,
                                   None if labels is None else labels[i_train],
                                   self.config.digit_shrinkage)
        self._attach(nets)
        self.metadata_ = result.metadata(data_source, len(train), len(holdout))
        self.metadata_["digit_labels"] = labels is not None
        self.holdout_scores_, self.holdout_digits_ = {}, {}
        self.monte_carlo_, self.notes_ = {}, []
        if len(holdout):
            self.calibrate(holdout, stop_event=stop_event)
        if self.mc_samples and stop_event is not None and stop_event.is_set():
            self.notes_.append("stopped: no Monte Carlo simulation was run at the end of "
                               "training")
        elif self.mc_samples:
            for name in (s for s in self.scorers_ if s in scoring.ONE_PASS):
                self.run_monte_carlo(self.mc_samples, seed=self.config.seed, scorer=name)
        self._resolve()
        self.quality_ = None
        if stop_event is not None and stop_event.is_set():
            self.notes_.append("stopped: no quality card was measured (ganmc assess measures "
                               "it)")
        elif len(holdout) and self.threshold_ is not None:
            self.assess(holdout, others)
        return self

    def assess(self, x_normal: np.ndarray, others: np.ndarray | None = None) -> Detector:
        """Measure the quality card (``quality_``) for the score in use: held-out normal
        images ``x_normal`` (never trained on) against ``others`` (images known not to be
        normal, optional) and the synthetic anomaly sets. Sets ``quality_``."""
        x = as_images(x_normal, "held-out images")
        sets = quality.anomaly_sets(x, others, quality.CARD_N, self.config.seed)
        cal = self._fitted().calibration_of(self.scorer_, self.calibration)

        def thresholds(alpha: float, images: np.ndarray) -> np.ndarray | float:
            if cal.groups is None:
                return cal.threshold(alpha)
            return cal.thresholds(alpha, self.predict_digit(images))  # the verdicts' rule

        self.quality_ = quality.assess(self.score_samples, thresholds, x, sets,
                                       scorer=self.scorer_, preset=self.config.preset)
        return self

    def _checked_labels(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,) or y.dtype.kind not in "iu":
            raise ConfigError(f"labels must be {n} whole numbers, one per image, not "
                              f"{y.dtype} of shape {y.shape}")
        foreign = sorted(set(np.unique(y).tolist()) - set(self.config.digits))
        if foreign:
            raise ConfigError(f"labels {foreign} are not among the normal digits "
                              f"{list(self.config.digits)}")
        return y.astype(np.int64)

    def calibrate(self, x_normal: np.ndarray, *, stop_event: threading.Event | None = None
                  ) -> Detector:
        """Score real normal images never trained on, for the conformal ``holdout`` and
        ``per-digit`` thresholds.

        Sets ``holdout_scores_`` (and ``holdout_digits_`` for per-digit Gaussians) and
        re-chooses the threshold. Once ``stop_event`` is set the slow ``latent-search`` is
        left uncalibrated (said in ``notes_``); the one-pass scores take a second.
        """
        x = as_images(x_normal, "calibration images")
        scores, skipped = scoring.holdout_scores(
            lambda part, name: self.score_samples(part, scorer=name), x,
            self._fitted().scorers_, stop_event)
        digits = self.predict_digit(x)
        self.holdout_scores_, self.holdout_digits_ = {}, {}
        for name, s in scores.items():
            order = np.argsort(s, kind="stable")
            self.holdout_scores_[name] = s[order]
            if digits is not None:
                self.holdout_digits_[name] = digits[order]
        self.notes_ += [f"stopped before {name} was calibrated: it has no hold-out threshold"
                        for name in skipped]
        self._resolve()
        return self

    def set_params(self, **params: Any) -> Detector:
        """Change ``scorer``, ``calibration``, ``alpha`` or ``mc_samples`` and re-choose the
        threshold (scikit-learn's name; training settings need a new detector)."""
        unknown = set(params) - {"scorer", "calibration", "alpha", "mc_samples"}
        if unknown:
            raise ConfigError(f"cannot change {', '.join(sorted(unknown))} after creation; "
                              f"make a new Detector")
        self.scorer, self.calibration, self.alpha = _checked(
            params.get("scorer", self.scorer), params.get("calibration", self.calibration),
            params.get("alpha", self.alpha))
        self.mc_samples = _checked_samples(params.get("mc_samples", self.mc_samples))
        if self.networks_ is not None:
            self._resolve()
        return self

    def _attach(self, networks: Networks) -> None:
        self.networks_ = networks
        self.scorers_ = scoring.available(networks, self.config.digits)
        self._compiled = scoring.CompiledScorers(networks)

    def _resolve(self) -> None:
        """Set ``scorer_``, ``calibration_`` and ``threshold_`` from the settings."""
        self.scorer_ = scoring.resolve_scorer(self.scorer, self.scorers_)
        try:
            self.calibration_ = self.calibration_of(self.scorer_, self.calibration)
            self.threshold_ = self.calibration_.threshold(self.alpha)
            self.thresholds_ = {d: self.calibration_.threshold(self.alpha, d)
                                for d in self.config.digits} if self.calibration_.groups else {}
        except ConfigError:  # predict() says why
            self.calibration_, self.threshold_, self.thresholds_ = None, None, {}

    def _fitted(self) -> Detector:
        if self.networks_ is None:
            raise ModelError("this detector is not trained yet: call fit() or load a model")
        return self

    def calibration_of(self, scorer: str, source: str = AUTO,
                       monte_carlo: MonteCarloResult | None = None) -> Calibration:
        """The calibration of ``scorer`` from ``source`` by :func:`ganmc.calibration.choose`
        (``monte_carlo``: a run to use instead of the stored one). Nothing is simulated: a
        source without scores raises ConfigError."""
        holdout = self.holdout_scores_.get(scorer)
        digits = self.holdout_digits_.get(scorer)
        mc = monte_carlo or self.monte_carlo_.get(scorer)
        groups = None if holdout is None or digits is None else {
            int(d): ScoreDistribution.from_scores(holdout[digits == d])
            for d in np.unique(digits) if d >= 0}
        return choose(source, scorer=scorer,
                      holdout=None if holdout is None else ScoreDistribution.from_scores(holdout),
                      monte_carlo=None if mc is None else mc.distribution,
                      holdout_groups=groups)

    def _threshold(self) -> float:
        if self.threshold_ is None:
            self._fitted().calibration_of(self.scorer_, self.calibration)  # raises the reason
        return self.threshold_

    def score_samples(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """Anomaly scores, higher = more anomalous.

        Args:
            x: uint8 MNIST-format images (N, 28, 28) (or as :func:`ganmc.arrays.as_images`).
            scorer: Override the score in use.

        Returns:
            float64 (N,).
        """
        self._fitted()
        name = scoring.resolve_scorer(scorer or self.scorer_, self.scorers_)
        x = to_model_input(as_images(x, "images"))
        fn = self._compiled.images(name, self.config.kappa, self.config.search_steps)
        scores = scoring.in_batches(fn, x).astype(np.float64)
        if not np.isfinite(scores).all():
            raise ModelError("the model returned NaN/inf scores; it is broken, retrain it")
        return scores

    def predict_digit(self, x: np.ndarray) -> np.ndarray | None:
        """The digit each image is taken for (its nearest per-digit Gaussian), int64 (N,);
        None for a model without per-digit Gaussians."""
        density = self._fitted().networks_.density
        if density is None or not density.per_digit:
            return None
        x = to_model_input(as_images(x, "images"))
        return scoring.in_batches(self._compiled.images("digit", self.config.kappa,
                                                        self.config.search_steps), x)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw anomaly scores of the score in use, higher = more anomalous (PyOD's meaning)."""
        return self.score_samples(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 for an anomaly (score above ``threshold_``, or for a ``per-digit`` calibration
        above the threshold of the digit the image is taken for), 0 for a normal image."""
        threshold = self._threshold()
        if self.calibration_.groups is not None:
            threshold = self.calibration_.thresholds(self.alpha, self.predict_digit(x))
        return (self.score_samples(x) > threshold).astype(np.int64)

    def verdicts(self, x: np.ndarray, *, scorer: str | None = None,
                 calibration: Calibration | None = None, alpha: float | None = None
                 ) -> list[Verdict]:
        """Score, p-value, percentile rank and NORMAL/ANOMALY for each image.

        The keyword arguments override the fitted choices for this call only, so one loaded
        model can serve several users with different settings at once.
        """
        if calibration is None:
            self._threshold()
            calibration = (self.calibration_ if scorer in (None, self.scorer_)
                           else self.calibration_of(scorer, self.calibration))
        alpha = self.alpha if alpha is None else Level(alpha).alpha
        return judge(self.score_samples(x, scorer=scorer), calibration, alpha,
                     self.predict_digit(x))

    def can_reconstruct(self, scorer: str | None = None) -> bool:
        """Whether :meth:`reconstruct` works for this score (G(E(x)) needs an encoder)."""
        nets = self._fitted().networks_
        return (scorer or self.scorer_) == "latent-search" or nets.encoder is not None

    def reconstruct(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """What the model makes of x, uint8: G(E(x)), or G(z*) for ``latent-search``."""
        if not self.can_reconstruct(scorer):
            raise ConfigError("reconstruction needs an encoder; this model has none")
        x = to_model_input(as_images(x, "images"))
        return from_model_output(self._compiled.reconstruct(
            x, (scorer or self.scorer_) == "latent-search", self.config.kappa,
            self.config.search_steps))

    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n generated images, uint8 (n, 28, 28)."""
        z = tf.random.stateless_normal([n, self.config.latent_dim], seed=[seed, 0])
        return from_model_output(self._fitted().networks_.generator(z, training=False))

    def sample_scores(self, n: int, seed: int, index: int, scorer: str | None = None,
                      precision: str = "float32") -> np.ndarray:
        """Generate n images from latent batch (seed, index) and score them, in one graph.

        The :class:`ganmc.montecarlo.Sampler` interface.
        """
        self._fitted()
        name = scoring.resolve_scorer(scorer or self.scorer_, self.scorers_)
        fn = self._compiled.samples(name, scoring.resolve_precision(precision),
                                    self.config.latent_dim, self.config.kappa,
                                    self.config.search_steps)
        return fn(tf.constant(n, tf.int32), tf.constant([seed, index], tf.int32)).numpy()

    def run_monte_carlo(self, n_samples: int, *, seed: int = 0, batch_size: int | None = None,
                        scorer: str | None = None, precision: str = "float32",
                        progress: Callable[[MonteCarloResult], None] | None = None
                        ) -> MonteCarloResult:
        """Simulate n_samples generated images, store the result for the score
        (``monte_carlo_``) and re-choose the threshold. ``ganmc.service.simulate`` runs one
        without storing it."""
        self._fitted()
        name = scoring.resolve_scorer(scorer or self.scorer_, self.scorers_)
        result = simulate(self, n_samples, seed=seed,
                          batch_size=batch_size or scoring.default_batch_size(name), scorer=name,
                          precision=precision, progress=progress)
        self.monte_carlo_[name] = result
        if self.scorer_ is not None:
            self._resolve()
        return result

    def card(self) -> dict[str, Any]:
        """The model card: settings, training metadata and calibration summary."""
        self._fitted()
        return modelfile.card(self.config, self.metadata_, self.scorers_, self.scorer,
                              self.calibration, self.alpha, self.holdout_scores_,
                              self.monte_carlo_, self.holdout_digits_, self.quality_)

    def save(self, path: Path | str) -> Path:
        """Write the model folder atomically (see :mod:`ganmc.modelfile`)."""
        self._fitted()
        self.path_ = modelfile.save(path, self.card(), self.networks_, self.holdout_scores_,
                                    self.monte_carlo_, self.holdout_digits_)
        return self.path_

    @classmethod
    def load(cls, path: Path | str | None = None) -> Detector:
        """Load a model folder (the shipped one when ``path`` is None) and warm it up.

        Nothing is simulated: what the folder lacks is said in ``notes_``.
        """
        loaded = modelfile.load(path)
        try:
            det = cls(**loaded.settings(), mc_samples=0)
        except (TypeError, ValueError, ConfigError) as exc:
            raise ModelError(f"{loaded.path}: bad model card ({exc})") from None
        det._attach(loaded.networks)
        det.notes_, det.metadata_, det.path_ = loaded.notes, loaded.metadata, loaded.path
        det.holdout_scores_, det.monte_carlo_ = loaded.holdout, loaded.monte_carlo
        det.holdout_digits_ = loaded.holdout_digits
        det.quality_ = loaded.quality
        det._resolve()
        det.score_samples(np.zeros((1, 28, 28), np.uint8))  # trace now, not at the first verdict
        return det


def _checked_samples(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"mc_samples must be a whole number >= 0, not {n!r}")
    return n


def load_model(path: Path | str | None = None) -> Detector:
    """Load a model folder; ``None`` loads the pretrained model shipped under ``assets/``."""
    return Detector.load(path)


def _checked(scorer: str, calibration: str, alpha: float) -> tuple[str, str, float]:
    return (checked_choice("scorer", scorer, SCORERS),
            checked_choice("calibration", calibration, CALIBRATIONS), Level(alpha).alpha)
