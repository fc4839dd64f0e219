"""Thresholds from a distribution of normal scores: Monte Carlo percentile or conformal.

Two sources of "normal" scores (:class:`ganmc.thresholds.distribution.ScoreDistribution`):

- ``monte-carlo`` (the seed's idea): scores of N images drawn from the generator; the
  threshold is their P-th percentile. Generated images are not real ones, so the false-alarm
  rate on real normal images can be far from the nominal 100 - P %.
- ``holdout``: scores of n real normal images never trained on; the conformal threshold is
  the order statistic of rank ceil((n+1)(1-alpha)) and the conformal p-value of a score s is
  (1 + #{s_i >= s}) / (n + 1). For exchangeable normal data this bounds the false-alarm rate
  by alpha, whatever the scorer — on average over all normal images, not for each digit.
- ``per-digit`` (Mondrian conformal): the same, with the held-out images grouped by the digit
  each is *taken for* (the nearest per-digit Gaussian, :class:`ganmc.nets.density.FeatureGaussian`),
  an image judged against the group of the digit it is taken for. The bound then holds for
  each digit. A digit with too few held-out images for the level (fewer than
  ``(1 - alpha) / alpha``: its threshold would be infinite) falls back to the pooled set, and
  :meth:`PerDigitThreshold.fallbacks` says which.
- ``pac`` and ``per-digit-pac`` (training-conditional, "probably approximately correct"):
  the conformal bound holds on average over the draw of the calibration images; one draw can
  be unlucky. The PAC threshold takes the order statistic of rank :func:`pac_rank`, the
  smallest k with BinomCDF(k - 1; n, 1 - epsilon) >= 1 - delta, so that with probability at
  least 1 - delta over the calibration draw the false-alarm rate on new normal images is at
  most epsilon (= alpha) (Vovk 2012, "Conditional validity of inductive conformal
  predictors"). It needs more images: at least :func:`pac_min_images` (45 at 5 % with
  delta = 0.1), or no finite threshold exists, and :func:`choose` says so.

Each source is a :class:`Threshold` class made only by :func:`choose`; its :meth:`flags` is
the verdict rule everywhere (CLI, dashboard, report, quality card, ``predict``).
"""

from __future__ import annotations

import math

import numpy as np

from ganmc.core.config import AUTO, CALIBRATIONS, DEFAULT_PAC_DELTA, checked_choice
from ganmc.core.errors import ConfigError
from ganmc.thresholds.distribution import Level, ScoreDistribution, percent
from ganmc.thresholds.ranks import (
    check_delta,
    conformal_rank,
    pac_min_images,
    pac_rank,
    usable_group,
)

__all__ = ["Threshold",
           "MonteCarloThreshold", "ConformalThreshold", "PerDigitThreshold", "PacThreshold",
           "PerDigitPacThreshold", "choose", "check_calibration_name", "above",
           "as_json_threshold", "false_alarm_rate", "AUTO_SOURCE_RULE", "WHY_AUTO_SOURCE"]


#: Longest name a calibration on the user's own images may have.
MAX_NAME_CHARS = 100


def check_calibration_name(name: str) -> str:
    """A calibration's name (``ganmc calibrate --name``), stripped; it is written into the
    card and into output lines, so it must be one short line of text.

    Raises:
        ConfigError: If it is empty, longer than ``MAX_NAME_CHARS`` or holds control
            characters (a new line, a tab, an escape).
    """
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        raise ConfigError("a calibration needs a name")
    if len(text) > MAX_NAME_CHARS:
        raise ConfigError(f"a calibration's name may have at most {MAX_NAME_CHARS} characters, "
                          f"not {len(text):,}")
    if any(not ch.isprintable() for ch in text):
        raise ConfigError("a calibration's name may not hold control characters (new lines, "
                          "tabs, escapes)")
    return text


def as_json_threshold(value: float) -> float | None:
    """A threshold as a card or a JSON file holds it: None where there is none at the level
    (a calibration set too small for it gives an infinite one, which JSON cannot hold)."""
    return float(value) if math.isfinite(value) else None


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
        source: ``"monte-carlo"``, ``"holdout"``, ``"per-digit"``, ``"pac"`` or
            ``"per-digit-pac"``.
        distribution: The normal scores (for ``per-digit``: all of them, pooled).
        level: The false-alarm level.
        value: The threshold as one number (for ``per-digit``: the pooled one, which digits
            with too few calibration images use).
        delta: For the PAC thresholds, the chance (over the calibration draw) that the
            false-alarm rate is above the level; None for the others.
    """

    source = ""
    #: The source in a few words, as a verdict's row and a chart name it.
    short = ""
    per_digit = False
    #: Whether it promises anything about real normal images (all but Monte Carlo's).
    promises = True
    delta: float | None = None

    def __init__(self, distribution: ScoreDistribution, level: Level):
        self.distribution, self.level = distribution, level
        self.value = self._value(distribution)

    def _value(self, dist: ScoreDistribution) -> float:
        raise NotImplementedError

    def at(self, level: Level) -> Threshold:
        """The same normal scores at another level."""
        return type(self)(self.distribution, level)

    def usable(self, n: int) -> bool:
        """Whether n normal scores give this kind of threshold a finite value at its level."""
        return usable_group(n, self.level)

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
        :class:`ganmc.core.naming.Names`, says "per-class" for a model of named classes)."""
        if self.per_digit and digits:
            own = self.by_digit(digits).values()
            noun = names.noun if names is not None else "digit"
            text = (f"per-{noun}{' PAC' if self.delta is not None else ''} thresholds "
                    f"{min(own):.4g} to {max(own):.4g}")
        else:
            text = f"{self.source} threshold {self.value:.4g}"
        return text + (f" ({percent(1 - self.delta)} confidence)" if self.delta is not None
                       else "")

    @property
    def line_name(self) -> str:
        """What its line on a histogram of scores is: under per-digit thresholds the pooled
        one (each image is judged by its digit's, said on its verdict)."""
        return "pooled threshold" if self.per_digit else f"{self.short} threshold"

    @property
    def real_scores(self) -> ScoreDistribution | None:
        """The held-out real normal scores it was set on, to draw over generated ones (all of
        them, pooled); None for a Monte Carlo threshold, set on generated ones."""
        return self.distribution if self.promises else None

    def judged_by(self, value: float, digit: int | None = None, name: str | None = None
                  ) -> str:
        """The threshold a verdict used, in words that say where it comes from (another page
        may judge by another): under per-digit thresholds that of the digit (or the named
        class ``name``) the image was taken for, never the pooled one."""
        if self.per_digit and digit is not None and name not in (None, str(digit)):
            return f"the \"{name}\" class's {self.short} threshold {value:.4g}"
        if self.per_digit and digit is not None:
            return f"the {digit}s' {self.short} threshold {value:.4g}"
        return f"the {self.short} threshold {value:.4g}"

    def headline(self, noun: str = "digit") -> str:
        """The threshold in a line's opening words: its one number, or under per-digit
        thresholds how images are judged (``noun``: "digit", or "class" for named classes)."""
        if self.per_digit:
            return (f"Per-{noun} thresholds: each image is judged against the threshold of the "
                    f"{noun} it is taken for (shown with its verdict)")
        return f"Threshold **{self.value:.4g}** — {self.source} calibration"

    def promise(self) -> str:
        """What the threshold promises about new normal images, in words."""
        return (f"at most {self.level.percent} of new normal images are flagged, on "
                f"average over calibration draws")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.value:.6g} at {self.level}, "
                f"n = {self.distribution.n:,})")



class MonteCarloThreshold(Threshold):
    """The seed's threshold: the (1 - alpha) quantile of generated images' scores."""

    source = "monte-carlo"
    short = "Monte Carlo"
    promises = False

    def _value(self, dist: ScoreDistribution) -> float:
        return dist.at_level(self.level)

    def promise(self) -> str:
        return ("a percentile of generated images' scores: it promises nothing about real "
                "images")


class ConformalThreshold(Threshold):
    """The order statistic of rank :func:`conformal_rank` of held-out normal scores; for
    exchangeable normal images it flags at most alpha of them (infinite when there are too
    few for the level)."""

    source = "holdout"
    short = "holdout"

    def _value(self, dist: ScoreDistribution) -> float:
        return dist.value_at_rank(conformal_rank(dist.n, self.level))


class PerDigitThreshold(ConformalThreshold):
    """Mondrian conformal: a :class:`ConformalThreshold` for each digit, over the held-out
    images taken for it; a digit with too few of them for the level uses the pooled one."""

    source = "per-digit"
    short = "per-digit"
    per_digit = True

    def __init__(self, distribution: ScoreDistribution, level: Level,
                 groups: dict[int, ScoreDistribution]):
        self.groups = groups
        super().__init__(distribution, level)
        self._by_group = {d: self._value(g) for d, g in groups.items() if self.usable(g.n)}

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

    def promise(self) -> str:
        return (f"at most {self.level.percent} of new normal images taken for each digit "
                f"are flagged, on average over calibration draws")


class PacThreshold(ConformalThreshold):
    """The PAC (training-conditional) threshold: the order statistic of rank
    :func:`pac_rank`, so that with probability at least 1 - ``delta`` over the draw of the
    calibration images the false-alarm rate is at most alpha (infinite with too few images:
    :func:`choose` refuses it then)."""

    source = "pac"
    short = "PAC"

    def __init__(self, distribution: ScoreDistribution, level: Level,
                 delta: float = DEFAULT_PAC_DELTA):
        check_delta(delta)
        self.delta = float(delta)
        super().__init__(distribution, level)

    def _value(self, dist: ScoreDistribution) -> float:
        return dist.value_at_rank(pac_rank(dist.n, self.level, self.delta))

    def at(self, level: Level) -> PacThreshold:
        return PacThreshold(self.distribution, level, self.delta)

    def usable(self, n: int) -> bool:
        return pac_rank(n, self.level, self.delta) <= n

    @property
    def rank(self) -> int:
        """Its rank among the calibration scores (the pooled ones for per-digit)."""
        return pac_rank(self.distribution.n, self.level, self.delta)

    def promise(self) -> str:
        n = self.distribution.n
        return (f"with probability at least {percent(1 - self.delta)} over the draw of the "
                f"{n:,} calibration images, at most {self.level.percent} of new normal "
                f"images are flagged (the score of rank {self.rank:,} of {n:,}; the average "
                f"promise takes rank {conformal_rank(n, self.level):,})")


class PerDigitPacThreshold(PerDigitThreshold):
    """Mondrian PAC: a :class:`PacThreshold` for each digit, over the held-out images taken
    for it; a digit with too few of them (:func:`pac_min_images`) uses the pooled PAC one."""

    source = "per-digit-pac"
    short = "per-digit PAC"

    def __init__(self, distribution: ScoreDistribution, level: Level,
                 groups: dict[int, ScoreDistribution], delta: float = DEFAULT_PAC_DELTA):
        check_delta(delta)
        self.delta = float(delta)
        super().__init__(distribution, level, groups)

    _value = PacThreshold._value
    usable = PacThreshold.usable

    def at(self, level: Level) -> PerDigitPacThreshold:
        return PerDigitPacThreshold(self.distribution, level, self.groups, self.delta)

    def promise(self) -> str:
        need = pac_min_images(self.level, self.delta)
        return (f"for each digit, with probability at least {percent(1 - self.delta)} over the "
                f"draw of its calibration images, at most {self.level.percent} of new "
                f"normal images taken for it are flagged (a digit needs {need} images for a "
                f"threshold of its own)")


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
#: Each source in a few words, for help texts (the CLI's --calibration, the dashboard's
#: "Threshold from").
SOURCE_WORDS = {
    "per-digit": "a conformal threshold for each digit, on the real normal digits never "
                 "trained on that are taken for it (the false-alarm rate holds for every "
                 "digit, on average over calibration draws)",
    "holdout": "one conformal threshold on those digits (on average over digits and over "
               "calibration draws)",
    "monte-carlo": "a percentile of the scores of generated images (the original method; no "
                   "promise about real images)",
    "per-digit-pac": "per-digit with the PAC (training-conditional) promise: with probability "
                     "at least the PAC confidence (90 % by default) over the draw of the "
                     "calibration images, at most the level's share of new normal images of "
                     "each digit are flagged; stricter, and it needs more images",
    "pac": "holdout with the PAC promise: with probability at least the PAC confidence over "
           "the draw of the calibration images, at most the level's share of new normal "
           "images are flagged (not only on average over draws)",
}


def choose(source: str, level: Level, *, holdout: np.ndarray | None = None,
           holdout_digits: np.ndarray | None = None,
           monte_carlo: ScoreDistribution | None = None, scorer: str = "the",
           delta: float = DEFAULT_PAC_DELTA) -> Threshold:
    """The one rule that picks where a threshold comes from, and the only maker of a
    :class:`Threshold`. It never simulates.

    Args:
        source: ``"per-digit"``, ``"holdout"``, ``"monte-carlo"``, ``"per-digit-pac"``,
            ``"pac"`` or ``"auto"`` (:data:`AUTO_SOURCE_RULE`; never a PAC one).
        level: The false-alarm level.
        holdout: Scores of real held-out normal images, if any.
        holdout_digits: The digit each of those images is taken for (same order), if known.
        monte_carlo: Scores of generated images, if a simulation was run.
        scorer: The score's name, for messages.
        delta: For the PAC sources, the chance over the calibration draw that the
            false-alarm rate is above the level.

    Raises:
        ConfigError: If the chosen source has no scores, or a PAC source has too few of them
            for any finite threshold.
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
    if source in ("pac", "per-digit-pac"):
        check_delta(delta)
        need = pac_min_images(level, delta)
        if pooled.n < need:
            raise ConfigError(
                f"with {pooled.n:,} calibration images no threshold can promise at most "
                f"{level.percent} false alarms with {percent(1 - delta)} confidence: that "
                f"takes at least {need:,}; calibrate on more images, lower the PAC "
                f"confidence or the percentile, or use the holdout threshold")
    if source == "holdout":
        return ConformalThreshold(pooled, level)
    if source == "pac":
        return PacThreshold(pooled, level, delta)
    if not per_digit:
        raise ConfigError(f"the model has no per-digit hold-out calibration of the {scorer} "
                          f"score (it needs per-digit Gaussians and held-out digits); use "
                          f"the {'pac' if source == 'per-digit-pac' else 'holdout'} threshold")
    holdout, digits = np.asarray(holdout), np.asarray(holdout_digits)
    groups = {int(d): ScoreDistribution.from_scores(holdout[digits == d])
              for d in np.unique(digits) if d >= 0}
    if source == "per-digit-pac":
        return PerDigitPacThreshold(pooled, level, groups, delta)
    return PerDigitThreshold(pooled, level, groups)


def false_alarm_rate(threshold: float, holdout: ScoreDistribution) -> float:
    """Share of held-out normal scores (an exact distribution) that the verdict rule flags at
    a threshold: its real false-alarm rate."""
    return float(np.mean(above(holdout.scores, threshold)))
