"""Thresholds from a distribution of normal scores: Monte Carlo percentile or conformal.

Two sources of "normal" scores (:class:`ganmc.distribution.ScoreDistribution`):

- ``monte-carlo`` (the seed's idea): scores of N images drawn from the generator; the
  threshold is their P-th percentile. Generated images are not real ones, so the false-alarm
  rate on real normal images can be far from the nominal 100 - P %.
- ``holdout``: scores of n real normal images never trained on; the conformal threshold is
  the order statistic of rank ceil((n+1)(1-alpha)) and the conformal p-value of a score s is
  (1 + #{s_i >= s}) / (n + 1). For exchangeable normal data this bounds the false-alarm rate
  by alpha, whatever the scorer — on average over all normal images, not for each digit.
- ``per-digit`` (Mondrian conformal): the same, with the held-out images grouped by the digit
  each is *taken for* (the nearest per-digit Gaussian, :class:`ganmc.density.FeatureGaussian`),
  an image judged against the group of the digit it is taken for. The bound then holds for
  each digit. A digit with too few held-out images for the level (fewer than
  ``(1 - alpha) / alpha``: its threshold would be infinite) falls back to the pooled set, and
  :meth:`PerDigitThreshold.fallbacks` says which.

Each source is a :class:`Threshold` class made only by :func:`choose`; its :meth:`flags` is
the verdict rule everywhere (CLI, dashboard, report, quality card, ``predict``).
"""

from __future__ import annotations

import math

import numpy as np

from ganmc.config import AUTO, CALIBRATIONS, checked_choice
from ganmc.distribution import Level, ScoreDistribution, quantile_interval
from ganmc.errors import ConfigError

__all__ = ["Level", "ScoreDistribution", "quantile_interval", "Threshold",
           "MonteCarloThreshold", "ConformalThreshold", "PerDigitThreshold", "choose",
           "conformal_rank", "usable_group", "min_images", "above", "far_band",
           "far_band_per_digit", "false_alarm_rate", "AUTO_SOURCE_RULE", "WHY_AUTO_SOURCE"]


def conformal_rank(n: int, level: Level) -> int:
    """The rank ceil((n + 1)(1 - alpha)) of the conformal threshold among n calibration scores:
    the one place it is computed. Past n, the threshold is infinite (nothing is flagged)."""
    return math.ceil((n + 1) * (1.0 - level.alpha))


def usable_group(n: int, level: Level) -> bool:
    """Whether n calibration scores give a finite conformal threshold at this level."""
    return conformal_rank(n, level) <= n


def min_images(level: Level) -> int:
    """The fewest calibration images that give a finite conformal threshold at this level
    (19 at 5 %): with fewer, nothing would ever be flagged."""
    n = max(1, math.floor((1.0 - level.alpha) / level.alpha) - 1)
    while not usable_group(n, level):
        n += 1
    return n


def above(scores: np.ndarray | float, thresholds: np.ndarray | float) -> np.ndarray:
    """THE verdict rule: a score strictly above its threshold is an anomaly."""
    return np.asarray(scores, np.float64) > np.asarray(thresholds, np.float64)


class Threshold:
    """Which scores are anomalies at one level, from one source of normal scores.

    Made only by :func:`choose`. :meth:`flags` is the verdict rule (a score strictly above the
    threshold of the image's digit); :meth:`p_values` and :meth:`percentile_rank` say how a
    score compares with the normal scores it is judged against. Every method takes the
    digits the images are taken for (or None); thresholds that are not per digit ignore them.

    Attributes:
        source: ``"monte-carlo"``, ``"holdout"`` or ``"per-digit"``.
        distribution: The normal scores (for ``per-digit``: all of them, pooled).
        level: The false-alarm level.
        value: The threshold as one number (for ``per-digit``: the pooled one, which digits
            with too few calibration images use).
    """

    source = ""
    per_digit = False

    def __init__(self, distribution: ScoreDistribution, level: Level):
        self.distribution, self.level = distribution, level
        self.value = self._value(distribution)

    def _value(self, dist: ScoreDistribution) -> float:
        raise NotImplementedError

    def at(self, level: Level) -> Threshold:
        """The same normal scores at another level."""
        return type(self)(self.distribution, level)

    def values(self, digits: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
        """The threshold of each image (by the digit it is taken for); ``n`` images when
        there are no digits."""
        return np.full(len(digits) if digits is not None else (n or 0), self.value)

    def flags(self, scores: np.ndarray, digits: np.ndarray | None = None) -> np.ndarray:
        """True for each score that is an anomaly (see :func:`above`)."""
        scores = np.asarray(scores, np.float64).ravel()
        return above(scores, self.values(digits, len(scores)))

    def p_values(self, scores: np.ndarray, digits: np.ndarray | None = None) -> np.ndarray:
        """(1 + #{normal scores >= s}) / (n + 1) for each score: small = unlike them."""
        return self.distribution.p_values(np.asarray(scores, np.float64))

    def percentile_rank(self, scores: np.ndarray, digits: np.ndarray | None = None
                        ) -> np.ndarray:
        """Percentage of the normal scores below each score."""
        return self.distribution.percentile_rank(np.asarray(scores, np.float64))

    def by_digit(self, digits: tuple[int, ...]) -> dict[int, float]:
        """The threshold an image taken for each digit is judged by."""
        return {int(d): float(t) for d, t in zip(digits, self.values(np.array(digits)))}

    def fallbacks(self, digits: tuple[int, ...] = ()) -> list[int]:
        """Digits judged by the pooled threshold for want of calibration images (only
        ``per-digit`` has any)."""
        return []

    def describe(self, digits: tuple[int, ...] = (), names=None) -> str:
        """The threshold in words: its one number, or for ``per-digit`` the range of the
        normal ``digits``' own thresholds (the numbers verdicts use; ``names``, a
        :class:`ganmc.naming.Names`, says "per-class" for a model of named classes)."""
        if self.per_digit and digits:
            own = self.by_digit(digits).values()
            noun = names.noun if names is not None else "digit"
            return f"per-{noun} thresholds {min(own):.4g} to {max(own):.4g}"
        return f"{self.source} threshold {self.value:.4g}"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.value:.6g} at {self.level}, "
                f"n = {self.distribution.n:,})")


class MonteCarloThreshold(Threshold):
    """The seed's threshold: the (1 - alpha) quantile of generated images' scores."""

    source = "monte-carlo"

    def _value(self, dist: ScoreDistribution) -> float:
        return dist.quantile(1.0 - self.level.alpha)


class ConformalThreshold(Threshold):
    """The order statistic of rank :func:`conformal_rank` of held-out normal scores; for
    exchangeable normal images it flags at most alpha of them (infinite when there are too
    few for the level)."""

    source = "holdout"

    def _value(self, dist: ScoreDistribution) -> float:
        return dist.value_at_rank(conformal_rank(dist.n, self.level))


class PerDigitThreshold(ConformalThreshold):
    """Mondrian conformal: a :class:`ConformalThreshold` for each digit, over the held-out
    images taken for it; a digit with too few of them for the level uses the pooled one."""

    source = "per-digit"
    per_digit = True

    def __init__(self, distribution: ScoreDistribution, level: Level,
                 groups: dict[int, ScoreDistribution]):
        self.groups = groups
        super().__init__(distribution, level)
        self._by_group = {d: self._value(g) for d, g in groups.items()
                          if usable_group(g.n, level)}

    def at(self, level: Level) -> PerDigitThreshold:
        return PerDigitThreshold(self.distribution, level, self.groups)

    def _group(self, digit) -> ScoreDistribution:
        d = None if digit is None else int(digit)
        return self.groups[d] if d in self._by_group else self.distribution

    def values(self, digits: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
        if digits is None:
            return super().values(None, n)
        return np.array([self._by_group.get(int(d), self.value) for d in digits], np.float64)

    def p_values(self, scores, digits=None):
        return self._each("p_values", scores, digits)

    def percentile_rank(self, scores, digits=None):
        return self._each("percentile_rank", scores, digits)

    def _each(self, method: str, scores, digits) -> np.ndarray:
        scores = np.asarray(scores, np.float64).ravel()
        if digits is None:
            return getattr(self.distribution, method)(scores)
        return np.array([getattr(self._group(d), method)(s) for s, d in zip(scores, digits)],
                        np.float64)

    def fallbacks(self, digits: tuple[int, ...] = ()) -> list[int]:
        return [d for d in sorted(set(self.groups) | set(digits)) if d not in self._by_group]


def far_band(n: int, level: Level, low: float = 0.05, high: float = 0.95
             ) -> tuple[float, float]:
    """The range the false-alarm rate of a conformal threshold from n calibration scores
    lands in, on further images of the same kind: its 5th and 95th percentiles by default.

    With k = :func:`conformal_rank`, the coverage of the k-th smallest of n exchangeable
    scores follows Beta(k, n + 1 - k), so the false-alarm rate follows Beta(n + 1 - k, k)
    (Vovk 2012; Angelopoulos & Bates 2021). When k > n the threshold is infinite: no false
    alarms, and (0, 0).
    """
    k = conformal_rank(n, level)
    if n < 1 or k > n:
        return 0.0, 0.0
    return _beta_quantile(low, n + 1 - k, k), _beta_quantile(high, n + 1 - k, k)


def far_band_per_digit(sizes: dict[int, int], level: Level, low: float = 0.05,
                       high: float = 0.95, draws: int = 20_000) -> tuple[float, float]:
    """:func:`far_band` for a ``per-digit`` threshold: the overall false-alarm rate on
    further images in the same mix of digits is the mix of each digit's rate, each from its
    own n (a digit with too few images for the level: the pooled threshold's, from all of
    them). Its 5th and 95th percentiles, from ``draws`` seeded draws of the rates."""
    total = sum(sizes.values())
    if total < 1:
        return 0.0, 0.0
    rng = np.random.default_rng(0)

    def rates(n: int) -> np.ndarray:
        k = conformal_rank(n, level)
        return np.zeros(draws) if k > n else rng.beta(n + 1 - k, k, draws)

    pooled = rates(total)
    mix = sum((n / total) * (rates(n) if usable_group(n, level) else pooled)
              for n in sizes.values() if n)
    return float(np.quantile(mix, low)), float(np.quantile(mix, high))


def _beta_quantile(q: float, a: int, b: int) -> float:
    """The q-quantile of Beta(a, b) for whole a, b, by bisection on its CDF, which for whole
    parameters is a binomial tail: P(Beta(a, b) <= x) = P(Binomial(a + b - 1, x) >= a)."""
    m = a + b - 1
    j = np.arange(m + 1)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log((m - j[1:] + 1) / j[1:]))])

    def cdf(x: float) -> float:
        logs = log_choose[a:] + j[a:] * math.log(x) + (m - j[a:]) * math.log1p(-x)
        return float(np.exp(logs).sum())

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(min(max(mid, 1e-300), 1 - 1e-16)) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


#: ``auto``'s rule in :func:`choose`, in words for a help text.
AUTO_SOURCE_RULE = ("per-digit when the model's held-out images have the digits they are "
                    "taken for, else holdout when it has held-out images, else monte-carlo")
#: Why ``auto`` comes to each source in :func:`choose`, in words for a note.
WHY_AUTO_SOURCE = {
    "per-digit": "a threshold for each digit from the real normal images set aside for "
                 "calibration, grouped by the digit each is taken for",
    "holdout": "one threshold from the real normal images set aside for calibration",
    "monte-carlo": "the model has no real normal images set aside for this score",
}


def choose(source: str, level: Level, *, holdout: np.ndarray | None = None,
           holdout_digits: np.ndarray | None = None,
           monte_carlo: ScoreDistribution | None = None, scorer: str = "the") -> Threshold:
    """The one rule that picks where a threshold comes from, and the only maker of a
    :class:`Threshold`. It never simulates.

    Args:
        source: ``"per-digit"``, ``"holdout"``, ``"monte-carlo"`` or ``"auto"``
            (:data:`AUTO_SOURCE_RULE`).
        level: The false-alarm level.
        holdout: Scores of real held-out normal images, if any.
        holdout_digits: The digit each of those images is taken for (same order), if known.
        monte_carlo: Scores of generated images, if a simulation was run.
        scorer: The score's name, for messages.

    Raises:
        ConfigError: If the chosen source has no scores.
    """
    per_digit = holdout is not None and holdout_digits is not None and len(holdout_digits)
    if checked_choice("calibration", source, CALIBRATIONS) == AUTO:
        source = ("per-digit" if per_digit else "holdout" if holdout is not None
                  else "monte-carlo")
    if source == "monte-carlo":
        if monte_carlo is None:
            raise ConfigError(f"there is no Monte Carlo simulation of the {scorer} score yet; "
                              f"run one first")
        return MonteCarloThreshold(monte_carlo, level)
    if holdout is None:
        raise ConfigError(f"the model has no hold-out calibration of the {scorer} score; "
                          f"use the Monte Carlo threshold")
    pooled = ScoreDistribution.from_scores(holdout)
    if source == "holdout":
        return ConformalThreshold(pooled, level)
    if not per_digit:
        raise ConfigError(f"the model has no per-digit hold-out calibration of the {scorer} "
                          f"score (it needs per-digit Gaussians and held-out digits); use "
                          f"the holdout threshold")
    holdout, digits = np.asarray(holdout), np.asarray(holdout_digits)
    groups = {int(d): ScoreDistribution.from_scores(holdout[digits == d])
              for d in np.unique(digits) if d >= 0}
    return PerDigitThreshold(pooled, level, groups)


def false_alarm_rate(threshold: float, holdout: ScoreDistribution) -> float:
    """Share of held-out normal scores (an exact distribution) that the verdict rule flags at
    a threshold: its real false-alarm rate."""
    return float(np.mean(above(holdout.scores, threshold)))
