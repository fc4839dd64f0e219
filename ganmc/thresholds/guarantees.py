"""When the verdicts' promises hold, checked on the images themselves (numpy and scipy only).

- **Drift alarm**: a conformal test martingale over a stream of images (a Detect page
  session, one ``ganmc score`` batch, one ``Detector.verdicts`` call). Each image gets a
  smoothed conformal p-value against the calibration scores and the stream's earlier images
  (:func:`online_p_values`); for images like the calibration images these are independent and
  uniform (Vovk, Gammerman and Shafer, *Algorithmic Learning in a Random World*, 2005), and a
  martingale that bets against uniformity (:func:`jumper_martingale`) reaches 1/delta with
  probability at most delta (Ville's inequality). When it does, the images are not like the
  calibration images, and the threshold's promise does not hold for them. The verdicts'
  own p-values are not used for this: they all compare with the same calibration scores, so
  they are not independent of each other, and Ville's bound needs them to be.
- **False discovery rate of a batch**: Benjamini-Hochberg over the images' conformal
  p-values against all the held-out normal images (:func:`benjamini_hochberg`). Conformal
  p-values from one calibration set are positively dependent (PRDS), so BH's bound holds for
  them (Bates, Candes, Lei, Romano and Sesia, "Testing for outliers with conformal
  p-values", Annals of Statistics, 2023). The pooled set, not each digit's: a p-value is never
  below 1 / (n + 1), and BH needs some as small as q / (batch size); a digit's 200 images
  would leave it almost nothing to flag.
- **Monte Carlo against real**: a two-sample Kolmogorov-Smirnov test of generated images'
  scores against held-out real ones (:func:`ks_test`), read in plain words with the false-alarm
  rate the Monte Carlo threshold has on the real ones (:func:`ks_reading`).

Nothing here loads a model or imports TensorFlow: :mod:`ganmc.app.service` hands in the scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ganmc.core.errors import ConfigError
from ganmc.thresholds.distribution import percent

#: The betting functions of the drift alarm's martingale: p -> k p^(k - 1) for each k (k = 1
#: bets nothing and keeps capital in reserve). Small k bet hard on tiny p-values (noise,
#: letters: an alarm within a few images), larger k on a milder shift of all of them (other
#: writers' digits). Picked among a few such sets on the shipped model's streams; what it
#: does is measured by ``python -m benchmarks.guarantees`` (docs/benchmarks.md, "Guarantees").
KAPPAS = (1.0, 0.6, 0.35, 0.15, 0.05)
#: The share of capital that moves evenly to every betting function before each image (Vovk
#: et al.'s "jumper"): lets the martingale change its bet when a stream changes mid-way.
JUMP = 0.01
#: Images whose stream positions are compared in one block when counting earlier stream
#: images (memory: BLOCK^2 booleans).
BLOCK = 1024
#: Significance under which the Kolmogorov-Smirnov test reads as "score differently".
KS_SIGNIFICANCE = 0.05


def _check_rate(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 < value < 1.0):
        raise ConfigError(f"{name} must be between 0 and 1 (not included), not {value!r}")
    return float(value)



# ---------------------------------------------------------------------------- drift alarm
def online_p_values(scores: np.ndarray, reference: np.ndarray, *,
                    groups: np.ndarray | None = None,
                    reference_groups: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Smoothed conformal p-values of a stream of scores, in order (higher = more anomalous).

    Image i is compared with the reference scores and the stream's images before it:
    p_i = (#{greater} + theta_i * #{equal, itself included}) / (n + i), n the reference's
    size, theta_i uniform on [0, 1) from ``seed`` (the same stream gives the same p-values).
    With ``groups`` (Mondrian: e.g. the digit each image is taken for), an image is compared
    only with the reference scores and earlier images of its own group
    (``reference_groups``); a group with no reference scores starts from the stream alone.

    For a stream exchangeable with the reference (within each group) the p-values are
    independent and uniform on (0, 1].
    """
    s = np.asarray(scores, np.float64).ravel()
    ref = np.asarray(reference, np.float64).ravel()
    if not (np.isfinite(s).all() and np.isfinite(ref).all()):
        raise ConfigError("drift check: scores contain NaN or infinite values")
    theta = np.random.default_rng(seed).random(len(s))
    if groups is None:  # a model's held-out scores come sorted: a stable sort is one pass
        return _online(s, np.sort(ref, kind="stable"), theta)
    g = np.asarray(groups).ravel()
    rg = np.asarray(reference_groups).ravel() if reference_groups is not None else None
    if len(g) != len(s) or (rg is not None and len(rg) != len(ref)):
        raise ConfigError("drift check: one group per score is needed")
    p = np.empty(len(s))
    for key in np.unique(g):
        idx = np.flatnonzero(g == key)
        mine = ref[rg == key] if rg is not None else ref
        p[idx] = _online(s[idx], np.sort(mine, kind="stable"), theta[idx])
    return p


def _online(s: np.ndarray, ref: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """:func:`online_p_values` of one group, ``ref`` sorted; earlier stream images are
    counted a block at a time (a sorted copy of those before the block, and the block's own
    pairs), so memory stays bounded and time near m log m for m images."""
    n, m = len(ref), len(s)
    hi, lo = np.searchsorted(ref, s, "right"), np.searchsorted(ref, s, "left")
    greater = (n - hi).astype(np.float64)
    equal = (hi - lo + 1).astype(np.float64)
    before = None
    for start in range(0, m, BLOCK):
        part = s[start:start + BLOCK]
        here = slice(start, start + len(part))
        if before is not None:
            hi, lo = np.searchsorted(before, part, "right"), np.searchsorted(before, part, "left")
            greater[here] += len(before) - hi
            equal[here] += hi - lo
        if len(part) > 1:
            earlier = np.tri(len(part), k=-1, dtype=bool)  # [i, j]: j came before i
            greater[here] += ((part[None, :] > part[:, None]) & earlier).sum(1)
            equal[here] += ((part[None, :] == part[:, None]) & earlier).sum(1)
        if start + BLOCK < m:
            before = np.sort(part if before is None else np.concatenate([before, part]),
                             kind="stable")
    return (greater + theta * equal) / (n + np.arange(1, m + 1))


def jumper_martingale(p_values: np.ndarray, kappas: tuple[float, ...] = KAPPAS,
                      jump: float = JUMP) -> np.ndarray:
    """log10 of a conformal test martingale after each p-value: a mixture that starts with
    its capital (1) split evenly over the betting functions p -> k p^(k - 1) (each integrates
    to 1 over (0, 1], so for uniform p-values every bet is fair), and before each p-value
    moves ``jump`` of it evenly over all of them (Vovk, Petej, Nouretdinov, Ahlberg, Carlsson
    and Gammerman, "Retrain or not retrain: conformal test martingales for change-point
    detection", 2021). Its expected value stays 1 for independent uniform p-values, so it
    ever reaches 1/delta with probability at most delta (Ville's inequality).

    ``p_values``: one stream (m,) or many streams (S, m), which gives (S, m).
    """
    p = np.asarray(p_values, np.float64)
    many = p.ndim == 2
    p = np.atleast_2d(p)
    if p.size and not ((p > 0) & (p <= 1)).all():
        raise ConfigError("drift check: p-values must be in (0, 1]")
    k = np.asarray(kappas, np.float64)
    capital = np.full((p.shape[0], len(k)), 1.0 / len(k))  # each row sums to 1
    grown = np.empty((p.shape[0], p.shape[1]))
    for t in range(p.shape[1]):
        capital = (1.0 - jump) * capital + jump / len(k)
        capital *= k * p[:, t:t + 1] ** (k - 1.0)
        grown[:, t] = capital.sum(axis=1)
        capital /= grown[:, t:t + 1]
    path = np.cumsum(np.log10(grown), axis=1)
    return path if many else path[0]


@dataclass(frozen=True)
class DriftAlarm:
    """The drift alarm over a stream of images.

    Attributes:
        log10_path: log10 of the martingale after each image (0 = no evidence either way).
        delta: The alarm goes off when the martingale reaches 1/delta; images like the
            calibration images set it off with probability at most delta.
        alpha: The threshold's nominal false-alarm rate (for the words).
        promise: Whether the threshold makes a promise about real images (conformal, PAC)
            or is a Monte Carlo percentile (whose rates were only measured on them).
        grouped: Whether each image was compared only with calibration images of the digit
            it is taken for.
        noun: What the model's labels are called ("digit", or "class" for a model of
            named classes: :class:`ganmc.core.naming.Names`).
    """

    log10_path: np.ndarray
    delta: float
    alpha: float
    promise: bool = True
    grouped: bool = False
    noun: str = "digit"

    @property
    def n(self) -> int:
        return len(self.log10_path)

    @property
    def level(self) -> float:
        """The martingale value that sets the alarm off: 1/delta."""
        return 1.0 / self.delta

    @property
    def alarm_at(self) -> int | None:
        """The image (1 = the first) at which the martingale first reached 1/delta, or None."""
        hit = np.flatnonzero(self.log10_path >= math.log10(self.level) - 1e-12)
        return int(hit[0]) + 1 if len(hit) else None

    @property
    def fired(self) -> bool:
        return self.alarm_at is not None

    @property
    def peak(self) -> float:
        """The largest value the martingale reached (1 before any image)."""
        return float(10 ** max(0.0, float(self.log10_path.max()))) if self.n else 1.0

    @property
    def values(self) -> np.ndarray:
        """The martingale after each image."""
        return 10 ** self.log10_path

    def headline(self) -> str:
        """The alarm in one sentence, plain words first."""
        if not self.fired:
            return "No drift alarm: these images are like the ones the threshold was " \
                   "calibrated on, as far as they show."
        if self.promise:
            return (f"These images are not like the ones the threshold was calibrated on: "
                    f"the {percent(self.alpha)} promise does not hold for them.")
        return ("These images are not like the real normal images the model was calibrated "
                "on: the false-alarm rates measured on those do not hold for them.")

    def details(self) -> str:
        """How the alarm decided, in a sentence or two."""
        against = (f"the calibration images of the {self.noun} each is taken for" if self.grouped
                   else "the calibration images")
        need = f"{self.level:,.0f} to 1"
        if self.fired:
            return (f"The evidence that they differ from {against} reached {need} at image "
                    f"{self.alarm_at} of {self.n}; images like those reach it by chance at "
                    f"most {percent(self.delta)} of the time (a conformal test martingale).")
        over = f"Over {self.n} image{'s' if self.n != 1 else ''}"
        if self.peak <= 1.0:
            return (f"{over}, there is no evidence that they differ from {against} (the alarm "
                    f"needs {need}).")
        return (f"{over}, the evidence that they differ from {against} peaked at "
                f"{self.peak:.3g} to 1; the alarm needs {need}.")

    def words(self) -> str:
        return f"{self.headline()} {self.details()}"

    def summary(self) -> dict:
        """JSON-ready figures."""
        return {"images": self.n, "delta": self.delta, "alarm": self.fired,
                "alarm_at": self.alarm_at, "peak": self.peak,
                "martingale": [float(v) for v in self.values], "words": self.words()}


#: The way out of a drift alarm, for each front end.
WAY_OUT = ("If these images are normal for you (another pen, scanner or hand), calibrate on "
           "your own normal images: the threshold is then set on images like them.")


def drift_alarm(scores: np.ndarray, reference: np.ndarray, *, alpha: float,
                digits: np.ndarray | None = None, reference_digits: np.ndarray | None = None,
                delta: float = 0.01, promise: bool = True, seed: int = 0,
                noun: str = "digit") -> DriftAlarm:
    """The drift alarm for a stream of scores against the calibration scores ``reference``;
    with ``digits`` and ``reference_digits``, each image against the calibration images of
    the digit (``noun``: or class) it is taken for (as a per-digit threshold judges it)."""
    _check_rate("the drift alarm's delta", delta)
    grouped = digits is not None and reference_digits is not None
    p = online_p_values(scores, reference, groups=digits if grouped else None,
                        reference_groups=reference_digits if grouped else None, seed=seed)
    return DriftAlarm(jumper_martingale(p), delta, alpha, promise, grouped, noun)


# ---------------------------------------------------------------------------- batch FDR
def benjamini_hochberg(p_values: np.ndarray, q: float) -> np.ndarray:
    """True for each p-value Benjamini-Hochberg rejects at false discovery rate q: the k
    smallest, k the largest rank with p_(k) <= q k / m."""
    _check_rate("the false discovery rate", q)
    p = np.asarray(p_values, np.float64).ravel()
    m = len(p)
    out = np.zeros(m, bool)
    if not m:
        return out
    order = np.argsort(p, kind="stable")
    ok = np.flatnonzero(p[order] <= q * np.arange(1, m + 1) / m)
    if len(ok):
        out[order[:ok[-1] + 1]] = True
    return out


@dataclass(frozen=True)
class BatchFdr:
    """Benjamini-Hochberg over a batch's p-values.

    Attributes:
        q: The false discovery rate.
        flagged: True for each image flagged at that rate.
        per_image: How many the per-image verdicts flag (at the threshold's own level).
        alpha: That level.
        reference: How many normal images the p-values compare with.
    """

    q: float
    flagged: np.ndarray
    per_image: int
    alpha: float
    reference: int = 0

    @property
    def n_flagged(self) -> int:
        return int(self.flagged.sum())

    def words(self) -> str:
        n, k = len(self.flagged), self.n_flagged
        head = (f"Of these {k} flagged image{'s' if k != 1 else ''}, at most {percent(self.q)} "
                f"are expected to be normal" if k else
                f"No image is flagged at a false discovery rate of {percent(self.q)}")
        against = f" against the {self.reference:,} held-out normal images" \
            if self.reference else ""
        return (f"{head} (Benjamini-Hochberg over the p-values of the {n} images{against}, "
                f"false discovery rate {percent(self.q)}); judged one by one at "
                f"{percent(self.alpha)} false alarms, {self.per_image} are flagged.")

    def summary(self) -> dict:
        return {"q": self.q, "images": len(self.flagged), "flagged": self.n_flagged,
                "flagged_one_by_one": self.per_image, "words": self.words()}


def batch_fdr(p_values: np.ndarray, q: float, per_image_flags: np.ndarray,
              alpha: float, reference: int = 0) -> BatchFdr:
    """:class:`BatchFdr` of a batch: BH at ``q`` beside the per-image verdicts' flags
    (``reference``: how many normal images the p-values compare with)."""
    return BatchFdr(q, benjamini_hochberg(p_values, q), int(np.sum(per_image_flags)), alpha,
                    reference)


# ---------------------------------------------------------------------------- Monte Carlo
@dataclass(frozen=True)
class KsTest:
    """A two-sample Kolmogorov-Smirnov test: the largest gap between the two samples'
    cumulative distributions (``statistic``, 0 to 1) and its p-value."""

    statistic: float
    p_value: float
    n_generated: int
    n_real: int


def ks_test(generated, real: np.ndarray) -> KsTest:
    """Kolmogorov-Smirnov test of generated scores (a :class:`ganmc.thresholds.distribution.
    ScoreDistribution`, exact or a streamed histogram, or an array) against real ones.

    Exact samples of up to 10,000 go to ``scipy.stats.ks_2samp`` (its exact p-value where
    it has one). Larger ones, and histograms, are compared at the real scores (between two
    real scores the real CDF is flat and the generated one rises, so the largest gap is at
    one of them), with the asymptotic p-value scipy uses for large samples
    (``kstwo`` at n m / (n + m) images).
    """
    from scipy import stats

    real = np.sort(np.asarray(real, np.float64).ravel())
    gen = generated
    if isinstance(gen, np.ndarray) or not hasattr(gen, "count_at_least"):
        gen = np.sort(np.asarray(gen, np.float64).ravel())
        n = len(gen)

        def at_least(x):
            return n - np.searchsorted(gen, x, "left")

        def above(x):
            return n - np.searchsorted(gen, x, "right")

        exact = gen
    else:
        n = gen.n
        exact = gen.scores if gen.exact else None
        at_least = gen.count_at_least

        def above(x):
            return gen.count_at_least(np.nextafter(np.asarray(x, np.float64), np.inf))

    m = len(real)
    if not (n and m):
        raise ConfigError("the Kolmogorov-Smirnov test needs scores on both sides")
    if exact is not None and n <= 10_000:
        r = stats.ks_2samp(exact, real)
        return KsTest(float(r.statistic), float(r.pvalue), n, m)
    below = np.searchsorted(real, real, "left") / m  # real CDF just below each real score
    upto = np.searchsorted(real, real, "right") / m  # and at it
    gen_below = 1.0 - np.asarray(at_least(real), np.float64) / n
    gen_upto = 1.0 - np.asarray(above(real), np.float64) / n
    d = float(max(np.abs(gen_below - below).max(), np.abs(gen_upto - upto).max()))
    en = n * m / (n + m)
    return KsTest(d, float(stats.kstwo.sf(d, max(1, round(en)))), n, m)


def _p_text(p: float) -> str:
    return "p < 1e-15" if p < 1e-15 else f"p = {p:.2g}"


@dataclass(frozen=True)
class KsReading:
    """What the Kolmogorov-Smirnov test says of a Monte Carlo threshold, in words."""

    test: KsTest
    false_alarm_rate: float | None
    alpha: float

    @property
    def differ(self) -> bool:
        """Whether generated and real scores differ at :data:`KS_SIGNIFICANCE`."""
        return self.test.p_value < KS_SIGNIFICANCE

    def words(self, rate: bool = True) -> str:
        """The reading in a sentence; ``rate``: with the false-alarm rate measured on the real
        images at the Monte Carlo threshold."""
        t = self.test
        test = (f"two-sample Kolmogorov-Smirnov test of {t.n_generated:,} generated against "
                f"{t.n_real:,} held-out real images' scores: largest gap between their "
                f"distributions D = {t.statistic:.3f}, {_p_text(t.p_value)}")
        rate = ("" if self.false_alarm_rate is None or not rate else
                f"; the measured rate on the real held-out images at this threshold is "
                f"{percent(self.false_alarm_rate)}")
        if self.differ:
            return (f"Generated images score differently from real ones ({test}): this "
                    f"percentile is not a false-alarm rate{rate}.")
        return (f"The test finds no difference between generated and real images' scores "
                f"({test}): the percentile may be read as a false-alarm rate of about "
                f"{percent(self.alpha)}{rate}.")

    def summary(self) -> dict:
        return {"statistic": self.test.statistic, "p_value": self.test.p_value,
                "n_generated": self.test.n_generated, "n_real": self.test.n_real,
                "differ": self.differ, "significance": KS_SIGNIFICANCE,
                "false_alarm_rate_on_holdout": self.false_alarm_rate, "words": self.words(),
                "reading": self.words(rate=False)}


def ks_reading(generated, real: np.ndarray, *, alpha: float,
               false_alarm_rate: float | None = None) -> KsReading:
    """:func:`ks_test` with its reading for a Monte Carlo threshold at level ``alpha`` that
    flags ``false_alarm_rate`` of the real images."""
    return KsReading(ks_test(generated, real), false_alarm_rate, alpha)
