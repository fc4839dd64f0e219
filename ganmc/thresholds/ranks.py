"""How many calibration images a threshold needs, and where its false-alarm rate lands: the
conformal rank ceil((n + 1)(1 - alpha)) and the PAC (training-conditional) rank, the fewest
images that give a finite threshold, the refusal of a set too small, and the band the
false-alarm rate of a conformal threshold falls in on further images. The one home of these
order-statistic rules; the thresholds that use them are :mod:`ganmc.thresholds.calibration`'s.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ganmc.core.errors import ConfigError
from ganmc.thresholds.distribution import Level, percent


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


def check_enough(n: int, level: Level, what: str = "calibration images",
                 advice: str = "") -> None:
    """Refuse a calibration set too small for a finite conformal threshold at ``level``
    (fewer than :func:`min_images`): with it nothing would ever be flagged.

    Raises:
        ConfigError: Saying how many the level needs (and ``advice``).
    """
    need = min_images(level)
    if n < need:
        raise ConfigError(f"{n:,} {what} are too few for a threshold at {level.percent} "
                          f"false alarms: it needs at least {need:,} (with fewer, nothing "
                          f"would ever be flagged){advice}")


def pac_rank(n: int, level: Level, delta: float) -> int:
    """The rank of the PAC (training-conditional) threshold among n calibration scores: the
    smallest k with BinomCDF(k - 1; n, 1 - epsilon) >= 1 - delta, epsilon = ``level.alpha``.

    The k-th smallest of n exchangeable scores covers a share of new normal scores that
    follows Beta(k, n + 1 - k), and P(Beta(k, n + 1 - k) >= 1 - epsilon) = BinomCDF(k - 1; n,
    1 - epsilon); so at this rank the false-alarm rate is at most epsilon with probability at
    least 1 - delta over the calibration draw. n + 1 when no rank up to n is enough (the
    threshold is then infinite)."""
    check_delta(delta)
    return _pac_rank(int(n), level.alpha, float(delta))


@functools.lru_cache(maxsize=4096)
def _pac_rank(n: int, alpha: float, delta: float) -> int:
    """:func:`pac_rank` by scipy's binomial quantile, checked against its CDF on both sides
    so that rounding never moves the rank (cached: a per-digit threshold asks for each
    digit's, on every page run)."""
    from scipy.stats import binom

    if n < 1:
        return 1
    target, p = 1.0 - delta, 1.0 - alpha
    k = int(binom.ppf(target, n, p)) + 1
    while k > 1 and binom.cdf(k - 2, n, p) >= target:
        k -= 1
    while k <= n and binom.cdf(k - 1, n, p) < target:
        k += 1
    return min(k, n + 1)


def pac_min_images(level: Level, delta: float) -> int:
    """The fewest calibration images that give a finite PAC threshold: the smallest n with
    1 - (1 - epsilon)^n >= 1 - delta (45 at epsilon = 5 %, delta = 10 %)."""
    check_delta(delta)
    n = max(1, math.floor(math.log(delta) / math.log1p(-level.alpha)) - 1)
    while pac_rank(n, level, delta) > n:
        n += 1
    return n


def pac_words(n: int, level: Level, delta: float) -> str:
    """What n calibration images give the PAC threshold, in a sentence: its rank against the
    conformal one, or that there are too few for any (and how many it takes)."""
    need, a, c = pac_min_images(level, delta), level.percent, percent(1 - delta)
    if n < need:
        return (f"PAC threshold: with {n:,} images no threshold can promise at most {a} false "
                f"alarms with {c} confidence; that takes at least {need:,}.")
    return (f"PAC threshold: with probability at least {c} over the draw of the {n:,} "
            f"calibration images, at most {a} false alarms at the score of rank "
            f"{pac_rank(n, level, delta):,} of {n:,} (the average promise takes rank "
            f"{conformal_rank(n, level):,}).")


def check_delta(delta: float) -> None:
    if not (isinstance(delta, (int, float)) and not isinstance(delta, bool)
            and 0.0 < delta < 1.0):
        raise ConfigError(f"the PAC threshold's delta (the chance its false-alarm rate is above "
                          f"the level) must be between 0 and 1, not {delta!r}")


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
