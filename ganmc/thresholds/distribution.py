"""Scores of normal images and the level a threshold is set at.

:class:`ScoreDistribution` keeps the scores exactly (sorted) or, for very large Monte Carlo
runs, as a fine fixed-bin histogram whose memory does not grow with N. :class:`Level` is the
one place a percentile becomes a false-alarm rate alpha and back, and :func:`percent` the one
way a share is written for people.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ganmc.core.config import DEFAULT_PERCENTILE
from ganmc.core.errors import ConfigError


def percent(share: float, digits: str = ".3g") -> str:
    """A share (0.05) as people read it, a percentage with a space: "5 %", "0.1 %", "22.3 %"
    (``digits``: the number's format, ``".1f"`` for measured rates)."""
    return f"{100 * share:{digits}} %"


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

    @property
    def percent(self) -> str:
        """The false-alarm rate as people read it ("5 %")."""
        return percent(self.alpha)

    def __str__(self) -> str:
        return f"{self.percentile:g}th percentile ({self.percent} false alarms)"


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

    def at_level(self, level: Level) -> float:
        """The (1 - alpha) quantile: the level's percentile of these scores (the Monte Carlo
        threshold, and the interval's centre)."""
        return self.quantile(1.0 - level.alpha)

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
        """Counts for plotting: (edges, counts) over [min, max] or ``value_range`` (scores
        outside it are not counted)."""
        lo, hi = value_range or (self.min, self.max)
        if hi <= lo:
            hi = lo + 1e-9
        edges = np.linspace(lo, hi, bins + 1)
        if self.exact:
            counts, _ = np.histogram(self._sorted, bins=edges)  # what lies outside: not drawn
            return edges, counts
        return edges, np.maximum(np.diff(np.interp(edges, self._xs, self._ys)), 0.0)

    def _value_at_count(self, c: float) -> float:
        """Score below which about c of the n scores lie (histogram mode)."""
        return float(np.interp(c, self._ys, self._xs))


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


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
            and 0.0 < alpha < 1.0):
        raise ConfigError(f"alpha (false-alarm rate) must be between 0 and 1, not {alpha}")
