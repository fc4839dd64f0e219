import numpy as np
import pytest

from ganmc.core.errors import ConfigError
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.montecarlo import even_batch, simulate, simulate_iter


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
    assert [p.n for p in parts] == [2500, 5000, 7500, 10_000]  # 4 even batches
    assert [p.done for p in parts] == [False, False, False, True]
    assert parts[-1].distribution.exact and parts[-1].distribution.n == 10_000
    assert sampler.calls == 4


def test_a_run_is_split_evenly_and_its_last_batch_drawn_whole_and_cut():
    """A batch of a new size would compile the sampler's XLA passes again, and a last batch
    drawn at the full size throws samples away: a run is split evenly into as few batches as
    the batch size allows, each drawn at one size, the last cut; the run keeps the same
    scores as batches drawn at their own sizes."""
    sizes = []

    class Recording(FakeSampler):
        def sample_scores(self, n, seed, index, scorer=None, precision="float32"):
            sizes.append(n)
            return super().sample_scores(n, seed, index, scorer, precision)

    run = simulate(Recording(), 2500, seed=2, batch_size=1000)
    assert sizes == [834, 834, 834] and run.n == run.distribution.n == 2500
    want = np.concatenate([FakeSampler().sample_scores(m, 2, i) for i, m in
                           enumerate((834, 834, 832))])
    np.testing.assert_array_equal(np.sort(run.distribution.scores), np.sort(want))
    assert simulate(Recording(), 300, batch_size=1000).n == 300 and sizes[-1] == 300
    assert even_batch(200_000, 16_384) == 15_385 and even_batch(4096, 4096) == 4096


def test_a_latent_batchs_first_rows_are_the_draw_of_that_many():
    """What cutting the last batch relies on, for the real sampler's latent draws."""
    import tensorflow as tf

    whole = tf.random.stateless_normal([512, 64], seed=[3, 7]).numpy()
    np.testing.assert_array_equal(whole[:37], tf.random.stateless_normal([37, 64],
                                                                        seed=[3, 7]).numpy())


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
    assert seen == [834, 1668, 2500]


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
    from ganmc.scores.scoring import default_batch_size

    assert default_batch_size("latent-search") * 16 == default_batch_size("fanogan")
    assert default_batch_size("discriminator") == default_batch_size()


@pytest.fixture(scope="module")
def per_digit_detector(mnist):
    """A dcgan detector (untrained networks, latent 16) with per-digit Gaussians and stroke
    figures fitted to 600 labelled digits' features: every score of the shipped model, in a
    few seconds."""
    import keras

    from ganmc import Detector
    from ganmc.nets.density import fit_density
    from ganmc.nets.networks import Networks, build_discriminator, build_encoder, build_generator

    keras.utils.set_random_seed(0)
    nets = Networks(build_generator("dcgan", 16), build_discriminator("dcgan"),
                    build_encoder("dcgan", 16))
    nets.density = fit_density(nets, mnist.x_train[:600], 32, mnist.y_train[:600], 0.05)
    assert nets.density.per_digit and nets.density.strokes is not None
    det = Detector(arch="dcgan", latent_dim=16, search_steps=2, mc_samples=0)
    det._attach(nets)
    det.calibrate(mnist.x_train[600:800])  # the held-out images: the combined score's references
    assert "combined" in det.scorers_
    return det


def _reference_distances(g, f: np.ndarray) -> np.ndarray:
    """The per-digit Gaussian's definition in float64: (p - m_c)^T S_c^-1 (p - m_c) / K in
    the principal axes p, with S_c^-1 = W_c^T W_c for each digit's whitening matrix W_c."""
    p = (np.asarray(f, np.float64).reshape(len(f), -1) - g.mean) @ g.components.T.astype(
        np.float64)
    out = []
    for m, w in zip(g.digit_means, g.whiteners, strict=True):
        d = p - m
        precision = w.T.astype(np.float64) @ w.astype(np.float64)
        out.append(np.einsum("nk,kj,nj->n", d, precision, d) / p.shape[1])
    return np.stack(out, axis=1)


def _generated(det, n: int, seed: int, index: int):
    """The images the Monte Carlo draws for latent batch (seed, index)."""
    import tensorflow as tf

    z = tf.random.stateless_normal([n, det.config.latent_dim], seed=[seed, index])
    return det.networks_.generator(z, training=False)


@pytest.mark.parametrize("scorer", ["mahalanobis", "mahalanobis-strokes", "fanogan",
                                    "discriminator", "combined"])
def test_monte_carlo_scores_are_the_per_image_scores_of_the_generated_images(
        per_digit_detector, scorer):
    det = per_digit_detector
    fast = det.sample_scores(300, 5, 2, scorer, "float32")
    x = _generated(det, 300, 5, 2).numpy()
    per_image = det._inference.scores(x, scorer, det.combination_)
    np.testing.assert_allclose(fast, per_image, rtol=1e-5, atol=1e-6)


def test_monte_carlo_mahalanobis_is_the_distance_to_the_nearest_digit(per_digit_detector):
    det = per_digit_detector
    g = det.networks_.density
    f = det.networks_.features(_generated(det, 300, 5, 2), training=False)[0].numpy()
    want = _reference_distances(g, f).min(axis=1)
    np.testing.assert_allclose(det.sample_scores(300, 5, 2, "mahalanobis", "float32"), want,
                               rtol=1e-4)


def test_score_samples_of_generated_images_is_the_reference_distance(per_digit_detector):
    from ganmc.images.preprocess import from_model_output, to_model_input

    det = per_digit_detector
    images = from_model_output(_generated(det, 200, 1, 0).numpy())  # as a user would save them
    f = det.networks_.features(to_model_input(images), training=False)[0].numpy()
    d = _reference_distances(det.networks_.density, f)
    np.testing.assert_allclose(det.score_samples(images, scorer="mahalanobis"), d.min(axis=1),
                               rtol=1e-4)
    assert (det.predict_digit(images) == det.networks_.density.digits[d.argmin(axis=1)]).all()


def test_bfloat16_gaussian_keeps_the_float32_distances_within_two_percent(per_digit_detector):
    """A bfloat16 Monte Carlo's copy of the Gaussian runs its matrix products in bfloat16:
    the distances stay within 2 % of float32's on the same features, and the float32
    Gaussian (user images) is left as it was."""
    import tensorflow as tf

    nets = per_digit_detector.networks_
    fast = nets.cast("bfloat16").density
    assert (fast.product_dtype, nets.density.product_dtype) == ("bfloat16", "float32")
    f = nets.features(_generated(per_digit_detector, 300, 3, 0), training=False)[0]
    f16 = tf.cast(tf.cast(f, tf.bfloat16), tf.float32)
    d16 = fast.distances(f16).numpy()
    assert d16.dtype == np.float32
    want = _reference_distances(nets.density, f16.numpy())
    assert not np.array_equal(d16, nets.density.distances(f16).numpy())
    np.testing.assert_allclose(d16, want, rtol=0.02)


def test_the_pace_leaves_out_the_first_batch_that_compiled_the_sampler(monkeypatch):
    """Issue 35, item 2: "estimated 3 min 47 s, took 2 min 40 s": the Monte Carlo page
    estimated a run from the last run's overall rate, whose first batch had compiled the
    sampler. The pace (and the live ETA and the next estimate that read it) is the rate after
    that batch; here it took 5 s, and each later batch of 1,000 samples 0.5 s."""
    from types import SimpleNamespace

    from ganmc.thresholds import montecarlo
    from ui.monte_carlo import expected_speed

    clock = [0.0]
    monkeypatch.setattr(montecarlo.time, "perf_counter", lambda: clock[0])

    class Compiling(FakeSampler):
        def sample_scores(self, n, seed, index, scorer=None, precision="float32"):
            clock[0] += 5.0 if self.calls == 0 else 0.5 * n / 1000
            return super().sample_scores(n, seed, index, scorer, precision)

    results = list(simulate_iter(Compiling(), 10_000, batch_size=1_000))
    last = results[-1]
    assert last.samples_per_s == pytest.approx(10_000 / 9.5)
    assert last.pace == pytest.approx(2_000.0)
    assert results[0].pace == results[0].samples_per_s == pytest.approx(200.0)  # one batch
    key = SimpleNamespace(model="m", stamp=1.0, scorer="fake", precision="float32")
    job = SimpleNamespace(snapshot=lambda: {"progress": last}, params={"key": key})
    assert expected_speed(None, key, job) == (pytest.approx(2_000.0),
                                              "your last run of this score")
