"""The detector: fit on normal images, score, simulate, save and load.

PyOD's contract (:class:`ganmc.base.BaseDetector`): settings are keyword arguments --
``scorer`` (a name of :data:`ganmc.config.SCORERS` or ``auto``), ``calibration``
(:data:`ganmc.config.CALIBRATIONS` or ``auto``), ``alpha`` (the nominal false-alarm rate),
``mc_samples`` (Monte Carlo samples :meth:`Detector.fit` simulates for each one-pass score)
and :class:`ganmc.config.TrainConfig`'s. :meth:`Detector.fit` returns the detector and sets
every fitted attribute: ``networks_``; ``scorers_`` (the scores it has, in ``auto``'s order)
and ``scorer_``; ``holdout_scores_`` (sorted, per score) and ``holdout_digits_`` (the digit
each of those images is taken for; per-digit Gaussians only); ``combination_`` (the
``combined`` score's held-out references); ``monte_carlo_``; ``calibration_`` (the
:class:`ganmc.calibration.Threshold` in force; None when its source has no scores, and
``predict`` says why), ``threshold_`` (its value; for ``per-digit`` the pooled one) and
``thresholds_`` (per digit); ``notes_`` (what a loaded folder lacks, in plain words);
``quality_`` (the quality card); ``metadata_``; ``framing_`` (how the training pictures
were put into the 28x28 frame, :data:`ganmc.config.FRAMINGS`: every image the model judges
is framed the same way by the CLI and the dashboard); ``examples_`` (a model of the user's
own images: a few held-out normal pictures and anomalies, for the reports); ``path_``. Only
:meth:`Detector.fit`, :meth:`~Detector.calibrate`, :meth:`~Detector.fit_digit_gaussians`,
:meth:`~Detector.assess`, :meth:`~Detector.run_monte_carlo`, ``set_params`` and
:meth:`~Detector.load` change them; reading an attribute computes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganmc import modelfile, quality, scoring
from ganmc.arrays import as_images, as_labels
from ganmc.base import BaseDetector
from ganmc.calibration import Level, Threshold
from ganmc.combined import Combination
from ganmc.config import (
    AUTO,
    DEFAULT_TRAIN_MC_SAMPLES,
    DIGITS,
    FRAMINGS,
    TrainConfig,
)
from ganmc.data import holdout_indices
from ganmc.density import fit_density
from ganmc.errors import ConfigError, ModelError
from ganmc.inference import Inference
from ganmc.montecarlo import MonteCarloResult, simulate
from ganmc.naming import Names
from ganmc.networks import Networks
from ganmc.preprocess import to_model_input
from ganmc.scorers import main_of_combined
from ganmc.train import TrainProgress, fit_networks

log = logging.getLogger(__name__)
#: Held-out normal pictures (and anomalies) a model of the user's own images keeps as examples.
N_EXAMPLES = 64


class Detector(BaseDetector):
    """A GAN anomaly detector for 28x28 images (settings and fitted attributes: the module's
    text; the decision part: :class:`ganmc.base.BaseDetector`)."""

    def __init__(self, *, scorer: str = AUTO, calibration: str = AUTO,
                 alpha: float = Level().alpha, mc_samples: int = DEFAULT_TRAIN_MC_SAMPLES,
                 **training: Any):
        """``training``: :class:`ganmc.config.TrainConfig`'s settings (arch, digits, preset,
        steps, ..., seed), whose defaults and checks are written there once; ``digits``
        None means all ten."""
        self.config = TrainConfig.of(training)
        self._choices(scorer, calibration, alpha, mc_samples)
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
        :class:`ganmc.train.TrainProgress`; a set ``stop_event`` ends training early (the
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
        if labels is not None and self.config.classes is not None:
            missing = sorted(set(self.config.digits) - set(labels[i_train].tolist()))
            if missing:
                raise ConfigError("no training images left of class " + ", ".join(
                    self.names.name(d) for d in missing) + " once the held-out share was "
                    "set aside; give it more pictures")
        self.framing_ = framing
        probe = quality.LiveProbe(train, holdout, others, self.config.seed, own_images)
        result = fit_networks(train, self.config, progress=progress, stop_event=stop_event,
                              checkpoint=checkpoint, resume=resume, probe=probe)
        nets = Networks(result.generator, result.discriminator, result.encoder)
        nets.density = fit_density(nets, train, self.config.feature_components,
                                   None if labels is None else labels[i_train],
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

    def calibrate(self, x_normal: np.ndarray, *, stop_event: threading.Event | None = None,
                  name: str | None = None, sources: list[str] | None = None) -> Detector:
        """Score real normal images never trained on under every score: the conformal
        thresholds and the ``combined`` score's references (a stored Monte Carlo run of
        ``combined`` read the old ones and goes). Once ``stop_event`` is set the slow
        ``latent-search`` is left out (said in ``notes_``). ``name``: the user's own images
        (``ganmc calibrate``): the card records the name, size and ``sources``."""
        x = as_images(x_normal, "calibration images")
        if name is not None and not name.strip():
            raise ConfigError("a calibration needs a name")
        nets = self._fitted().networks_
        names = tuple(n for n in self.scorers_ if n != "combined")
        scores, skipped = scoring.holdout_scores(
            lambda part, n: self.score_samples(part, scorer=n), x, names, stop_event)
        self.monte_carlo_.pop("combined", None)
        main, self.combination_ = main_of_combined(scoring.parts_of(nets),
                                                   len(self.config.digits)), None
        if main in scores and "discriminator" in scores:
            views = {main: scores[main], "discriminator": scores["discriminator"],
                     "grey": self._inference.grey(to_model_input(x))}
            self.combination_ = Combination.fit(main, views)
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
                "name": name.strip(), "n": len(x), "at": _now(),
                "sources": sorted(set(sources or []))[:50]}}
        self.notes_ += [f"stopped before {n} was calibrated: it has no hold-out threshold"
                        for n in skipped]
        self._resolve()
        return self

    def fit_digit_gaussians(self, x_train: np.ndarray, y_train: np.ndarray,
                            x_holdout: np.ndarray, *,
                            progress: Callable[[str], None] | None = None) -> Detector:
        """Refit the feature Gaussian per digit from labelled training images, calibrate
        again on ``x_holdout`` (so every score's held-out images have their digits) and
        re-run the stored Monte Carlo runs of the scores that read the Gaussian
        (``scoring.GAUSSIAN``) at their size and seed. Sets ``networks_.density`` and what
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
        old_runs = {n: self.monte_carlo_.pop(n) for n in scoring.GAUSSIAN
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
        images (N, 28, 28) (or as :func:`ganmc.arrays.as_images`); ``scorer`` overrides the
        score in use."""
        name = scoring.resolve_scorer(scorer or self._fitted().scorer_, self.scorers_)
        return self._inference.scores(to_model_input(as_images(x, "images")), name,
                                      self.combination_)

    def predict_digit(self, x: np.ndarray) -> np.ndarray | None:
        """The digit each image is taken for (its nearest per-digit Gaussian), int64 (N,);
        None for a model without per-digit Gaussians."""
        return self._fitted()._inference.digits(to_model_input(as_images(x, "images")))

    def can_reconstruct(self, scorer: str | None = None) -> bool:
        """Whether :meth:`reconstruct` works for this score (G(E(x)) needs an encoder)."""
        nets = self._fitted().networks_
        return (scorer or self.scorer_) == "latent-search" or nets.encoder is not None

    def reconstruct(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        """What the model makes of x, uint8: G(E(x)), or G(z*) for ``latent-search``."""
        if not self.can_reconstruct(scorer):
            raise ConfigError("reconstruction needs an encoder; this model has none")
        return self._inference.reconstruct(to_model_input(as_images(x, "images")),
                                           (scorer or self.scorer_) == "latent-search")

    def generate(self, n: int, seed: int = 0) -> np.ndarray:
        """n generated images, uint8 (n, 28, 28)."""
        return self._fitted()._inference.generate(n, seed)

    def sample_scores(self, n: int, seed: int, index: int, scorer: str | None = None,
                      precision: str = "float32") -> np.ndarray:
        """Generate n images from latent batch (seed, index) and score them, in one graph
        (the :class:`ganmc.montecarlo.Sampler` interface)."""
        name = scoring.resolve_scorer(scorer or self._fitted().scorer_, self.scorers_)
        return self._inference.sample(n, seed, index, name,
                                      scoring.resolve_precision(precision), self.combination_)

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
                              self.calibration, Level(self.alpha), self.holdout_scores_,
                              self.monte_carlo_, self.holdout_digits_, self.quality_,
                              self.combination_, self.framing_)

    def save(self, path: Path | str) -> Path:
        """Write the model folder atomically (see :mod:`ganmc.modelfile`)."""
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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def load_model(path: Path | str | None = None) -> Detector:
    """Load a model folder; ``None`` loads the pretrained model shipped under ``assets/``."""
    return Detector.load(path)
