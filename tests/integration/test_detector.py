import json

import numpy as np
import pytest

from ganmc import Detector, load_model
from ganmc.core import scorers
from ganmc.core.config import TrainConfig
from ganmc.core.errors import ConfigError, ModelError
from ganmc.thresholds.calibration import choose
from ganmc.thresholds.decision import Choice, decide
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.metrics import auroc


def test_fitted_attributes(tiny_model):
    det, _ = tiny_model
    assert det.scorers_ == ("fanogan", "mahalanobis", "mahalanobis-strokes", "combined",
                            "discriminator", "latent-search")
    assert det.scorer_ == "fanogan"
    assert det.calibration_.source == "holdout"
    # several digits hold out a quarter by default (DEFAULT_CALIBRATION_FRACTION_DIGITS)
    assert det.metadata_["n_train"] == 1125 and det.metadata_["n_calibration"] == 375
    assert set(det.holdout_scores_) == set(det.scorers_)
    assert det.monte_carlo_["fanogan"].n == det.monte_carlo_["mahalanobis"].n == 2000
    # the slow latent search is calibrated on the hold-out set but not simulated at fit time
    assert "latent-search" not in det.monte_carlo_
    with pytest.raises(ConfigError, match="no Monte Carlo simulation of the latent-search"):
        det.calibration_of("latent-search", "monte-carlo")


def test_scores_rank_noise_and_inverted_digits_above_digits(tiny_model, mnist, noise_images):
    det, _ = tiny_model
    digits = mnist.x_test[:200]
    s = det.score_samples(digits)
    assert s.shape == (200,) and s.dtype == np.float64 and np.isfinite(s).all()
    assert auroc(s, det.score_samples(noise_images)) > 0.95
    assert auroc(s, det.score_samples(255 - digits[:64])) > 0.95


def test_threshold_is_conformal_on_the_holdout(tiny_model):
    det, _ = tiny_model
    expected = choose("holdout", Level(det.alpha), holdout=det.holdout_scores_["fanogan"])
    assert det.threshold_ == expected.value


def test_predict_decision_and_verdicts_agree(tiny_model, mnist, noise_images):
    det, _ = tiny_model
    x = np.concatenate([mnist.x_test[:50], noise_images[:10]])
    pred, dec, verdicts = det.predict(x), det.decision_function(x), det.verdicts(x)
    np.testing.assert_array_equal(dec, det.score_samples(x))  # PyOD: raw scores
    np.testing.assert_array_equal(pred, (dec > det.threshold_).astype(int))
    assert [v.is_anomaly for v in verdicts] == list(pred.astype(bool))
    assert pred[-10:].all()  # uniform noise is an anomaly
    assert all(0 < v.p_value <= 1 and 0 <= v.percentile_rank <= 100 for v in verdicts)
    assert min(v.p_value for v in verdicts[-10:]) < 0.05


def test_monte_carlo_calibration_and_scorer_switch(tiny_model, mnist):
    _, path = tiny_model
    det = load_model(path)  # a copy of its own: the session's model is never changed
    det.set_params(calibration="monte-carlo")
    assert det.calibration_.source == "monte-carlo"
    assert det.threshold_ == det.monte_carlo_["fanogan"].threshold(Level.from_percentile(95))
    det.set_params(scorer="discriminator")
    assert det.scorer_ == "discriminator"
    assert det.threshold_ == det.monte_carlo_["discriminator"].threshold(Level.from_percentile(95))
    with pytest.raises(ConfigError, match="scorer must be one of"):
        det.set_params(scorer="nope")
    with pytest.raises(ConfigError, match="cannot change epochs"):
        det.set_params(epochs=3)
    det.set_params(scorer="latent-search")  # no simulation of it is stored: none is run
    assert det.threshold_ is None and "latent-search" not in det.monte_carlo_
    with pytest.raises(ConfigError, match="no Monte Carlo simulation of the latent-search"):
        det.predict(mnist.x_test[:2])


@pytest.mark.slow
def test_reading_never_simulates_or_stores(tiny_train, tmp_path):
    """A model without stored simulations: reading its threshold computes nothing, and the
    Monte Carlo source says it has no scores instead of simulating behind the user's back."""
    det = Detector(arch="mlp", epochs=1, encoder_epochs=0, batch_size=64, mc_samples=0,
                   calibration="monte-carlo", jit_compile=False)
    det.fit(tiny_train[:300])
    assert det.monte_carlo_ == {} and det.threshold_ is None and det.calibration_ is None
    det.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert again.threshold_ is None and again.monte_carlo_ == {}
    with pytest.raises(ConfigError, match="no Monte Carlo simulation"):
        again.verdicts(tiny_train[:2])
    assert again.monte_carlo_ == {}
    again.set_params(calibration="auto")
    assert again.calibration_.source == "holdout" and again.threshold_ is not None


def test_simulation_is_reproducible(tiny_model):
    det, _ = tiny_model
    a = det.sample_scores(100, 5, 0)
    np.testing.assert_allclose(a, det.sample_scores(100, 5, 0), rtol=1e-5)
    assert not np.allclose(a, det.sample_scores(100, 5, 1))


def test_reconstruct_and_generate(tiny_model, mnist):
    det, _ = tiny_model
    rec = det.reconstruct(mnist.x_test[:4])
    assert rec.shape == (4, 28, 28) and rec.dtype == np.uint8
    gen = det.generate(6, seed=1)
    assert gen.shape == (6, 28, 28)


def test_save_load_round_trip(tiny_model, mnist):
    det, path = tiny_model
    card = json.loads((path / "ganmc.json").read_text())
    assert card["format"] == "ganmc-model" and card["config"]["arch"] == "dcgan"
    assert card["metadata"]["versions"]["keras"]
    again = load_model(path)
    np.testing.assert_allclose(again.score_samples(mnist.x_test[:20]),
                               det.score_samples(mnist.x_test[:20]), rtol=1e-5)
    assert again.threshold_ == det.threshold_
    assert again.monte_carlo_["fanogan"].n == 2000
    np.testing.assert_allclose(again.score_samples(mnist.x_test[:20], scorer="mahalanobis"),
                               det.score_samples(mnist.x_test[:20], scorer="mahalanobis"),
                               rtol=1e-5)


def test_unfitted_and_broken_models(tmp_path, tiny_model, mnist):
    with pytest.raises(ModelError, match="not trained"):
        Detector().score_samples(mnist.x_test[:1])
    _, path = tiny_model
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    (broken / "generator.keras").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="generator.keras"):
        load_model(broken)
    mismatch = tmp_path / "mismatch"
    shutil.copytree(path, mismatch)
    card = json.loads((mismatch / "ganmc.json").read_text())
    card["config"]["latent_dim"] = 7
    (mismatch / "ganmc.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="do not fit"):
        load_model(mismatch)


@pytest.mark.slow
def test_mlp_preset_without_encoder(tiny_train):
    det = Detector(arch="mlp", epochs=1, encoder_epochs=0, batch_size=64, mc_samples=500,
                   shape_weight=0.0)  # the GAN's scores alone
    det.fit(tiny_train[:300])
    assert det.scorers_ == ("mahalanobis", "mahalanobis-strokes", "combined",
                            "discriminator", "latent-search")
    assert det.scorer_ == "mahalanobis"
    with pytest.raises(ConfigError):
        det.reconstruct(tiny_train[:1])
    # without an encoder the latent search starts from z = 0 and still reconstructs
    assert det.reconstruct(tiny_train[:2], scorer="latent-search").shape == (2, 28, 28)
    assert np.isfinite(det.score_samples(tiny_train[:4], scorer="latent-search")).all()
    assert det.predict(tiny_train[:5]).shape == (5,)


@pytest.mark.slow
def test_bfloat16_simulation_matches_float32(tiny_model):
    from ganmc.app import service

    det, _ = tiny_model
    a = service.simulate(det, 4000, seed=3, precision="float32", scorer="fanogan")
    b = service.simulate(det, 4000, seed=3, precision="bfloat16", scorer="fanogan")
    assert det.monte_carlo_["fanogan"].n == 2000  # the service does not store its runs
    span = a.distribution.max - a.distribution.min
    p95 = Level.from_percentile(95)
    assert abs(a.threshold(p95) - b.threshold(p95)) < 0.01 * span
    assert b.summary(Level.from_percentile(95))["precision"] == "bfloat16"
    from ganmc.scores.scoring import resolve_precision  # auto is recorded as what it ran at
    ran = service.simulate(det, 1000, seed=3, precision="auto", scorer="fanogan")
    assert ran.summary(p95)["precision"] == resolve_precision("auto") != "auto"
    assert not np.array_equal(a.distribution.scores, b.distribution.scores)  # really bf16
    with pytest.raises(ConfigError):
        det.sample_scores(10, 0, 0, precision="float8")


@pytest.mark.slow
def test_every_training_setting_survives_save_and_load(tiny_train, tmp_path):
    det = Detector(arch="mlp", epochs=1, encoder_epochs=0, batch_size=64, mc_samples=0,
                   precision="float32", jit_compile=False, kappa=0.5, seed=3)
    det.fit(tiny_train[:200]).save(tmp_path / "m")
    assert load_model(tmp_path / "m").config == det.config


@pytest.mark.slow
def test_latent_search_improves_on_the_encoder_and_runs_per_image(tiny_model, mnist,
                                                                    noise_images):
    """It starts at E(x) and keeps the best z, so its residual is never above fanogan's, and
    more steps never make it worse; each image's search is its own, whatever the batch."""
    det, _ = tiny_model
    x = mnist.x_test[:40]
    fanogan = det.score_samples(x, scorer="fanogan")
    searched = det.score_samples(x, scorer="latent-search")
    assert (searched <= fanogan * (1 + 1e-5) + 1e-6).all()
    assert np.mean(searched < 0.95 * fanogan) > 0.5  # the search does move z
    longer = Detector.load(det.path_)
    longer.config = TrainConfig.from_dict({**det.config.to_dict(), "search_steps": 300})
    assert (longer.score_samples(x, scorer="latent-search") <= searched * (1 + 1e-5) + 1e-6).all()
    alone = det.score_samples(x[3:4], scorer="latent-search")
    np.testing.assert_allclose(alone, searched[3:4], rtol=1e-3)
    assert auroc(searched, det.score_samples(noise_images, scorer="latent-search")) > 0.95
    recon = det.reconstruct(x[:4], scorer="latent-search")
    err_search = np.mean((recon / 255.0 - x[:4] / 255.0) ** 2)
    err_encoder = np.mean((det.reconstruct(x[:4]) / 255.0 - x[:4] / 255.0) ** 2)
    assert recon.shape == (4, 28, 28) and err_search < err_encoder
    for precision in ("float32", "bfloat16"):  # its Monte Carlo runs on request, in both
        mc = longer.run_monte_carlo(256, seed=1, scorer="latent-search", precision=precision)
        assert mc.n == 256 and np.isfinite(mc.distribution.scores).all()
    assert longer.calibration_of("latent-search", "monte-carlo").distribution.n == 256


def test_mahalanobis_is_the_distance_of_the_features_from_the_training_gaussian(
        tiny_model, tiny_train, mnist, noise_images):
    from ganmc.images.preprocess import to_model_input

    det, _ = tiny_model
    nets, gauss = det.networks_, det.networks_.density
    # the numpy reference, from features computed afresh
    f = nets.features(to_model_input(mnist.x_test[:50]), training=False)[0]
    f = f.numpy().astype(np.float64)
    p = (f - gauss.mean) @ gauss.components.T.astype(np.float64)
    expected = np.mean(p ** 2 / gauss.variances, axis=1)
    np.testing.assert_allclose(det.score_samples(mnist.x_test[:50], scorer="mahalanobis"),
                               expected, rtol=1e-3)
    # training images average exactly 1 by construction; anomalies lie far out
    from ganmc.images.data import split_holdout

    fit_on, _ = split_holdout(tiny_train, det.config.calibration_fraction, det.config.seed)
    assert det.score_samples(fit_on, scorer="mahalanobis").mean() == pytest.approx(1, rel=1e-3)
    assert gauss.components.shape == (det.config.feature_components, f.shape[1])
    assert auroc(det.score_samples(mnist.x_test[:200], scorer="mahalanobis"),
                 det.score_samples(noise_images, scorer="mahalanobis")) > 0.95


def test_models_saved_before_mahalanobis_still_load(tiny_model, tmp_path, mnist):
    import shutil

    _, path = tiny_model
    old = tmp_path / "old"
    shutil.copytree(path, old)
    with np.load(old / "arrays.npz") as arrays:
        kept = {k: arrays[k] for k in arrays.files if not k.startswith("density/")}
    assert len(kept) < len(np.load(path / "arrays.npz").files)
    np.savez(old / "arrays.npz", **kept)
    det = load_model(old)
    assert "mahalanobis" not in det.scorers_ and det.scorer_ == "fanogan"
    with pytest.raises(ConfigError, match="not available"):
        det.score_samples(mnist.x_test[:1], scorer="mahalanobis")


def test_the_stroke_corrected_score_is_saved_and_old_models_load_without_it(tiny_model,
                                                                           tmp_path, mnist):
    import shutil

    det, path = tiny_model
    # on held-out normal images it is standardised: about 0, a spread of about 1
    held = det.holdout_scores_["mahalanobis-strokes"]
    assert abs(np.median(held)) < 0.5 and 0.5 < held.std() < 2.0
    again = load_model(path)
    np.testing.assert_allclose(again.score_samples(mnist.x_test[:20], scorer="mahalanobis-strokes"),
                               det.score_samples(mnist.x_test[:20], scorer="mahalanobis-strokes"),
                               rtol=1e-5, atol=1e-5)
    old = tmp_path / "old"
    shutil.copytree(path, old)
    with np.load(old / "arrays.npz") as arrays:
        kept = {k: arrays[k] for k in arrays.files if "stroke" not in k}
    np.savez(old / "arrays.npz", **kept)
    before = load_model(old)
    assert "mahalanobis-strokes" not in before.scorers_ and "mahalanobis" in before.scorers_
    assert any("stroke figures are missing" in note for note in before.notes_)
    bad = tmp_path / "bad"
    shutil.copytree(path, bad)
    with np.load(bad / "arrays.npz") as arrays:
        broken = {k: arrays[k] for k in arrays.files}
    broken["density/strokes"] = broken["density/strokes"][:, :3]
    np.savez(bad / "arrays.npz", **broken)
    with pytest.raises(ModelError, match="stroke"):
        load_model(bad)


@pytest.mark.slow
def test_identical_training_images_train_without_the_mahalanobis_scorer(tiny_train, caplog):
    """Features that never vary leave no Gaussian to fit: training still succeeds."""
    same = np.repeat(tiny_train[:1], 200, axis=0)  # 20 held out: enough for a threshold
    det = Detector(arch="mlp", epochs=1, encoder_epochs=0, batch_size=16, mc_samples=0,
                   shape_weight=0.0)
    det.fit(same)
    assert det.scorers_ == ("discriminator", "latent-search")
    assert "do not vary" in caplog.text


@pytest.mark.slow
def test_a_stopped_fit_skips_the_slow_work_and_says_what_was_done(tiny_train, tmp_path):
    """Stop leaves out what takes long (the latent search's calibration, the simulations),
    keeps the fast scores calibrated, and the card says how many steps were trained."""
    import threading

    from ganmc.nets.train import STEPS_PER_CALL, plan_rounds
    from ganmc.storage.cardtext import training_text

    stop = threading.Event()

    def progress(p):
        if p.round_end:
            stop.set()

    det = Detector(arch="mlp", steps=200, encoder_steps=200, batch_size=64, jit_compile=False,
                   mc_samples=2000, shape_weight=0.0)
    det.fit(tiny_train[:600], progress=progress, stop_event=stop)
    m = det.metadata_
    # stopped at the end of the first round: the stop is seen after one compiled call more,
    # and the card counts the steps the weights have had
    first = plan_rounds(200)[0] + STEPS_PER_CALL
    assert m["stopped_early"] and m["gan_steps_done"] == first and m["encoder_steps_done"] == 0
    assert det.monte_carlo_ == {} and "latent-search" not in det.holdout_scores_
    assert "discriminator" in det.holdout_scores_ and det.threshold_ is not None
    assert any("latent-search" in n for n in det.notes_)
    assert det.quality_ is None and any("no quality card" in n for n in det.notes_)
    det.save(tmp_path / "stopped")
    card = json.loads((tmp_path / "stopped" / "ganmc.json").read_text())
    assert training_text(card) == (
        f"standard preset, batches of 64: {first} of 200 GAN steps "
        f"({round(first * 64 / 450, 1)} passes) + 0 of 200 encoder steps (0.0 passes) "
        f"(stopped early)")


@pytest.mark.slow
def test_a_one_digit_model_with_an_encoder_uses_the_gaussian_by_default(tmp_path):
    """``auto`` is mahalanobis-strokes for a model of one digit even when it has an encoder
    (better on the one-class protocol, docs/benchmarks.md), saved and loaded alike, and says
    why; without its stroke figures (a model saved before them), mahalanobis."""
    from ganmc.app import service
    from ganmc.scores import scoring

    det = service.train(tmp_path / "m", data="bundled", digits=(3,), arch="mlp", steps=96,
                        encoder_steps=96, batch_size=64, mc_samples=500, seed=0)
    assert det.networks_.encoder is not None and "fanogan" in det.scorers_
    assert det.scorers_[:3] == ("mahalanobis-strokes", "mahalanobis", "fanogan")
    assert det.scorer_ == "mahalanobis-strokes"
    assert load_model(tmp_path / "m").scorer_ == "mahalanobis-strokes"
    notes = decide(det, Choice()).notes
    assert "score auto → mahalanobis-strokes: for a model of one digit" in notes[0], notes
    det.networks_.density.strokes = None
    assert scoring.available(det.networks_, (3,))[0] == "mahalanobis"
    assert "no stroke figures" in scorers.why_auto(("mahalanobis", "fanogan"), (3,))


def test_a_model_of_several_digits_without_labels_keeps_fanogan_first(tiny_model):
    from ganmc.scores import scoring

    det, _ = tiny_model  # all digits, trained without labels: one Gaussian for them all
    assert scoring.available(det.networks_, det.config.digits)[0] == "fanogan"
    assert scoring.available(det.networks_, (3,)) == (
        "mahalanobis-strokes", "mahalanobis", "fanogan", "discriminator", "latent-search")
    assert scorers.why_auto(det.scorers_, det.config.digits).startswith("fanogan: ")
