import math

import numpy as np
import pytest

from ganmc.calibration import (
    Calibration,
    ScoreDistribution,
    conformal_threshold,
    percentile_threshold,
    quantile_interval,
)
from ganmc.errors import ConfigError
from ganmc.montecarlo import StreamingHistogram


def test_conformal_threshold_is_the_right_order_statistic():
    scores = np.arange(1, 20, dtype=float)  # n = 19
    dist = ScoreDistribution.from_scores(scores[::-1])
    # rank ceil(20 * 0.9) = 18 -> the 18th smallest = 18
    assert conformal_threshold(dist, 0.1) == 18.0
    # too few scores for alpha = 0.01: no finite threshold can promise it
    assert conformal_threshold(dist, 0.01) == math.inf


def test_conformal_p_values():
    dist = ScoreDistribution.from_scores([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(dist.p_values([0.5, 2.0, 4.0, 9.0]), [1.0, 0.8, 0.4, 0.2])
    np.testing.assert_allclose(dist.percentile_rank([0.5, 2.5, 9.0]), [0, 50, 100])


def test_percentile_threshold_matches_numpy():
    s = np.random.default_rng(0).normal(size=1001)
    dist = ScoreDistribution.from_scores(s)
    for p in (5, 50, 95, 99.9):
        assert percentile_threshold(dist, p) == pytest.approx(np.percentile(s, p))
    with pytest.raises(ConfigError):
        percentile_threshold(dist, 100)


def test_conformal_guarantee_holds_on_fresh_normal_data():
    rng = np.random.default_rng(42)
    alpha, rates = 0.05, []
    for _ in range(200):
        calib = Calibration("holdout", ScoreDistribution.from_scores(rng.gamma(2.0, size=200)))
        rates.append(np.mean(rng.gamma(2.0, size=2000) > calib.threshold(alpha)))
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
        Calibration("guess", ScoreDistribution.from_scores([1.0]))
    with pytest.raises(ConfigError):
        Calibration("holdout", ScoreDistribution.from_scores([1.0])).threshold(1.5)


def test_per_digit_thresholds_hold_for_each_digit_and_fall_back_when_few():
    """Mondrian conformal: digit 1 scores low, digit 2 high; one pooled threshold flags almost
    no 1s and too many 2s, the per-digit ones about alpha of each."""
    import numpy as np

    from ganmc.calibration import Calibration, ScoreDistribution

    rng = np.random.default_rng(0)

    def draw(n):
        d = rng.integers(1, 3, n)
        return rng.normal(np.where(d == 1, 0.0, 2.0), 1.0), d

    s, d = draw(4000)
    groups = {k: ScoreDistribution.from_scores(s[d == k]) for k in (1, 2)}
    pooled = Calibration("holdout", ScoreDistribution.from_scores(s))
    mondrian = Calibration("per-digit", ScoreDistribution.from_scores(s), groups)
    t_s, t_d = draw(40_000)
    for k in (1, 2):
        mine = t_d == k
        per = np.mean(t_s[mine] > mondrian.thresholds(0.05, t_d[mine]))
        assert 0.04 < per < 0.06
    assert np.mean(t_s[t_d == 1] > pooled.threshold(0.05)) < 0.02
    assert np.mean(t_s[t_d == 2] > pooled.threshold(0.05)) > 0.08
    # p-values per digit: a 2 at the 2s' median is typical of 2s
    assert mondrian.p_values(np.array([2.0]), np.array([2]))[0] > 0.4
    # a digit with 10 held-out images cannot give a finite threshold at 5 %: pooled instead
    small = Calibration("per-digit", ScoreDistribution.from_scores(s),
                        {**groups, 3: ScoreDistribution.from_scores(s[:10])})
    assert small.fallbacks(0.05, (1, 2, 3, 4)) == [3, 4]
    assert small.threshold(0.05, 3) == small.threshold(0.05) == small.threshold(0.05, 4)
    with pytest.raises(ConfigError):
        Calibration("per-digit", ScoreDistribution.from_scores(s))


def test_far_band_holds_the_realised_rate():
    """With n calibration scores the realised false-alarm rate on further images lands in the
    5-95 % band about 90 % of the time."""
    import numpy as np

    from ganmc.calibration import ScoreDistribution, conformal_threshold, far_band

    rng = np.random.default_rng(3)
    for n in (30, 100, 400):
        lo, hi = far_band(n, 0.05)
        inside = []
        for _ in range(400):
            t = conformal_threshold(ScoreDistribution.from_scores(rng.normal(size=n)), 0.05)
            rate = np.mean(rng.normal(size=4000) > t)
            inside.append(lo - 0.005 <= rate <= hi + 0.005)  # 4,000 test images add a little
        assert 0.85 <= np.mean(inside) <= 0.97, (n, np.mean(inside))
    assert far_band(10, 0.05) == (0.0, 0.0)  # 10 images: no finite threshold at 5 %


def test_far_band_per_digit_holds_the_realised_rate():
    """Two digits, each with its own conformal threshold: the overall false-alarm rate on
    further images in the same mix lands in the band in about 90 % of calibrations."""
    from statistics import NormalDist

    from ganmc.calibration import ScoreDistribution, conformal_threshold, far_band_per_digit

    rng = np.random.default_rng(5)
    sizes = {1: 60, 7: 140}
    lo, hi = far_band_per_digit(sizes, 0.05)
    assert 0 < lo < 0.05 < hi
    inside = 0
    for _ in range(400):
        rate = 0.0
        for d, n in sizes.items():
            t = conformal_threshold(ScoreDistribution.from_scores(rng.normal(d, 1, n)), 0.05)
            rate += n / 200 * (1 - NormalDist(d, 1).cdf(t))  # the exact rate of this threshold
        inside += lo <= rate <= hi
    assert 0.85 <= inside / 400 <= 0.95
    assert far_band_per_digit({1: 5, 7: 5}, 0.05) == (0.0, 0.0)  # 10 images: nothing flagged
