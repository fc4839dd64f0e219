import math

import numpy as np
import pytest

from ganmc.core.errors import ConfigError
from ganmc.thresholds.calibration import Threshold, above, choose
from ganmc.thresholds.distribution import Level, ScoreDistribution, quantile_interval
from ganmc.thresholds.montecarlo import StreamingHistogram
from ganmc.thresholds.ranks import conformal_rank, min_images


def conformal(scores, alpha: float) -> Threshold:
    return choose("holdout", Level(alpha), holdout=np.asarray(scores, float))


def test_conformal_threshold_is_the_right_order_statistic():
    scores = np.arange(1, 20, dtype=float)[::-1]  # n = 19
    # rank ceil(20 * 0.9) = 18 -> the 18th smallest = 18
    assert conformal_rank(19, Level(0.1)) == 18
    assert conformal(scores, 0.1).value == 18.0
    # too few scores for alpha = 0.01: no finite threshold can promise it
    assert conformal(scores, 0.01).value == math.inf
    assert min_images(Level(0.05)) == 19 and min_images(Level(0.1)) == 9


def test_conformal_p_values():
    dist = ScoreDistribution.from_scores([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(dist.p_values([0.5, 2.0, 4.0, 9.0]), [1.0, 0.8, 0.4, 0.2])
    np.testing.assert_allclose(dist.percentile_rank([0.5, 2.5, 9.0]), [0, 50, 100])


def test_percentile_threshold_matches_numpy():
    s = np.random.default_rng(0).normal(size=1001)
    dist = ScoreDistribution.from_scores(s)
    for p in (5, 50, 95, 99.9):
        rule = choose("monte-carlo", Level.from_percentile(p), monte_carlo=dist)
        assert rule.value == pytest.approx(np.percentile(s, p))
    with pytest.raises(ConfigError):
        Level.from_percentile(100)


def test_conformal_guarantee_holds_on_fresh_normal_data():
    rng = np.random.default_rng(42)
    alpha, rates = 0.05, []
    for _ in range(200):
        calib = conformal(rng.gamma(2.0, size=200), alpha)
        rates.append(np.mean(calib.flags(rng.gamma(2.0, size=2000))))
    assert np.mean(rates) <= alpha + 0.005  # marginal guarantee: E[FAR] <= alpha
    assert np.mean(rates) > alpha - 0.02  # and not needlessly conservative


def test_quantile_interval_covers_the_true_quantile():
    rng = np.random.default_rng(7)
    true_q = -np.log(0.05)  # 95th percentile of Exp(1)
    hits = 0
    for _ in range(200):
        dist = ScoreDistribution.from_scores(rng.exponential(size=2000))
        lo, hi = quantile_interval(dist, 0.95)
        hits += lo <= true_q <= hi
    assert hits / 200 >= 0.9


def test_histogram_distribution_approximates_exact():
    s = np.random.default_rng(3).lognormal(size=200_000)
    hist = StreamingHistogram()
    for chunk in np.array_split(s, 20):
        hist.add(chunk)
    approx, exact = hist.distribution(), ScoreDistribution.from_scores(s)
    assert not approx.exact and exact.exact
    assert approx.n == exact.n
    assert approx.mean == pytest.approx(exact.mean) and approx.std == pytest.approx(exact.std)
    assert approx.min == exact.min and approx.max == exact.max
    span = exact.max - exact.min
    for q in (0.05, 0.5, 0.95, 0.99):
        assert abs(approx.quantile(q) - exact.quantile(q)) < 0.002 * span
    for v in (0.5, 1.0, 3.0):
        assert abs(int(approx.count_at_least(v)) - int(exact.count_at_least(v))) < 0.002 * s.size
    edges, counts = approx.histogram(50)
    assert len(edges) == 51 and counts.sum() == pytest.approx(s.size, rel=1e-6)


def test_bad_scores_and_settings():
    with pytest.raises(ConfigError):
        ScoreDistribution.from_scores([])
    with pytest.raises(ConfigError):
        ScoreDistribution.from_scores([1.0, np.nan])
    with pytest.raises(ConfigError):
        choose("guess", Level(), holdout=np.array([1.0]))
    with pytest.raises(ConfigError):
        Level(1.5)
    with pytest.raises(ConfigError):  # no scores for the source asked for
        choose("monte-carlo", Level(), holdout=np.array([1.0]))
    with pytest.raises(ConfigError):
        choose("holdout", Level(), monte_carlo=ScoreDistribution.from_scores([1.0]))


def test_choose_auto_prefers_per_digit_then_holdout_then_monte_carlo():
    s, d = np.arange(40.0), np.repeat([1, 2], 20)
    mc = ScoreDistribution.from_scores(np.arange(10.0))
    assert choose("auto", Level(), holdout=s, holdout_digits=d, monte_carlo=mc).source == (
        "per-digit")
    assert choose("auto", Level(), holdout=s, monte_carlo=mc).source == "holdout"
    assert choose("auto", Level(), monte_carlo=mc).source == "monte-carlo"


def test_above_is_the_rule_and_flags_use_it():
    assert list(above([1.0, 2.0, 3.0], 2.0)) == [False, False, True]  # equal is normal
    rule = conformal(np.arange(1.0, 101.0), 0.05)  # rank 96
    assert rule.value == 96.0
    assert list(rule.flags([96.0, 96.5])) == [False, True]
    assert list(rule.values(n=2)) == [96.0, 96.0]
    assert rule.at(Level(0.5)).value == 51.0 and rule.value == 96.0  # at() makes a new one
    assert rule.describe() == "holdout threshold 96"


def test_a_threshold_is_made_only_by_choose_with_its_level():
    rule = conformal(np.arange(1.0, 101.0), 0.1)
    assert rule.level == Level(0.1) and rule.source == "holdout"
    assert not rule.per_digit and rule.fallbacks((1, 2)) == []
    mc = choose("monte-carlo", Level(0.1), monte_carlo=ScoreDistribution.from_scores(
        np.arange(1.0, 101.0)))
    assert mc.source == "monte-carlo" and mc.value == pytest.approx(90.1)


def test_per_digit_thresholds_hold_for_each_digit_and_fall_back_when_few():
    """Mondrian conformal: digit 1 scores low, digit 2 high; one pooled threshold flags almost
    no 1s and too many 2s, the per-digit ones about alpha of each."""
    rng = np.random.default_rng(0)

    def draw(n):
        d = rng.integers(1, 3, n)
        return rng.normal(np.where(d == 1, 0.0, 2.0), 1.0), d

    s, d = draw(4000)
    level = Level(0.05)
    pooled = choose("holdout", level, holdout=s)
    mondrian = choose("per-digit", level, holdout=s, holdout_digits=d)
    t_s, t_d = draw(40_000)
    for k in (1, 2):
        mine = t_d == k
        per = np.mean(mondrian.flags(t_s[mine], t_d[mine]))
        assert 0.04 < per < 0.06
    assert np.mean(pooled.flags(t_s[t_d == 1], t_d[t_d == 1])) < 0.02  # digits ignored
    assert np.mean(pooled.flags(t_s[t_d == 2])) > 0.08
    # p-values per digit: a 2 at the 2s' median is typical of 2s
    assert mondrian.p_values(np.array([2.0]), np.array([2]))[0] > 0.4
    thresholds = mondrian.by_digit((1, 2))
    assert thresholds[1] < thresholds[2]
    assert mondrian.describe((1, 2)) == (f"per-digit thresholds {thresholds[1]:.4g} to "
                                         f"{thresholds[2]:.4g}")
    # a digit with 10 held-out images cannot give a finite threshold at 5 %: pooled instead
    s3, d3 = np.concatenate([s, s[:10]]), np.concatenate([d, np.full(10, 3)])
    small = choose("per-digit", level, holdout=s3, holdout_digits=d3)
    assert small.fallbacks((1, 2, 3, 4)) == [3, 4]
    assert list(small.values(np.array([3, 4]))) == [small.value, small.value]
    with pytest.raises(ConfigError):
        choose("per-digit", level, holdout=s)


def test_far_band_holds_the_realised_rate():
    """With n calibration scores the realised false-alarm rate on further images lands in the
    5-95 % band about 90 % of the time."""
    import numpy as np

    from ganmc.thresholds.ranks import far_band

    rng = np.random.default_rng(3)
    for n in (30, 100, 400):
        lo, hi = far_band(n, Level(0.05))
        inside = []
        for _ in range(400):
            rate = np.mean(conformal(rng.normal(size=n), 0.05).flags(rng.normal(size=4000)))
            inside.append(lo - 0.005 <= rate <= hi + 0.005)  # 4,000 test images add a little
        assert 0.85 <= np.mean(inside) <= 0.97, (n, np.mean(inside))
    assert far_band(10, Level(0.05)) == (0.0, 0.0)  # 10 images: no finite threshold at 5 %


def test_far_band_per_digit_holds_the_realised_rate():
    """Two digits, each with its own conformal threshold: the overall false-alarm rate on
    further images in the same mix lands in the band in about 90 % of calibrations."""
    from statistics import NormalDist

    from ganmc.thresholds.ranks import far_band_per_digit

    rng = np.random.default_rng(5)
    sizes = {1: 60, 7: 140}
    lo, hi = far_band_per_digit(sizes, Level(0.05))
    assert 0 < lo < 0.05 < hi
    inside = 0
    for _ in range(400):
        rate = 0.0
        for d, n in sizes.items():
            t = conformal(rng.normal(d, 1, n), 0.05).value
            rate += n / 200 * (1 - NormalDist(d, 1).cdf(t))  # the exact rate of this threshold
        inside += lo <= rate <= hi
    assert 0.85 <= inside / 400 <= 0.95
    assert far_band_per_digit({1: 5, 7: 5}, Level(0.05)) == (0.0, 0.0)  # 10: nothing flagged
