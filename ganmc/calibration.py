"""Thresholds from a distribution of normal scores: Monte Carlo percentile or conformal.

Two sources of "normal" scores, one :class:`ScoreDistribution` type:

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
  :meth:`Calibration.fallbacks` says which.

A distribution keeps its scores exactly (sorted) or, for very large Monte Carlo runs, as a
fine fixed-bin histogram whose memory does not grow with N.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ganmc.config import AUTO, CALIBRATIONS, DEFAULT_PERCENTILE, checked_choice
from ganmc.errors import ConfigError


@dataclass(frozen=True)
class Level:
    """The threshold level, as a false-alarm rate alpha or as a percentile 100 (1 - alpha).

    The one place where a percentile becomes an alpha and back. Build it with
    :meth:`from_percentile` or ``Level(alpha)``.
    """

    alpha: float = 1.0 - DEFAULT_PERCENTILE / 100.0

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        object.__setattr__(self, "alpha", float(self.alpha))

    @classmethod
    def from_percentile(cls, percentile: float) -> Level:
        """The level at which ``percentile`` % of normal scores fall at or below the threshold."""
        if not (isinstance(percentile, (int, float)) and 0.0 < percentile < 100.0):
            raise ConfigError(f"percentile must be between 0 and 100, not {percentile}")
        return cls(round(1.0 - percentile / 100.0, 12))

    @property
    def percentile(self) -> float:
        return round(100.0 * (1.0 - self.alpha), 10)

    def __str__(self) -> str:
        return f"{self.percentile:g}th percentile ({100 * self.alpha:.3g}% false alarms)"


class ScoreDistribution:
    """Scores of normal instances, exact or as a histogram.

    Build with :meth:`from_scores` (exact) or :meth:`from_histogram` (streamed).
    """

    def __init__(self, *, sorted_scores: np.ndarray | None = None, edges: np.ndarray | None = None,
                 counts: np.ndarray | None = None, under: int = 0, over: int = 0,
                 minimum: float = math.nan, maximum: float = math.nan, total: float = 0.0,
                 total_sq: float = 0.0):
        self._sorted = sorted_scores
        if sorted_scores is not None:
            s = sorted_scores.astype(np.float64)
            self.n = int(len(s))
            self.min, self.max = float(s[0]), float(s[-1])
            self.mean, self.std = float(s.mean()), float(s.std())
        else:
            self._edges, self._counts = edges, counts.astype(np.int64)
            self._under, self._over = int(under), int(over)
            self.n = int(self._counts.sum()) + self._under + self._over
            self.min, self.max = float(minimum), float(maximum)
            self.mean = total / self.n
            self.std = math.sqrt(max(total_sq / self.n - self.mean**2, 0.0))
            # The empirical CDF as knots (score, #scores below): under- and over-flow are
            # spread between the observed min/max and the histogram's ends.
            cum = self._under + np.concatenate([[0], np.cumsum(self._counts)])
            self._xs = np.concatenate([[self.min], np.clip(self._edges, self.min, self.max),
                                       [self.max]])
            self._ys = np.concatenate([[0], cum, [self.n]]).astype(np.float64)

    @classmethod
    def from_scores(cls, scores: np.ndarray) -> ScoreDistribution:
        """An exact distribution of the given scores.

        Raises:
            ConfigError: If there are no scores or some are NaN/inf.
        """
        s = np.asarray(scores, dtype=np.float64).ravel()
        if s.size == 0:
            raise ConfigError("a score distribution needs at least one score")
        if not np.isfinite(s).all():
            raise ConfigError("scores contain NaN or infinite values")
        return cls(sorted_scores=np.sort(s))

    @classmethod
    def from_histogram(cls, edges, counts, *, under, over, minimum, maximum, total, total_sq):
        """A distribution known through a fixed-bin histogram and running moments."""
        return cls(edges=np.asarray(edges, np.float64), counts=np.asarray(counts), under=under,
                   over=over, minimum=minimum, maximum=maximum, total=total, total_sq=total_sq)

    @property
    def exact(self) -> bool:
        """Whether every score is kept (quantiles are then exact)."""
        return self._sorted is not None

    @property
    def scores(self) -> np.ndarray | None:
        """The sorted scores, if kept."""
        return self._sorted

    def quantile(self, q: float) -> float:
        """The q-quantile (0-1), linear interpolation like ``numpy.percentile``."""
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"quantile must be in [0, 1], not {q}")
        if self.exact:
            return float(np.quantile(self._sorted, q))
        return self._value_at_count(q * self.n)

    def value_at_rank(self, k: int) -> float:
        """The k-th smallest score (1-based order statistic); +inf past n, -inf below 1."""
        if k > self.n:
            return math.inf
        if k < 1:
            return -math.inf
        if self.exact:
            return float(self._sorted[k - 1])
        return self._value_at_count(k - 0.5)

    def count_at_least(self, s: np.ndarray | float) -> np.ndarray:
        """#{scores >= s} for each s."""
        s = np.asarray(s, dtype=np.float64)
        if self.exact:
            return self.n - np.searchsorted(self._sorted, s, side="left")
        below = np.interp(s, self._xs, self._ys)
        below = np.where(s <= self.min, 0.0, np.where(s > self.max, float(self.n), below))
        return np.rint(self.n - below).astype(np.int64)

    def p_values(self, s: np.ndarray | float) -> np.ndarray:
        """Conformal p-values (1 + #{s_i >= s}) / (n + 1): small = unlike normal scores."""
        return (1.0 + self.count_at_least(s)) / (self.n + 1.0)

    def percentile_rank(self, s: np.ndarray | float) -> np.ndarray:
        """Percentage of normal scores strictly below s (0-100)."""
        return 100.0 * (self.n - self.count_at_least(s)) / self.n

    def histogram(self, bins: int = 60, value_range: tuple[float, float] | None = None):
        """Counts for plotting: (edges, counts) over [min, max] or ``value_range``."""
        lo, hi = value_range or (self.min, self.max)
        if hi <= lo:
            hi = lo + 1e-9
        edges = np.linspace(lo, hi, bins + 1)
        if self.exact:
            counts, _ = np.histogram(np.clip(self._sorted, lo, hi), bins=edges)
            return edges, counts
        return edges, np.maximum(np.diff(np.interp(edges, self._xs, self._ys)), 0.0)

    def _value_at_count(self, c: float) -> float:
        """Score below which about c of the n scores lie (histogram mode)."""
        return float(np.interp(c, self._ys, self._xs))


def percentile_threshold(dist: ScoreDistribution, percentile: float) -> float:
    """The seed's threshold: the P-th percentile of the normal scores."""
    if not 0.0 < percentile < 100.0:
        raise ConfigError(f"percentile must be between 0 and 100, not {percentile}")
    return dist.quantile(percentile / 100.0)


def conformal_threshold(dist: ScoreDistribution, alpha: float) -> float:
    """Rank ceil((n+1)(1-alpha)) of n calibration scores; +inf if n is too small for alpha."""
    _check_alpha(alpha)
    return dist.value_at_rank(math.ceil((dist.n + 1) * (1.0 - alpha)))


def quantile_interval(dist: ScoreDistribution, q: float, confidence: float = 0.95):
    """Distribution-free confidence interval of the q-quantile from order statistics.

    Ranks n*q -/+ z*sqrt(n*q*(1-q)) (normal approximation to the binomial), read off the
    sorted scores (or the histogram).
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    half = z * math.sqrt(dist.n * q * (1.0 - q))
    lo = max(1, math.floor(dist.n * q - half))
    hi = min(dist.n, math.ceil(dist.n * q + half) + 1)
    return dist.value_at_rank(lo), dist.value_at_rank(hi)


@dataclass
class Calibration:
    """A threshold rule over a distribution of normal scores.

    Attributes:
        source: ``"per-digit"``, ``"holdout"`` (conformal) or ``"monte-carlo"`` (percentile).
        distribution: The normal scores (for ``per-digit``, all of them pooled).
        groups: For ``per-digit``: the normal scores of the images taken for each digit.
    """

    source: str
    distribution: ScoreDistribution
    groups: dict[int, ScoreDistribution] | None = None

    def __post_init__(self) -> None:
        if self.source not in CALIBRATIONS:
            raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}")
        if (self.source == "per-digit") != (self.groups is not None):
            raise ConfigError("a per-digit calibration needs its groups, and only it has them")

    def _group(self, digit: int | None, alpha: float) -> ScoreDistribution:
        """The scores an image taken for ``digit`` is judged against at this level."""
        if self.groups is None or digit is None:
            return self.distribution
        g = self.groups.get(int(digit))
        return g if g is not None and usable_group(g.n, alpha) else self.distribution

    def threshold(self, alpha: float, digit: int | None = None) -> float:
        """Score above which an image is called an anomaly at false-alarm level alpha (for a
        per-digit calibration: an image taken for ``digit``; None: the pooled threshold)."""
        _check_alpha(alpha)
        if self.source == "monte-carlo":
            return percentile_threshold(self.distribution, 100.0 * (1.0 - alpha))
        return conformal_threshold(self._group(digit, alpha), alpha)

    def thresholds(self, alpha: float, digits: np.ndarray | None = None) -> np.ndarray:
        """The threshold for each image, by the digit it is taken for (``digits``)."""
        if digits is None or self.groups is None:
            return np.full(0 if digits is None else len(digits), self.threshold(alpha))
        return np.array([self.threshold(alpha, d) for d in digits], np.float64)

    def p_values(self, scores: np.ndarray, digits: np.ndarray | None = None,
                 alpha: float | None = None) -> np.ndarray:
        """p-values of scores against the normal scores (per digit, each against the group of
        the digit it is taken for; ``alpha`` decides which groups are too small)."""
        return self._by_group("p_values", scores, digits, alpha)

    def percentile_rank(self, scores: np.ndarray, digits: np.ndarray | None = None,
                        alpha: float | None = None) -> np.ndarray:
        """Percentage of the normal scores (of the same group) below each score."""
        return self._by_group("percentile_rank", scores, digits, alpha)

    def _by_group(self, method: str, scores: np.ndarray, digits: np.ndarray | None,
                  alpha: float | None) -> np.ndarray:
        """``ScoreDistribution.<method>`` of each score against its digit's group (pooled
        when there are no groups or no digits)."""
        scores = np.asarray(scores, np.float64)
        if digits is None or self.groups is None:
            return getattr(self.distribution, method)(scores)
        a = Level().alpha if alpha is None else alpha
        return np.array([getattr(self._group(d, a), method)(s)
                         for s, d in zip(scores, digits)], np.float64)

    def fallbacks(self, alpha: float, digits: tuple[int, ...] = ()) -> list[int]:
        """The digits (of ``digits`` and the groups) judged against the pooled set at this
        level because too few held-out images were taken for them."""
        if self.groups is None:
            return []
        names = sorted(set(self.groups) | set(digits))
        return [d for d in names
                if d not in self.groups or not usable_group(self.groups[d].n, alpha)]


def usable_group(n: int, alpha: float) -> bool:
    """Whether n held-out scores give a finite conformal threshold at level alpha:
    rank ceil((n + 1)(1 - alpha)) must be at most n."""
    return math.ceil((n + 1) * (1.0 - alpha)) <= n


def min_images(alpha: float) -> int:
    """The fewest calibration images that give a finite conformal threshold at level alpha
    (19 at 5 %): with fewer, nothing would ever be flagged."""
    _check_alpha(alpha)
    n = max(1, math.floor((1.0 - alpha) / alpha) - 1)
    while not usable_group(n, alpha):
        n += 1
    return n


def far_band(n: int, alpha: float, low: float = 0.05, high: float = 0.95
             ) -> tuple[float, float]:
    """The range the false-alarm rate of a conformal threshold from n calibration scores
    lands in, on further images of the same kind: its 5th and 95th percentiles by default.

    With k = ceil((n + 1)(1 - alpha)), the coverage of the k-th smallest of n exchangeable
    scores follows Beta(k, n + 1 - k), so the false-alarm rate follows Beta(n + 1 - k, k)
    (Vovk 2012; Angelopoulos & Bates 2021). When k > n the threshold is infinite: no false
    alarms, and (0, 0).
    """
    _check_alpha(alpha)
    k = math.ceil((n + 1) * (1.0 - alpha))
    if n < 1 or k > n:
        return 0.0, 0.0
    return _beta_quantile(low, n + 1 - k, k), _beta_quantile(high, n + 1 - k, k)


def far_band_per_digit(sizes: dict[int, int], alpha: float, low: float = 0.05,
                       high: float = 0.95, draws: int = 20_000) -> tuple[float, float]:
    """:func:`far_band` for a ``per-digit`` calibration: the overall false-alarm rate on
    further images in the same mix of digits is the mix of each digit's rate, each from its
    own n (a digit with too few images for the level: the pooled threshold's, from all of
    them). Its 5th and 95th percentiles, from ``draws`` seeded draws of the rates."""
    _check_alpha(alpha)
    total = sum(sizes.values())
    if total < 1:
        return 0.0, 0.0
    rng = np.random.default_rng(0)

    def rates(n: int) -> np.ndarray:
        k = math.ceil((n + 1) * (1.0 - alpha))
        return np.zeros(draws) if k > n else rng.beta(n + 1 - k, k, draws)

    pooled = rates(total)
    mix = sum((n / total) * (rates(n) if usable_group(n, alpha) else pooled)
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


def choose(source: str, *, holdout: ScoreDistribution | None,
           monte_carlo: ScoreDistribution | None, scorer: str = "the",
           holdout_groups: dict[int, ScoreDistribution] | None = None) -> Calibration:
    """The one rule that picks where a threshold comes from. It never simulates.

    Args:
        source: ``"per-digit"``, ``"holdout"``, ``"monte-carlo"`` or ``"auto"`` (the hold-out
            set per digit when the held-out images have the digits they are taken for, else
            the hold-out set as one, else the Monte Carlo scores).
        holdout: Scores of real held-out normal images, if any.
        monte_carlo: Scores of generated images, if a simulation was run.
        scorer: The score's name, for messages.
        holdout_groups: The held-out scores by the digit each image is taken for, if known.

    Raises:
        ConfigError: If the chosen source has no scores.
    """
    if checked_choice("calibration", source, CALIBRATIONS) == AUTO:
        source = ("per-digit" if holdout is not None and holdout_groups else
                  "holdout" if holdout is not None else "monte-carlo")
    if source == "per-digit":
        if holdout is None or not holdout_groups:
            raise ConfigError(f"the model has no per-digit hold-out calibration of the {scorer} "
                              f"score (it needs per-digit Gaussians and held-out digits); use "
                              f"the holdout threshold")
        return Calibration("per-digit", holdout, dict(holdout_groups))
    if source == "holdout":
        if holdout is None:
            raise ConfigError(f"the model has no hold-out calibration of the {scorer} score; "
                              f"use the Monte Carlo threshold")
        return Calibration("holdout", holdout)
    if monte_carlo is None:
        raise ConfigError(f"there is no Monte Carlo simulation of the {scorer} score yet; "
                          f"run one first")
    return Calibration("monte-carlo", monte_carlo)


def false_alarm_rate(threshold: float, holdout: ScoreDistribution) -> float:
    """Share of held-out normal scores above a threshold: its real false-alarm rate."""
    return float(holdout.count_at_least(np.nextafter(threshold, np.inf)) / holdout.n)


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
            and 0.0 < alpha < 1.0):
        raise ConfigError(f"alpha (false-alarm rate) must be between 0 and 1, not {alpha}")
