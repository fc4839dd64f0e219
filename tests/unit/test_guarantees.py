"""The statistics behind the promises (ganmc.thresholds.guarantees, the PAC threshold): the
drift alarm's
p-values and martingale, Benjamini-Hochberg, the Kolmogorov-Smirnov reading and the PAC rank,
each against its definition and by simulation. numpy and scipy only: no model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ganmc.core.errors import ConfigError
from ganmc.thresholds import guarantees
from ganmc.thresholds.calibration import choose
from ganmc.thresholds.distribution import Level, ScoreDistribution
from ganmc.thresholds.guarantees import (
    KAPPAS,
    batch_fdr,
    benjamini_hochberg,
    drift_alarm,
    jumper_martingale,
    ks_reading,
    ks_test,
    online_p_values,
)
from ganmc.thresholds.ranks import conformal_rank, pac_min_images, pac_rank, pac_words

DELTA = 0.01
ALARM = math.log10(1 / DELTA)


def _naive_online(scores, reference, theta):
    """The smoothed online p-values, one image at a time, as written in the definition."""
    bag = list(reference)
    out = []
    for s, t in zip(scores, theta):
        bag.append(s)
        greater = sum(b > s for b in bag)
        equal = sum(b == s for b in bag)
        out.append((greater + t * equal) / len(bag))
    return np.array(out)


# ---------------------------------------------------------------------------- drift alarm
def test_online_p_values_follow_the_definition_with_ties_and_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 8, 30).astype(float)  # ties on purpose
    stream = rng.integers(0, 9, 50).astype(float)
    theta = np.random.default_rng(5).random(50)
    want = _naive_online(stream, reference, theta)
    assert np.allclose(online_p_values(stream, reference, seed=5), want)
    monkeypatch.setattr(guarantees, "BLOCK", 7)  # earlier images counted across blocks
    assert np.allclose(online_p_values(stream, reference, seed=5), want)


def test_online_p_values_of_a_group_see_only_their_group():
    rng = np.random.default_rng(1)
    ref, ref_g = rng.normal(size=300), rng.integers(0, 3, 300)
    s, g = rng.normal(size=80), rng.integers(0, 3, 80)
    p = online_p_values(s, ref, groups=g, reference_groups=ref_g, seed=2)
    theta = np.random.default_rng(2).random(80)
    for d in range(3):
        mine = g == d
        assert np.allclose(p[mine], _naive_online(s[mine], ref[ref_g == d], theta[mine]))
    moved = s.copy()
    moved[g != 0] += 100.0  # other digits' images change: digit 0's p-values do not
    p2 = online_p_values(moved, ref, groups=g, reference_groups=ref_g, seed=2)
    assert np.array_equal(p[g == 0], p2[g == 0])


def test_online_p_values_are_uniform_for_exchangeable_images():
    rng = np.random.default_rng(3)
    p = np.concatenate([online_p_values(rng.normal(size=100), rng.normal(size=50), seed=i)
                        for i in range(200)])
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert p.min() > 0 and p.max() <= 1


def test_each_betting_function_is_fair_for_uniform_p_values():
    """k p^(k - 1) integrates to 1 over (0, 1]: the martingale's expected growth is 1."""
    for k in KAPPAS:
        total = stats.beta(k, 1).cdf(1.0) - stats.beta(k, 1).cdf(0.0)  # k p^(k-1) = Beta(k,1)
        assert total == pytest.approx(1.0)
    one = jumper_martingale(np.array([0.5]))
    mix = np.mean([k * 0.5 ** (k - 1) for k in KAPPAS])
    assert 10 ** one[0] == pytest.approx(mix)


def test_false_alarms_stay_under_delta_for_uniform_p_values():
    """Ville's inequality: over 2,000 streams of 500 uniform p-values the martingale reaches
    1/delta in at most delta of them."""
    p = np.random.default_rng(4).uniform(size=(2000, 500))
    p = np.clip(p, 1e-12, 1.0)
    crossed = (jumper_martingale(p) >= ALARM).any(axis=1)
    assert crossed.mean() <= DELTA, crossed.mean()


def test_false_alarms_stay_under_delta_for_images_like_the_calibration_images():
    """The whole alarm on exchangeable scores (fresh calibration scores and stream each time,
    per digit too): at most delta of 1,000 streams of 300 ever alarm."""
    rng = np.random.default_rng(5)
    fired = []
    for i in range(1000):
        ref, ref_d = rng.normal(size=400), rng.integers(0, 4, 400)
        s, d = rng.normal(size=300), rng.integers(0, 4, 300)
        grouped = i % 2 == 1
        alarm = drift_alarm(s, ref, alpha=0.05, digits=d if grouped else None,
                            reference_digits=ref_d if grouped else None, seed=i)
        fired.append(alarm.fired)
    assert np.mean(fired) <= DELTA, np.mean(fired)


def test_the_alarm_fires_fast_on_extreme_images_and_within_50_on_a_mild_shift():
    rng = np.random.default_rng(6)
    ref = rng.normal(size=2000)
    noise = drift_alarm(rng.normal(8, 1, 20), ref, alpha=0.05)  # beyond every normal score
    assert noise.fired and noise.alarm_at <= 10
    firsts = []
    for i in range(100):  # a shift that flags about 20 % at 5 % (4x the nominal rate)
        a = drift_alarm(rng.normal(0.85, 1, 100), ref, alpha=0.05, seed=i)
        firsts.append(a.alarm_at or 10**6)
    assert np.median(firsts) <= 50 and np.mean(np.array(firsts) <= 50) >= 0.8, firsts


def test_an_alarm_says_what_it_means_and_the_quiet_one_says_how_far_it_got():
    rng = np.random.default_rng(7)
    ref = rng.normal(size=500)
    a = drift_alarm(rng.normal(8, 1, 12), ref, alpha=0.05, delta=DELTA)
    assert a.fired and a.alarm_at == int(np.argmax(a.log10_path >= ALARM)) + 1
    assert a.headline() == ("These images are not like the ones the threshold was calibrated "
                            "on: the 5 % promise does not hold for them.")
    assert f"at image {a.alarm_at} of 12" in a.details() and "100 to 1" in a.details()
    quiet = drift_alarm(rng.normal(size=5), ref, alpha=0.05)
    assert not quiet.fired and quiet.alarm_at is None
    assert quiet.details().startswith("Over 5 images, ")
    some = guarantees.DriftAlarm(np.array([0.2, 0.5, 0.1]), DELTA, 0.05)
    assert some.details() == ("Over 3 images, the evidence that they differ from the "
                              "calibration images peaked at 3.16 to 1; the alarm needs 100 "
                              "to 1.")
    none = guarantees.DriftAlarm(np.array([-0.1, -0.3]), DELTA, 0.05, grouped=True)
    assert none.details() == ("Over 2 images, there is no evidence that they differ from the "
                              "calibration images of the digit each is taken for (the alarm "
                              "needs 100 to 1).")
    mc = drift_alarm(rng.normal(8, 1, 12), ref, alpha=0.05, promise=False)
    assert "false-alarm rates measured on those do not hold" in mc.headline()
    s = a.summary()
    assert s["alarm_at"] == a.alarm_at and len(s["martingale"]) == 12


def test_the_drift_inputs_are_checked():
    with pytest.raises(ConfigError, match="NaN"):
        online_p_values(np.array([np.nan]), np.zeros(3))
    with pytest.raises(ConfigError, match="delta"):
        drift_alarm(np.zeros(3), np.zeros(3), alpha=0.05, delta=1.5)
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        jumper_martingale(np.array([0.0, 0.5]))


# ---------------------------------------------------------------------------- BH
def test_benjamini_hochberg_is_the_step_up_rule():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # q k / m at q = 0.05: 0.005 0.01 0.015 0.02 0.025 ...: only the first two pass
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True] + [False] * 8
    # at q = 0.5 the largest p, 0.216, is under q 10 / 10: all ten (step-up: 0.205 > 0.5 * 4
    # / 10 would stop a step-down rule, not this one)
    assert benjamini_hochberg(p, 0.5).all()
    shuffled = np.random.default_rng(0).permutation(len(p))
    assert np.array_equal(benjamini_hochberg(p[shuffled], 0.05), benjamini_hochberg(p, 0.05)
                          [shuffled])
    assert benjamini_hochberg(np.array([]), 0.05).shape == (0,)
    with pytest.raises(ConfigError):
        benjamini_hochberg(p, 0.0)


@pytest.mark.parametrize("source", ["holdout", "per-digit"])
def test_bh_over_conformal_p_values_keeps_the_false_discovery_rate(source):
    """1,000 batches of 300 normal images and 100 anomalies, each against a fresh calibration
    set of 500 (per digit: 4 digits), conformal p-values from the verdicts' own rule: the
    share of normal images among those BH flags averages at most q."""
    rng = np.random.default_rng(11 if source == "holdout" else 12)
    q, fdp, power = 0.05, [], []
    for _ in range(1000):
        cal, cal_d = rng.normal(size=500), rng.integers(0, 4, 500)
        rule = choose(source, Level(0.05), holdout=cal, holdout_digits=cal_d)
        x = np.concatenate([rng.normal(size=300), rng.normal(3.5, 1.0, 100)])
        d = rng.integers(0, 4, 400)
        flagged = benjamini_hochberg(rule.p_values(x, d), q)
        fdp.append(flagged[:300].sum() / max(flagged.sum(), 1))
        power.append(flagged[300:].mean())
    assert np.mean(fdp) <= q, np.mean(fdp)
    assert np.mean(power) > 0.3  # it flags anomalies: the bound is not met by flagging none


def test_batch_fdr_says_how_many_and_what_it_promises():
    r = batch_fdr(np.array([0.0005, 0.001, 0.3, 0.9]), 0.05, np.array([1, 1, 1, 0]), 0.05)
    assert r.n_flagged == 2 and r.per_image == 3
    assert r.words().startswith("Of these 2 flagged images, at most 5 % are expected to be "
                                "normal")
    assert "judged one by one at 5 % false alarms, 3 are flagged" in r.words()
    none = batch_fdr(np.array([0.5, 0.9]), 0.05, np.zeros(2), 0.05)
    assert none.words().startswith("No image is flagged")


# ---------------------------------------------------------------------------- KS
def test_ks_test_is_scipys_for_small_samples_and_matches_it_for_large_ones():
    rng = np.random.default_rng(8)
    real = rng.normal(size=2000)
    small = rng.normal(0.2, 1, 3000)
    r, want = ks_test(small, real), stats.ks_2samp(small, real)
    assert (r.statistic, r.p_value) == pytest.approx((want.statistic, want.pvalue))
    large = np.round(rng.normal(0.05, 1, 50_000), 2)  # ties too
    r = ks_test(ScoreDistribution.from_scores(large), real)
    want = stats.ks_2samp(large, real, method="asymp")
    assert r.statistic == pytest.approx(want.statistic)
    assert r.p_value == pytest.approx(want.pvalue, rel=1e-6)


def test_ks_test_reads_a_streamed_histogram():
    from ganmc.thresholds.montecarlo import StreamingHistogram

    rng = np.random.default_rng(9)
    gen, real = rng.normal(0.5, 1, 200_000), rng.normal(size=2000)
    h = StreamingHistogram()
    for part in np.array_split(gen, 10):
        h.add(part)
    r = ks_test(h.distribution(), real)
    assert r.statistic == pytest.approx(stats.ks_2samp(gen, real).statistic, abs=0.01)
    assert r.p_value < 1e-10


def test_ks_reading_in_plain_words():
    rng = np.random.default_rng(10)
    real = rng.normal(size=2000)
    differ = ks_reading(rng.normal(1, 1, 5000), real, alpha=0.05, false_alarm_rate=0.014)
    assert differ.differ
    assert differ.words().startswith("Generated images score differently from real ones")
    assert "this percentile is not a false-alarm rate" in differ.words()
    assert differ.words().endswith("at this threshold is 1.4 %.")
    assert "1.4 %" not in differ.words(rate=False)
    same = ks_reading(rng.normal(size=5000), real, alpha=0.05, false_alarm_rate=0.05)
    assert not same.differ
    assert same.words().startswith("The test finds no difference")


# ---------------------------------------------------------------------------- PAC
def test_pac_rank_of_the_shipped_models_calibration():
    """The issue's figures: n = 2,000, epsilon 5 %, delta 10 %: rank 1,913 against the
    conformal 1,901; fewer than 45 images: no finite threshold."""
    level = Level(0.05)
    assert pac_rank(2000, level, 0.1) == 1913
    assert conformal_rank(2000, level) == 1901
    assert pac_min_images(level, 0.1) == 45
    assert pac_rank(44, level, 0.1) == 45  # past n: infinite
    assert pac_rank(45, level, 0.1) == 45
    for n in (45, 100, 2000):  # the definition, both sides of the rank
        k = pac_rank(n, level, 0.1)
        assert stats.binom.cdf(k - 1, n, 0.95) >= 0.9 > stats.binom.cdf(k - 2, n, 0.95)


def test_too_few_images_for_a_pac_threshold_are_said_plainly():
    level = Level(0.05)
    with pytest.raises(ConfigError, match="with 44 calibration images no threshold can "
                                          "promise at most 5 % false alarms with 90 % "
                                          "confidence: that takes at least 45"):
        choose("pac", level, holdout=np.arange(44.0))
    with pytest.raises(ConfigError, match="takes at least 45"):
        choose("per-digit-pac", level, holdout=np.arange(44.0), holdout_digits=np.zeros(44))
    assert "no threshold can promise" in pac_words(40, level, 0.1)
    assert "rank 1,913 of 2,000" in pac_words(2000, level, 0.1)
    t = choose("pac", level, holdout=np.arange(45.0))
    assert t.value == 44.0 and t.describe() == "pac threshold 44 (90 % confidence)"


def test_per_digit_pac_falls_back_to_the_pooled_one_for_a_digit_with_too_few_images():
    rng = np.random.default_rng(13)
    digits = np.concatenate([np.zeros(200, int), np.ones(30, int)])
    t = choose("per-digit-pac", Level(0.05), holdout=rng.random(230), holdout_digits=digits)
    assert t.fallbacks((0, 1)) == [1]
    assert t.values(np.array([1]))[0] == t.value  # the pooled PAC threshold
    assert t.values(np.array([0]))[0] == np.sort(t.groups[0].scores)[pac_rank(200, Level(
        0.05), 0.1) - 1]


@pytest.mark.parametrize("n", [45, 200, 2000])
def test_pac_threshold_exceeds_epsilon_in_at_most_delta_of_the_calibration_draws(n):
    """4,000 calibration draws of n uniform scores (the false-alarm rate at threshold t is
    then 1 - t exactly): the PAC threshold's rate exceeds epsilon in at most delta of them
    (up to three standard errors of the simulation; the exact share, from Beta(k, n + 1 - k),
    is at most delta); the conformal threshold's, in far more."""
    rng = np.random.default_rng(n)
    level, delta, draws = Level(0.05), 0.1, 4000
    pac, conformal = [], []
    for _ in range(draws):
        cal = rng.random(n)
        pac.append(1 - choose("pac", level, holdout=cal, delta=delta).value)
        conformal.append(1 - choose("holdout", level, holdout=cal).value)
    share = np.mean(np.array(pac) > level.alpha)
    k = pac_rank(n, level, delta)
    exact = stats.beta(k, n + 1 - k).cdf(1 - level.alpha)
    assert exact <= delta
    assert share <= delta + 3 * math.sqrt(delta * (1 - delta) / draws), share
    assert abs(share - exact) <= 4 * math.sqrt(exact * (1 - exact) / draws) + 1e-9
    assert np.mean(np.array(conformal) > level.alpha) > 0.3


def test_per_digit_pac_threshold_holds_for_every_digit():
    """2,000 draws of a calibration set whose digits have different sizes and different
    score distributions: each digit's own rate exceeds epsilon in at most delta of them."""
    rng = np.random.default_rng(14)
    sizes = {0: 60, 1: 120, 2: 200}
    shifts = {0: 0.0, 1: 2.0, 2: -1.0}  # scores of digit d: uniform on (shift, shift + 1)
    level, delta, draws = Level(0.05), 0.1, 2000
    over = {d: 0 for d in sizes}
    for _ in range(draws):
        scores = np.concatenate([shifts[d] + rng.random(n) for d, n in sizes.items()])
        digits = np.concatenate([np.full(n, d) for d, n in sizes.items()])
        t = choose("per-digit-pac", level, holdout=scores, holdout_digits=digits)
        for d in sizes:
            rate = np.clip(shifts[d] + 1 - t.values(np.array([d]))[0], 0, 1)
            over[d] += rate > level.alpha
    for d, count in over.items():
        assert count / draws <= delta + 3 * math.sqrt(delta * (1 - delta) / draws), (d, count)
