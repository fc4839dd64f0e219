"""PyOD's ``BaseDetector`` contract, for :class:`ganmc.model.detector.Detector`: the settings that
choose a score and a threshold, and the decisions made from the fitted scores.

:meth:`decision_function` gives raw scores, higher = more anomalous; :meth:`predict` gives 1 for an
anomaly and 0 for a normal image by the threshold in force (``calibration_``, a
:class:`ganmc.thresholds.calibration.Threshold`; ``threshold_`` is its value); :meth:`verdicts`
adds the p-value and the digit each image is taken for, and warns (:class:`DriftWarning`) when the
images are not like the calibration images (:meth:`drift`). Reading an attribute never computes or
stores anything.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ganmc.core import scorers
from ganmc.core.config import (
    AUTO,
    CALIBRATIONS,
    DEFAULT_DRIFT_DELTA,
    DEFAULT_PAC_DELTA,
    DIGITS,
    SCORERS,
    checked_choice,
)
from ganmc.core.errors import ConfigError, ImageError, ModelError
from ganmc.images.arrays import as_images
from ganmc.images.preprocess import BLANK, no_digit
from ganmc.thresholds.calibration import Threshold, choose
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.guarantees import WAY_OUT, DriftAlarm, drift_alarm
from ganmc.thresholds.verdict import Verdict, judge


class DriftWarning(UserWarning):
    """:meth:`BaseDetector.verdicts` judged images that are not like the ones its threshold
    was calibrated on: the threshold's promise does not hold for them (the drift alarm)."""


class BaseDetector:
    """Scores (:meth:`score_samples`, :meth:`predict_digit`) come from the subclass; the
    fitted scores it keeps (``holdout_scores_``, ``holdout_digits_``, ``monte_carlo_``)
    give the thresholds."""

    scorer: str
    calibration: str
    alpha: float
    mc_samples: int
    pac_delta: float
    networks_: Any
    scorers_: tuple[str, ...]
    holdout_scores_: dict[str, np.ndarray]
    holdout_digits_: dict[str, np.ndarray]
    monte_carlo_: dict[str, Any]
    config: Any
    names: Any

    def level(self) -> Level:
        """The ``alpha`` setting (a float, as PyOD's ``contamination``) as a :class:`Level`,
        for everything that takes one."""
        return Level(self.alpha)

    def _choices(self, scorer: str, calibration: str, alpha: float, mc_samples: int,
                 pac_delta: float = DEFAULT_PAC_DELTA) -> None:
        self.scorer = checked_choice("scorer", scorer, SCORERS)
        self.calibration = checked_choice("calibration", calibration, CALIBRATIONS)
        self.alpha = Level(alpha).alpha
        if not isinstance(mc_samples, int) or isinstance(mc_samples, bool) or mc_samples < 0:
            raise ConfigError(f"mc_samples must be a whole number >= 0, not {mc_samples!r}")
        self.mc_samples = mc_samples
        if not (isinstance(pac_delta, (int, float)) and not isinstance(pac_delta, bool)
                and 0.0 < pac_delta < 1.0):
            raise ConfigError(f"pac_delta (the chance the PAC threshold's false-alarm rate is "
                              f"above alpha) must be between 0 and 1, not {pac_delta!r}")
        self.pac_delta = float(pac_delta)

    def score_samples(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        raise NotImplementedError

    def predict_digit(self, x: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def set_params(self, **params: Any) -> BaseDetector:
        """Change ``scorer``, ``calibration``, ``alpha``, ``mc_samples`` or ``pac_delta`` and
        re-choose the threshold (scikit-learn's name; training settings need a new
        detector)."""
        unknown = set(params) - {"scorer", "calibration", "alpha", "mc_samples", "pac_delta"}
        if unknown:
            raise ConfigError(f"cannot change {', '.join(sorted(unknown))} after creation; "
                              f"make a new Detector")
        self._choices(params.get("scorer", self.scorer),
                      params.get("calibration", self.calibration),
                      params.get("alpha", self.alpha), params.get("mc_samples", self.mc_samples),
                      params.get("pac_delta", self.pac_delta))
        if self.networks_ is not None:
            self._resolve()
        return self

    def _resolve(self) -> None:
        """Set ``scorer_``, ``calibration_`` and ``threshold_`` from the settings."""
        self.scorer_ = scorers.resolve(self.scorer, self.scorers_)
        try:
            self.calibration_ = self.calibration_of(self.scorer_, self.calibration)
            self.threshold_ = self.calibration_.value
            self.thresholds_ = (self.calibration_.by_digit(self.config.digits)
                                if self.calibration_.per_digit else {})
        except ConfigError:  # predict() says why
            self.calibration_, self.threshold_, self.thresholds_ = None, None, {}

    def threshold_words(self) -> str:
        """The threshold in force in words (for ``per-digit``, the range of the digits' own),
        or why there is none."""
        try:
            rule = self._fitted().calibration_of(self.scorer_, self.calibration)
        except ConfigError as exc:
            return f"no threshold: {exc}"
        return rule.describe(tuple(self.config.digits), self.names)

    def _fitted(self) -> BaseDetector:
        if self.networks_ is None:
            raise ModelError("this detector is not trained yet: call fit() or load a model")
        return self

    def calibration_of(self, scorer: str, source: str = AUTO,
                       monte_carlo: Any = None,
                       level: Level | None = None, delta: float | None = None) -> Threshold:
        """The threshold of ``scorer`` from ``source`` at ``level`` (None: the model's) by
        :func:`ganmc.thresholds.calibration.choose` (``monte_carlo``: a run to use instead of the
        stored one; ``delta``: the PAC sources' delta, None: the model's ``pac_delta``). Nothing is
        simulated: a source without scores raises ConfigError."""
        mc = monte_carlo or self.monte_carlo_.get(scorer)
        return choose(source, level or self.level(), scorer=scorer,
                      holdout=self.holdout_scores_.get(scorer),
                      holdout_digits=self.holdout_digits_.get(scorer),
                      monte_carlo=None if mc is None else mc.distribution,
                      delta=self.pac_delta if delta is None else delta)

    def _threshold(self) -> float:
        if self.threshold_ is None:
            self._fitted().calibration_of(self.scorer_, self.calibration)  # raises the reason
        return self.threshold_

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw anomaly scores of the score in use, higher = more anomalous (PyOD's meaning)."""
        return self.score_samples(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 for an anomaly (score above ``threshold_``, or for a ``per-digit`` calibration
        above the threshold of the digit the image is taken for), 0 for a normal image.

        Raises:
            ImageError: If an image holds no digit (:func:`ganmc.images.preprocess.no_digit`): it
                is not judged at all.
        """
        self._threshold()
        x = self._judgeable(x)
        return self.calibration_.flags(self.score_samples(x), self.predict_digit(x)
                                       ).astype(np.int64)

    def verdicts(self, x: np.ndarray, *, scorer: str | None = None,
                 threshold: Threshold | None = None, check_drift: bool = True
                 ) -> list[Verdict]:
        """Score, p-value, percentile rank and NORMAL/ANOMALY for each image.

        ``scorer`` and ``threshold`` (of that score) override the fitted choices for this call
        only, so one loaded model can serve several users with different settings at once.

        With ``check_drift`` the images, in order, are a stream for the drift alarm
        (:meth:`drift_of`): when it goes off, a :class:`DriftWarning` says in plain words
        that the threshold's promise does not hold for them.

        Raises:
            ImageError: If an image holds no digit (:func:`ganmc.images.preprocess.no_digit`: blank,
                a dot, one faint pixel): it is not judged at all.
        """
        x = self._judgeable(x)
        if threshold is None:
            self._threshold()
            threshold = (self.calibration_ if scorer in (None, self.scorer_)
                         else self.calibration_of(scorer, self.calibration))
        name = scorers.resolve(scorer or self._fitted().scorer_, self.scorers_)
        scores, reasons, digits = self.score_reasons(x, scorer=name)
        out = judge(scores, threshold, digits, reasons, self.names)
        if check_drift:
            alarm = self.drift_of(out, name, threshold)
            if alarm is not None and alarm.fired:
                warnings.warn(DriftWarning(f"{alarm.words()} {WAY_OUT} (Detector.calibrate, "
                                           f"or ganmc calibrate)"), stacklevel=2)
        return out

    def _judgeable(self, x: np.ndarray) -> np.ndarray:
        """``x`` as uint8 images; for a model of digits (the ``digits`` framing) each must
        hold a digit (:func:`_with_digits`): a whole-picture model judges any picture."""
        if getattr(self, "framing_", DIGITS) != DIGITS:
            return as_images(x, "images")
        return _with_digits(x)

    def score_reasons(self, x: np.ndarray, *, scorer: str | None = None
                      ) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
        """What a verdict needs: :meth:`score_samples`, for the ``combined`` score why each
        image would be flagged (None for other scores), and :meth:`predict_digit`."""
        return self.score_samples(x, scorer=scorer), None, self.predict_digit(x)

    def drift_of(self, verdicts: list[Verdict], scorer: str, threshold: Threshold,
                 delta: float = DEFAULT_DRIFT_DELTA) -> DriftAlarm | None:
        """The drift alarm over verdicts (a stream, in order) of ``scorer`` at ``threshold``:
        their scores against the model's held-out normal images' (for a per-digit threshold,
        each against those of the digit it is taken for). None when the model has no
        held-out images for this score (a Monte Carlo threshold compares with them too: its
        rates are measured on them)."""
        reference = self.holdout_scores_.get(scorer)
        if reference is None:
            return None
        grouped = threshold.per_digit and scorer in self.holdout_digits_ and all(
            v.digit is not None for v in verdicts)
        return drift_alarm(np.array([v.score for v in verdicts], np.float64), reference,
                           alpha=threshold.level.alpha, delta=delta,
                           digits=np.array([v.digit for v in verdicts]) if grouped else None,
                           reference_digits=self.holdout_digits_.get(scorer) if grouped
                           else None, promise=threshold.promises,
                           noun=self.names.noun)

    def drift(self, x: np.ndarray, *, scorer: str | None = None,
              threshold: Threshold | None = None,
              delta: float = DEFAULT_DRIFT_DELTA) -> DriftAlarm | None:
        """The drift alarm over images ``x`` taken as a stream, in order
        (:class:`ganmc.thresholds.guarantees.DriftAlarm`: its curve, when it went off, its words);
        None when the model has no held-out images for the score."""
        name = scorers.resolve(scorer or self._fitted().scorer_, self.scorers_)
        if threshold is None:
            threshold = self.calibration_of(name, self.calibration)
        return self.drift_of(self.verdicts(x, scorer=name, threshold=threshold,
                                           check_drift=False), name, threshold, delta)


def _with_digits(x: np.ndarray) -> np.ndarray:
    """``x`` as uint8 images, each holding a digit to judge.

    Raises:
        ImageError: Naming the images that hold none.
    """
    x = as_images(x, "images")
    empty = np.flatnonzero(no_digit(x))
    if len(empty):
        which = ", ".join(map(str, empty[:5])) + (", …" if len(empty) > 5 else "")
        raise ImageError(f"{len(empty):,} of {len(x):,} images hold no digit and are not "
                         f"judged (image {which}): {BLANK}; leave them out "
                         f"(ganmc.images.inputs.blank_images finds them)")
    return x
