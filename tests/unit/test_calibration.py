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
