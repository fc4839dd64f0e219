import numpy as np
import pytest

from ganmc.calibration import Level
from ganmc.errors import ConfigError
from ganmc.montecarlo import simulate, simulate_iter


class FakeSampler:
    """Scores ~ N(0, 1), drawn from (seed, index) like the real detector does."""

    scorer = "fake"

    def __init__(self):
        self.calls = 0

    def sample_scores(self, n, seed, index, scorer=None, precision="float32"):
        self.calls += 1
        return np.random.default_rng([seed, index]).normal(size=n)


def test_streams_partial_results_then_the_whole():
    sampler = FakeSampler()
    parts = list(simulate_iter(sampler, 10_000, batch_size=3000, seed=1))
    assert [p.n for p in parts] == [3000, 6000, 9000, 10_000]
    assert [p.done for p in parts] == [False, False, False, True]
    assert parts[-1].distribution.exact and parts[-1].distribution.n == 10_000
    assert sampler.calls == 4


def test_reproducible_and_seed_dependent():
    a = simulate(FakeSampler(), 5000, seed=3, batch_size=1000)
    b = simulate(FakeSampler(), 5000, seed=3, batch_size=1000)
    c = simulate(FakeSampler(), 5000, seed=4, batch_size=1000)
    np.testing.assert_array_equal(a.distribution.scores, b.distribution.scores)
    assert a.threshold(Level.from_percentile(95)) != c.threshold(Level.from_percentile(95))


def test_changing_the_percentile_needs_no_new_simulation():
    sampler = FakeSampler()
    result = simulate(sampler, 20_000, seed=0)
    calls = sampler.calls
    t90, t95, t99 = (result.threshold(Level.from_percentile(p)) for p in (90, 95, 99))
    assert t90 < t95 < t99
    assert t95 == pytest.approx(1.645, abs=0.05)
    assert sampler.calls == calls


def test_summary_has_every_number():
    result = simulate(FakeSampler(), 20_000)
    s = result.summary(Level.from_percentile(95))
    for key in ("threshold", "threshold_ci95", "mean", "std", "min", "max", "interpretation"):
        assert key in s
    lo, hi = s["threshold_ci95"]
    assert lo < s["threshold"] < hi
    assert s["min"] < s["mean"] < s["max"] and s["std"] == pytest.approx(1, abs=0.05)
    assert "ANOMALY" in s["interpretation"]


def test_beyond_the_keep_limit_memory_stays_a_histogram():
    result = simulate(FakeSampler(), 50_000, batch_size=5000, keep_limit=10_000)
    assert not result.distribution.exact and result.distribution.scores is None
    assert result.threshold(Level.from_percentile(95)) == pytest.approx(1.645, abs=0.05)


def test_progress_sees_every_batch():
    seen = []
    simulate(FakeSampler(), 2500, batch_size=1000, progress=lambda r: seen.append(r.n))
    assert seen == [1000, 2000, 2500]


@pytest.mark.parametrize("n", [0, -5, 10**9])
def test_bounds(n):
    with pytest.raises(ConfigError):
        simulate(FakeSampler(), n)


def test_nan_scores_are_refused():
    class Broken(FakeSampler):
        def sample_scores(self, n, seed, index, scorer=None, precision="float32"):
            return np.full(n, np.nan)

    with pytest.raises(ConfigError, match="NaN"):
        simulate(Broken(), 100)


def test_the_slow_score_simulates_in_small_batches():
    """latent-search runs 100 optimisation steps per image: its batches are smaller, so that
    a partial histogram still arrives every few seconds."""
    from ganmc.scoring import default_batch_size

    assert default_batch_size("latent-search") * 16 == default_batch_size("fanogan")
    assert default_batch_size("discriminator") == default_batch_size()
