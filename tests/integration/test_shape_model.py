"""A model with the shape network: its scores, the digit it takes an image for, the reasons
its verdicts give, its folder, and the card's figures on other people's handwriting."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ganmc import load_model
from ganmc.images.anomalies import printed_letters
from ganmc.scores.combined import GUARDS, SHAPE_GUARDS, SHAPE_MAINS, VIEW_WORDS
from ganmc.thresholds.metrics import auroc


@pytest.mark.slow
def test_the_shape_network_is_trained_and_combined_reads_it(shape_model):
    det, _ = shape_model
    assert det.networks_.shape is not None and det.networks_.shape_density is not None
    assert det.scorers_[:2] == ("combined", "shape") and det.scorer_ == "combined"
    assert det.combination_.mains == SHAPE_MAINS and det.combination_.guards == SHAPE_GUARDS
    assert det.calibration_.source == "per-digit"
    assert det.config.shape_weight == 1.0
    assert "shape_loss" in det.metadata_["history"]


@pytest.mark.slow
def test_images_are_taken_for_digits_by_the_shape_network(shape_model, mnist):
    det, _ = shape_model
    taken = det.predict_digit(mnist.x_test[:300])
    assert set(np.unique(taken)) <= set(range(10))
    # the shape network's classes are mapped back to the digits, not left as indices
    assert (taken == mnist.y_test[:300]).mean() > 0.6


@pytest.mark.parametrize("fixture", [pytest.param("shape_model", marks=pytest.mark.slow),
                                     "digit_model"])
def test_a_verdict_converts_each_image_once_and_runs_each_network_once(fixture, request,
                                                                        mnist, noise_images,
                                                                        monkeypatch):
    """Issue 35 (speed): a verdict of the default score converted each image three times
    and ran the discriminator or the shape network twice ("digit" was a compiled function of
    its own beside the views). Its score, reason and digit now come from one conversion and
    one pass a batch, with the same values as each computed alone."""
    from ganmc.scores import scoring

    _, path = request.getfixturevalue(fixture)
    det = load_model(path)  # nothing compiled yet
    assert det.scorer_ == "combined" and det.networks_.per_digit
    x = np.concatenate([mnist.x_test[:40], noise_images[:8]])
    conversions = []
    real = scoring.batch_input
    monkeypatch.setattr(scoring, "batch_input", lambda a: conversions.append(len(a)) or real(a))
    verdicts = det.verdicts(x, check_drift=False)
    assert conversions == [len(x)]
    assert not any(key[0] == "digit" for key in det._inference.compiled._images)
    monkeypatch.setattr(scoring, "batch_input", real)
    alone = load_model(path)
    assert [v.digit for v in verdicts] == [int(d) for d in alone.predict_digit(x)]
    np.testing.assert_allclose([v.score for v in verdicts], alone.score_samples(x), rtol=1e-6)
    assert any(v.is_anomaly for v in verdicts[40:])


@pytest.mark.slow
def test_letters_and_noise_score_above_digits(shape_model, mnist, noise_images):
    det, _ = shape_model
    normal = det.score_samples(mnist.x_test[:300])
    assert auroc(normal, det.score_samples(noise_images)) > 0.99
    assert auroc(normal, det.score_samples(printed_letters(200))) > 0.9
    assert auroc(normal, det.score_samples(255 - mnist.x_test[:100])) > 0.99


@pytest.mark.slow
def test_an_anomaly_says_why_and_a_normal_image_does_not(shape_model, mnist, noise_images):
    det, _ = shape_model
    verdicts = det.verdicts(np.concatenate([noise_images[:5], mnist.x_test[:40]]))
    assert all(v.is_anomaly and v.reason in VIEW_WORDS.values() for v in verdicts[:5])
    assert all(v.reason is None for v in verdicts if not v.is_anomaly)
    assert any(not v.is_anomaly for v in verdicts[5:])
    # another score gives no reason
    assert all(v.reason is None for v in det.verdicts(noise_images[:5], scorer="shape"))


@pytest.mark.slow
def test_the_folder_keeps_the_shape_network(shape_model, mnist, tmp_path):
    det, path = shape_model
    again = load_model(path)
    assert (path / "shape.keras").is_file() and again.notes_ == []
    x = mnist.x_test[:100]
    for name in ("combined", "shape", "mahalanobis"):
        np.testing.assert_allclose(again.score_samples(x, scorer=name),
                                   det.score_samples(x, scorer=name), rtol=1e-6)
    card = json.loads((path / "ganmc.json").read_text())
    assert card["combination"]["mains"] == list(SHAPE_MAINS)
    assert card["config"]["shape_weight"] == 1.0


def test_a_folder_saved_before_the_shape_network_reads_as_it_was(tiny_model, tmp_path):
    """A card without the combined score's views names its one main view; its guards are
    the older ones, and its settings say it had no shape network."""
    import shutil

    _, path = tiny_model
    old = tmp_path / "old"
    shutil.copytree(path, old)
    card = json.loads((old / "ganmc.json").read_text())
    card["combination"] = {"main": card["combination"]["main"]}
    del card["config"]["shape_weight"]
    (old / "ganmc.json").write_text(json.dumps(card))
    det = load_model(old)
    assert det.combination_.mains == ("mahalanobis",) and det.combination_.guards == GUARDS
    assert det.config.shape_weight == 0.0 and "shape" not in det.scorers_


@pytest.mark.slow
def test_the_shape_views_run_in_bfloat16_as_in_float32(shape_model):
    det, _ = shape_model
    f32 = det.sample_scores(2000, 1, 0, scorer="shape", precision="float32")
    b16 = det.sample_scores(2000, 1, 0, scorer="shape", precision="bfloat16")
    assert np.corrcoef(f32, b16)[0, 1] > 0.99
    np.testing.assert_allclose(np.median(b16), np.median(f32), atol=0.1 * np.std(f32))


def _handwriting_file(path, mnist):
    """Other "writers": bundled test digits, and printed capitals standing in for
    handwritten ones (the format is what is tested, not the figures)."""
    letters = printed_letters(105)
    labels = np.asarray([ord(c) - ord("A") for c in "ABCDEFGHJKMNPQRTUVWXY"] * 5, np.uint8)
    np.savez(path, digits=mnist.x_test[:200], digit_labels=mnist.y_test[:200].astype(np.uint8),
             capitals=letters, capital_labels=labels)
    return path


@pytest.mark.slow
def test_assess_puts_other_writers_figures_on_the_card(shape_model, mnist, tmp_path):
    import shutil

    _, path = shape_model
    model = tmp_path / "m"
    shutil.copytree(path, model)
    hw = _handwriting_file(tmp_path / "hw.npz", mnist)
    trained_on = tmp_path / "trained_on.npz"  # the fixture's bundled[:3000], as a file
    np.savez(trained_on, x_train=mnist.x_train[:3000], y_train=mnist.y_train[:3000],
             x_test=mnist.x_test, y_test=mnist.y_test)
    r = subprocess.run([sys.executable, "-m", "ganmc.cli", "assess", "--model", str(model),
                        "--data", str(trained_on), "--handwriting", str(hw)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    h = json.loads((model / "ganmc.json").read_text())["quality"]["handwriting"]
    assert h["source"] == "hw.npz" and h["n_digits"] == 200 and h["n_capitals"] == 105
    assert 0 <= h["digits_flagged"] <= 1 and h["capitals_caught_plain"] == h["capitals_caught"]
    assert h["capitals_caught"] > h["digits_flagged"]
    assert "other people's handwriting (hw.npz)" in r.stdout
    info = subprocess.run([sys.executable, "-m", "ganmc.cli", "info", "--model", str(model)],
                          capture_output=True, text=True, timeout=300)
    assert "letters it misses most" in info.stdout, info.stdout
    bad = tmp_path / "bad.npz"
    np.savez(bad, digits=mnist.x_test[:5])
    r = subprocess.run([sys.executable, "-m", "ganmc.cli", "assess", "--model", str(model),
                        "--data", str(trained_on), "--handwriting", str(bad)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "not a handwriting file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
