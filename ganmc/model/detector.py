"""The detector: fit on normal images, score, simulate, save and load.

PyOD's contract (:class:`ganmc.model.base.BaseDetector`): settings are keyword arguments --
``scorer`` (a name of :data:`ganmc.core.config.SCORERS` or ``auto``), ``calibration``
(:data:`ganmc.core.config.CALIBRATIONS` or ``auto``), ``alpha`` (the nominal false-alarm rate),
``mc_samples`` (Monte Carlo samples :meth:`Detector.fit` simulates for each one-pass score),
``pac_delta`` (for the PAC thresholds: the chance over the calibration draw that the
false-alarm rate is above alpha) and :class:`ganmc.core.config.TrainConfig`'s. :meth:`Detector.fit`
returns the detector and sets every fitted attribute: ``networks_``; ``scorers_`` (the
scores it has, in ``auto``'s order) and ``scorer_``; ``holdout_scores_`` (sorted, per score)
and ``holdout_digits_`` (the digit each of those images is taken for; per-digit Gaussians
only); ``combination_`` (the ``combined`` score's held-out references); ``monte_carlo_``;
``calibration_`` (the :class:`ganmc.thresholds.calibration.Threshold` in force; None when its source
has no scores, and ``predict`` says why), ``threshold_`` (its value; for ``per-digit`` the
pooled one) and ``thresholds_`` (per digit); ``notes_`` (what a loaded folder lacks, in
plain words); ``quality_`` (the quality card); ``metadata_``; ``framing_`` (how the
training pictures were put into the 28x28 frame, :data:`ganmc.core.config.FRAMINGS`: every
image the model judges is framed the same way by the CLI and the dashboard);
``examples_`` (a model of the user's own images: a few held-out normal pictures and
anomalies, for the reports); ``path_``. Only
:meth:`Detector.fit`, :meth:`~Detector.calibrate`, :meth:`~Detector.fit_digit_gaussians`,
:meth:`~Detector.assess`, :meth:`~Detector.run_monte_carlo`, ``set_params`` and
:meth:`~Detector.load` change them; reading an attribute computes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.core import scorers
from ganmc.core.config import (
    AUTO,
    DEFAULT_PAC_DELTA,
    DEFAULT_TRAIN_MC_SAMPLES,
    DIGITS,
    FRAMINGS,
    TrainConfig,
)
from ganmc.core.errors import ConfigError, ModelError, shown
from ganmc.core.naming import Names
from ganmc.core.scorers import COMPOSITE
from ganmc.images.arrays import as_images, as_labels
from ganmc.images.data import holdout_indices
from ganmc.model.base import BaseDetector
from ganmc.nets.density import fit_density, fit_shape_density
from ganmc.nets.networks import Networks
from ganmc.nets.tracker import TrainProgress
from ganmc.nets.train import fit_networks
from ganmc.scores import scoring
from ganmc.scores.combined import Combination, views_of
from ganmc.scores.inference import Inference
from ganmc.storage import modelfile
from ganmc.thresholds import quality
from ganmc.thresholds.calibration import Threshold, check_calibration_name
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.montecarlo import MonteCarloResult, simulate
from ganmc.thresholds.ranks import check_enough, min_images

log = logging.getLogger(__name__)
#: Held-out normal pictures (and anomalies) a model of the user's own images keeps as examples.
N_EXAMPLES = 64


class Detector(BaseDetector):
    """A GAN anomaly detector for 28x28 images (settings and fitted attributes: the module's
    text; the decision part: :class:`ganmc.model.base.BaseDetector`)."""

    def __init__(self, *, scorer: str = AUTO, calibration: str = AUTO,
                 alpha: float = Level().alpha, mc_samples: int = DEFAULT_TRAIN_MC_SAMPLES,
                 pac_delta: float = DEFAULT_PAC_DELTA, **training: Any):
        """``training``: :class:`ganmc.core.config.TrainConfig`'s settings (arch, digits, preset,
        steps, ..., seed), whose defaults and checks are written there once; ``digits``
        None means all ten."""
        self.config = TrainConfig.of(training)
        self._choices(scorer, calibration, alpha, mc_samples, pac_delta)
        self.networks_: Networks | None = None
        self.scorers_: tuple[str, ...] = ()
        self.scorer_: str | None = None
        self.holdout_scores_: dict[str, np.ndarray] = {}
        self.holdout_digits_: dict[str, np.ndarray] = {}
        self.combination_: Combination | None = None
        self.monte_carlo_: dict[str, MonteCarloResult] = {}
        self.calibration_: Threshold | None = None
        self.threshold_: float | None = None
        self.thresholds_: dict[int, float] = {}
        self.notes_: list[str] = []
        self.quality_: dict[str, Any] | None = None
        self.metadata_: dict[str, Any] = {}
        self.framing_: str = DIGITS
        self.examples_: dict[str, np.ndarray] = {}
        self.path_: Path | None = None
        self._inference: Inference | None = None

    @property
    def names(self) -> Names:
        """What the model's labels are called: its classes' names, or digits."""
        return Names(self.config.classes)

    @property
    def own_images(self) -> bool:
        """Whether the model was trained on the user's own images (not MNIST's digits)."""
        return bool(self.metadata_.get("own_images"))

    def fit(self, x: np.ndarray, y: np.ndarray | None = None, *,
            others: np.ndarray | None = None, data_source: str = "array",
            progress: Callable[[TrainProgress], None] | None = None,
            stop_event: threading.Event | None = None, checkpoint: Path | str | None = None,
            resume: bool = False, framing: str = DIGITS, own_images: bool = False
            ) -> Detector:
        """Train on normal images ``x`` (uint8 (N, 28, 28)), calibrate on the held-out share
        of them, simulate each one-pass score and measure the quality card.

        ``y``: each image's digit (optional): with several digits the Gaussian is fitted per
        digit and the thresholds are per digit (for a model of named classes, ``classes``,
        the class indices). ``others``: images known not to be normal, for the live quality
        curve and the card. ``data_source`` names ``x`` on the card; ``progress`` sees
        :class:`ganmc.nets.tracker.TrainProgress`; a set ``stop_event`` ends training early (the
        model is still usable); ``checkpoint``: the folder of the per-round checkpoints,
        which ``resume`` goes on from. ``framing``: how ``x`` was put into the 28x28 frame
        (the model frames every image it judges so); ``own_images``: ``x`` are the user's own
        pictures, not MNIST digits (the card's test sets are then ``others`` as the anomaly
        folder, noise and inverted images, and a few held-out pictures are kept as
        examples).
        """
        if framing not in FRAMINGS:
            raise ConfigError(f"framing must be one of {', '.join(FRAMINGS)}, not {framing!r}")
        if self.config.classes is not None and y is None:
            raise ConfigError("a model of named classes needs each image's class (y)")
        x = as_images(x, "training images")
        labels = None if y is None else as_labels(y, len(x), self.config.digits)
        others = None if others is None or not len(others) else as_images(others, "anomalies")
        i_train, i_holdout = holdout_indices(len(x), self.config.calibration_fraction,
                                             self.config.seed)
        train, holdout = x[i_train], x[i_holdout]
        train_labels = None if labels is None else labels[i_train]
        if len(holdout):  # refused before training, not after it
            share = math.ceil(100 * min_images(self.level()) / len(x)) / 100
            advice = (f"; hold out a share of at least {share:g} (--calibration-fraction), "
                      f"or none (0)" if share < 0.9 else
                      "; hold out none (0), or train on more images")
            check_enough(len(holdout), self.level(),
                         f"held-out images ({self.config.calibration_fraction:g} of {len(x):,})",
                         advice)
        if labels is not None and self.config.classes is not None:
            missing = sorted(set(self.config.digits) - set(labels[i_train].tolist()))
            if missing:
                raise ConfigError("no training images left of class " + ", ".join(
                    self.names.name(d) for d in missing) + " once the held-out share was "
                    "set aside; give it more pictures")
        self.framing_ = framing
        probe = quality.LiveProbe(train, holdout, others, self.config.seed, own_images)
        result = fit_networks(train, self.config, classes=_classes(train_labels),
                              progress=progress, stop_event=stop_event, checkpoint=checkpoint,
                              resume=resume, probe=probe)
        nets = Networks(result.generator, result.discriminator, result.encoder,
                        shape=result.shape)
        nets.density = fit_density(nets, train, self.config.feature_components, train_labels,
                                   self.config.digit_shrinkage)
        if nets.shape is not None:
            nets.shape_density = fit_shape_density(nets.shape, train, train_labels,
                                                   self.config.digit_shrinkage)
        self._attach(nets)
        self.metadata_ = result.metadata(data_source, len(train), len(holdout))
        self.metadata_["digit_labels"] = labels is not None
        self.metadata_["own_images"] = own_images
        self.examples_ = {}
        if own_images:  # for the reports: the model's own pictures, never trained on
            self.examples_ = {"normal": holdout[:N_EXAMPLES]}
            if others is not None:
                self.examples_["anomaly"] = others[:N_EXAMPLES]
        self.holdout_scores_, self.holdout_digits_, self.combination_ = {}, {}, None
        self.monte_carlo_, self.notes_ = {}, []
        if len(holdout):
            self.calibrate(holdout, stop_event=stop_event)
        if self.mc_samples and stop_event is not None and stop_event.is_set():
            self.notes_.append("stopped: no Monte Carlo simulation was run at the end of "
                               "training")
        elif self.mc_samples:
            for name in (s for s in self.scorers_ if s in scorers.ONE_PASS):
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
        """Measure the quality card (``quality_``) of the score in use on held-out normal
        images (never trained on), ``others`` (images known not to be normal, optional) and
        the synthetic anomaly sets, with the verdicts' own rule."""
        x = as_images(x_normal, "held-out images")
        sets = quality.anomaly_sets(x, others, quality.CARD_N, self.config.seed,
                                    self.own_images)
        rule = self._fitted().calibration_of(self.scorer_, self.calibration)

        def flags(images: np.ndarray, scores: np.ndarray, level: Level) -> np.ndarray:
            return rule.at(level).flags(scores, self.predict_digit(images))

        self.quality_ = quality.assess(self.score_samples, flags, x, sets,
                                       scorer=self.scorer_, preset=self.config.preset,
                                       normal_words="images" if self.own_images else "digits")
        return self



    def assess_handwriting(self, data: dict[str, np.ndarray], source: str) -> Detector:
        """Add to the quality card (``quality_["handwriting"]``) how the verdicts hold on
        other people's handwriting: ``data`` as :func:`ganmc.thresholds.handwriting.read` gives it,
        judged by the card's rule at its detection level."""
        from ganmc.thresholds.handwriting import measure

        if self.quality_ is None:
            raise ModelError("measure the quality card first (assess)")
        rule = self._fitted().calibration_of(self.scorer_, self.calibration,
                                             level=Level(quality.DETECTION_ALPHA))

        def judge(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            s = self.score_samples(x)
            return s, rule.flags(s, self.predict_digit(x))

        self.quality_ = {**self.quality_, "handwriting": measure(judge, data, source)}
        return self

    def calibrate(self, x_normal: np.ndarray, *, stop_event: threading.Event | None = None,
                  name: str | None = None, sources: list[str] | None = None,
                  scorers: tuple[str, ...] | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> Detector:
        """Score real normal images never trained on under every score (``scorers``: only
        these; the others lose their hold-out threshold, said in ``notes_``): the conformal
        thresholds and the ``combined`` score's references (a stored Monte Carlo run of
        ``combined`` read the old ones and goes). Once ``stop_event`` is set the slow
        ``latent-search`` is left out (said in ``notes_``). ``name``: the user's own images
        (``ganmc calibrate``): the card records the name, size and ``sources``.
        ``progress(score, done, total)`` is told as the images are scored.

        Raises:
            ConfigError: If there are fewer images than a threshold at the detector's level
                needs (:func:`ganmc.thresholds.ranks.check_enough`), or the name is unusable.
        """
        x = as_images(x_normal, "calibration images")
        if name is not None:
            name = check_calibration_name(name)
        check_enough(len(x), self.level())
        nets = self._fitted().networks_
        names = tuple(n for n in self.scorers_ if n not in COMPOSITE
                      and (scorers is None or n in scorers))
        left_out = [n for n in self.scorers_ if n not in COMPOSITE and n not in names]
        scores, skipped = scoring.holdout_scores(
            lambda part, n: self.score_samples(part, scorer=n), x, names, stop_event, progress)
        for composite in COMPOSITE:  # made of the views rescored below
            self.monte_carlo_.pop(composite, None)
        mains, guards = views_of(scoring.parts_of(nets), len(self.config.digits))
        self.combination_ = None
        if scoring.viewable(nets, mains + guards):
            views = self._inference.views(x, mains + guards)
            self.combination_ = Combination.fit(mains, views, guards)
            scores["combined"] = self.combination_.held_out_scores(views)
        self._attach(nets)
        digits = self.predict_digit(x)
        self.holdout_scores_, self.holdout_digits_ = {}, {}
        for score_name, s in scores.items():
            order = np.argsort(s, kind="stable")
            self.holdout_scores_[score_name] = s[order]
            if digits is not None:
                self.holdout_digits_[score_name] = digits[order]
        if name is not None:  # the card's rates were measured at the thresholds before
            self.notes_, self.quality_ = [], self.quality_ and {**self.quality_,
                                                                "before_calibration": name}
            self.metadata_ = {**self.metadata_, "calibration_set": {
                "name": name, "n": len(x), "at": _now(),
                "sources": [shown(s, 200) for s in sorted(set(sources or []))[:50]]}}
        self.notes_ += [f"stopped before {n} was calibrated: it has no hold-out threshold"
                        for n in skipped]
        self.notes_ += [f"{n} was not calibrated on these images: it has no hold-out threshold"
                        for n in left_out]
        self._resolve()
        return self

    def fit_digit_gaussians(self, x_train: np.ndarray, y_train: np.ndarray,
                            x_holdout: np.ndarray, *,
                            progress: Callable[[str], None] | None = None) -> Detector:
        """Refit the feature Gaussian per digit from labelled training images, calibrate
        again on ``x_holdout`` (so every score's held-out images have their digits) and
        re-run the stored Monte Carlo runs of the scores that read the Gaussian
        (``scorers.GAUSSIAN``) at their size and seed. Sets ``networks_.density`` and what
        :meth:`calibrate` and :meth:`run_monte_carlo` set."""
        say = progress or (lambda _: None)
        say(f"fitting per-digit Gaussians on {len(x_train):,} training digits")
        nets = self._fitted().networks_
        nets.density = fit_density(nets, as_images(x_train, "training images"),
                                   self.config.feature_components,
                                   as_labels(y_train, len(x_train), self.config.digits),
                                   self.config.digit_shrinkage)
        self._inference = None  # its compiled functions read the old Gaussian
        self._attach(nets)
        self.metadata_ = {**self.metadata_, "digit_labels": True}
        self.notes_ = []
        old_runs = {n: self.monte_carlo_.pop(n) for n in scorers.GAUSSIAN
                    if n in self.monte_carlo_}  # calibrate drops the combined one
        say(f"scoring the {len(x_holdout):,} held-out digits")
        self.calibrate(x_holdout)
        for name, old in old_runs.items():
            if name in self.scorers_:
                say(f"simulating {old.n:,} generated images for {name} (seed {old.seed})")
                self.run_monte_carlo(old.n, seed=old.seed, scorer=name)
        self._resolve()
        return self

    def _attach(self, networks: Networks) -> None:
        if self.networks_ is not networks or self._inference is None:
            self.networks_, self._inference = networks, Inference(networks, self.config)
        self.scorers_ = scoring.available(networks, self.config.digits,
                                          self.combination_ is not None)

    def score_samples(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """Anomaly scores, higher = more anomalous: float64 (N,) of uint8 MNIST-format
        images (N, 28, 28) (or as :func:`ganmc.images.arrays.as_images`); ``scorer`` overrides the
        score in use."""
        name = scorers.resolve(scorer or self._fitted().scorer_, self.scorers_)
        return self._inference.scores(as_images(x, "images"), name,
                                      self.combination_)

    def score_reasons(self, x: np.ndarray, *, scorer: str | None = None
                      ) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
        name = scorers.resolve(scorer or self._fitted().scorer_, self.scorers_)
        if name not in COMPOSITE or self.combination_ is None:
            return self.score_samples(x, scorer=name), None, self.predict_digit(x)
        # the default score of the shipped model: scores, reasons and digits in one pass
        return self._inference.combined(as_images(x, "images"), self.combination_)

    def predict_digit(self, x: np.ndarray) -> np.ndarray | None:
        """The digit each image is taken for (its nearest per-digit Gaussian), int64 (N,);
        None for a model without per-digit Gaussians."""
        return self._fitted()._inference.digits(as_images(x, "images"))

    def can_reconstruct(self, scorer: str | None = None) -> bool:
        """Whether :meth:`reconstruct` works for this score (G(E(x)) needs an encoder)."""
        nets = self._fitted().networks_
        return scorers.REGISTRY[scorer or self.scorer_].searches or nets.encoder is not None

    def reconstruct(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """What the model makes of x, uint8: G(E(x)), or G(z*) for ``latent-search``."""
        if not self.can_reconstruct(scorer):
            raise ConfigError("reconstruction needs an encoder; this model has none")
        return self._inference.reconstruct(as_images(x, "images"),
                                           scorers.REGISTRY[scorer or self.scorer_].searches)

    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n generated images, uint8 (n, 28, 28)."""
        return self._fitted()._inference.generate(n, seed)

    def sample_scores(self, n: int, seed: int, index: int, scorer: str | None = None,
                      precision: str = "float32") -> np.ndarray:
        """Generate n images from latent batch (seed, index) and score them, in one graph
        (the :class:`ganmc.thresholds.montecarlo.Sampler` interface)."""
        name = scorers.resolve(scorer or self._fitted().scorer_, self.scorers_)
        return self._inference.sample(n, seed, index, name,
                                      scoring.resolve_precision(precision), self.combination_)

    def run_monte_carlo(self, n_samples: int, *, seed: int = 0, batch_size: int | None = None,
                        scorer: str | None = None, precision: str = "float32",
                        progress: Callable[[MonteCarloResult], None] | None = None
                        ) -> MonteCarloResult:
        """Simulate n_samples generated images, store the result for the score
        (``monte_carlo_``) and re-choose the threshold. ``ganmc.app.service.simulate`` runs one
        without storing it."""
        self._fitted()
        name = scorers.resolve(scorer or self.scorer_, self.scorers_)
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
                              self.calibration, self.level(), self.holdout_scores_,
                              self.monte_carlo_, self.holdout_digits_, self.quality_,
                              self.combination_, self.pac_delta, self.framing_)

    def save(self, path: Path | str) -> Path:
        """Write the model folder atomically (see :mod:`ganmc.storage.modelfile`)."""
        self._fitted()
        self.path_ = modelfile.save(path, self.card(), self.networks_, self.holdout_scores_,
                                    self.monte_carlo_, self.holdout_digits_,
                                    self.combination_, self.examples_)
        return self.path_

    @classmethod
    def load(cls, path: Path | str | None = None) -> Detector:
        """Load a model folder (the shipped one when ``path`` is None) and warm it up.
        Nothing is simulated: what the folder lacks is said in ``notes_``."""
        loaded = modelfile.load(path)
        try:
            det = cls(**loaded.settings(), mc_samples=0)
        except (TypeError, ValueError, ConfigError) as exc:
            raise ModelError(f"{loaded.path}: bad model card ({exc})") from None
        det.combination_, det.notes_, det.metadata_ = (loaded.combination, loaded.notes,
                                                       loaded.metadata)
        det.holdout_scores_, det.holdout_digits_ = loaded.holdout, loaded.holdout_digits
        det.monte_carlo_, det.quality_, det.path_ = (loaded.monte_carlo, loaded.quality,
                                                     loaded.path)
        det.framing_, det.examples_ = loaded.framing, loaded.examples
        det._attach(loaded.networks)
        det._resolve()
        det.score_samples(np.zeros((1, 28, 28), np.uint8))  # trace now, not at the first verdict
        return det


def _classes(labels: np.ndarray | None) -> np.ndarray | None:
    """The shape network's class of each training image: the index of its digit among the
    digits the labels hold (:func:`ganmc.scores.scoring.digit_graph` maps them back through the
    shape Gaussian's digits, the same sorted digits); None without labels."""
    return None if labels is None else np.searchsorted(np.unique(labels), labels)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def load_model(path: Path | str | None = None) -> Detector:
    """Load a model folder; ``None`` loads the pretrained model shipped under ``assets/``."""
    return Detector.load(path)
