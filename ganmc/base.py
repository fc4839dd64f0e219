"""PyOD's ``BaseDetector`` contract, for :class:`ganmc.detector.Detector`: the settings that
choose a score and a threshold, and the decisions made from the fitted scores.

:meth:`decision_function` gives raw scores, higher = more anomalous; :meth:`predict` gives 1
for an anomaly and 0 for a normal image by the threshold in force (``calibration_``, a
:class:`ganmc.calibration.Threshold`; ``threshold_`` is its value); :meth:`verdicts` adds the
p-value and the digit each image is taken for. Reading an attribute never computes or stores
anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganmc import scoring
from ganmc.calibration import Level, Threshold, choose
from ganmc.config import AUTO, CALIBRATIONS, SCORERS, checked_choice
from ganmc.errors import ConfigError, ModelError
from ganmc.verdict import Verdict, judge


class BaseDetector:
    """Scores (:meth:`score_samples`, :meth:`predict_digit`) come from the subclass; the
    fitted scores it keeps (``holdout_scores_``, ``holdout_digits_``, ``monte_carlo_``)
    give the thresholds."""

    scorer: str
    calibration: str
    alpha: float
    mc_samples: int
    networks_: Any
    scorers_: tuple[str, ...]
    holdout_scores_: dict[str, np.ndarray]
    holdout_digits_: dict[str, np.ndarray]
    monte_carlo_: dict[str, Any]
    config: Any
    names: Any

    def _choices(self, scorer: str, calibration: str, alpha: float, mc_samples: int) -> None:
        self.scorer = checked_choice("scorer", scorer, SCORERS)
        self.calibration = checked_choice("calibration", calibration, CALIBRATIONS)
        self.alpha = Level(alpha).alpha
        if not isinstance(mc_samples, int) or isinstance(mc_samples, bool) or mc_samples < 0:
            raise ConfigError(f"mc_samples must be a whole number >= 0, not {mc_samples!r}")
        self.mc_samples = mc_samples

    def score_samples(self, x: np.ndarray, *, scorer: str | None = None) -> np.ndarray:
        raise NotImplementedError

    def predict_digit(self, x: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def set_params(self, **params: Any) -> BaseDetector:
        """Change ``scorer``, ``calibration``, ``alpha`` or ``mc_samples`` and re-choose the
        threshold (scikit-learn's name; training settings need a new detector)."""
        unknown = set(params) - {"scorer", "calibration", "alpha", "mc_samples"}
        if unknown:
            raise ConfigError(f"cannot change {', '.join(sorted(unknown))} after creation; "
                              f"make a new Detector")
        self._choices(params.get("scorer", self.scorer),
                      params.get("calibration", self.calibration),
                      params.get("alpha", self.alpha), params.get("mc_samples", self.mc_samples))
        if self.networks_ is not None:
            self._resolve()
        return self

    def _resolve(self) -> None:
        """Set ``scorer_``, ``calibration_`` and ``threshold_`` from the settings."""
        self.scorer_ = scoring.resolve_scorer(self.scorer, self.scorers_)
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
                       level: Level | None = None) -> Threshold:
        """The threshold of ``scorer`` from ``source`` at ``level`` (None: the model's) by
        :func:`ganmc.calibration.choose` (``monte_carlo``: a run to use instead of the stored
        one). Nothing is simulated: a source without scores raises ConfigError."""
        mc = monte_carlo or self.monte_carlo_.get(scorer)
        return choose(source, level or Level(self.alpha), scorer=scorer,
                      holdout=self.holdout_scores_.get(scorer),
                      holdout_digits=self.holdout_digits_.get(scorer),
                      monte_carlo=None if mc is None else mc.distribution)

    def _threshold(self) -> float:
        if self.threshold_ is None:
            self._fitted().calibration_of(self.scorer_, self.calibration)  # raises the reason
        return self.threshold_

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw anomaly scores of the score in use, higher = more anomalous (PyOD's meaning)."""
        return self.score_samples(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 for an anomaly (score above ``threshold_``, or for a ``per-digit`` calibration
        above the threshold of the digit the image is taken for), 0 for a normal image."""
        self._threshold()
        return self.calibration_.flags(self.score_samples(x), self.predict_digit(x)
                                       ).astype(np.int64)

    def verdicts(self, x: np.ndarray, *, scorer: str | None = None,
                 threshold: Threshold | None = None) -> list[Verdict]:
        """Score, p-value, percentile rank and NORMAL/ANOMALY for each image.

        ``scorer`` and ``threshold`` (of that score) override the fitted choices for this call
        only, so one loaded model can serve several users with different settings at once.
        """
        if threshold is None:
            self._threshold()
            threshold = (self.calibration_ if scorer in (None, self.scorer_)
                         else self.calibration_of(scorer, self.calibration))
        return judge(self.score_samples(x, scorer=scorer), threshold, self.predict_digit(x),
                     self.names)
