"""What a newcomer meets first: a photograph or noise is never a NORMAL, the threshold shown
is the one each verdict used, and `ganmc info` answers at once in plain words."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganmc.app import service
from ganmc.images.preprocess import to_mnist
from ganmc.thresholds.decision import Choice, decide
from ganmc.thresholds.verdict import taken_for

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "assets", "examples")


def _photos(n: int = 6) -> np.ndarray:
    """The example photograph, and noisy copies of it, as the Detect page would see them."""
    photo = Image.open(os.path.join(EXAMPLES, "photo.jpg")).convert("L")
    grey = np.asarray(photo, np.float32)
    rng = np.random.default_rng(0)
    noisy = [Image.fromarray(np.clip(grey + rng.normal(0, sd, grey.shape), 0, 255)
                             .astype(np.uint8)) for sd in np.linspace(15, 90, n - 1)]
    return np.stack([to_mnist(im) for im in [photo, *noisy]])


def test_auto_is_combined_and_flags_photographs_and_noise(digit_model, noise_images):
    det, _ = digit_model
    decision = decide(det, Choice())
    assert decision.scorer == "combined" and decision.threshold.source == "per-digit"
    assert any(n.startswith("score auto → combined") for n in decision.notes)
    for x in (_photos(), noise_images[:8]):
        verdicts = service.score(det, x, decision)
        assert all(v.is_anomaly for v in verdicts), [(v.score, v.threshold) for v in verdicts]
    # the held-out digits themselves stay within the level (conformal, in-sample)
    held = det.holdout_scores_["combined"]
    assert np.mean(decision.threshold.flags(held, det.holdout_digits_["combined"])) <= 0.05


def test_the_combined_score_survives_a_save_and_a_calibration(digit_model, mnist, tmp_path):
    det, path = digit_model
    copy = service.copy_model(path, tmp_path / "copy")
    again = service.load_model(copy)
    assert again.scorer_ == "combined"
    x = mnist.x_test[np.isin(mnist.y_test, [1, 7])][:40]
    np.testing.assert_allclose(again.score_samples(x), det.score_samples(x))
    mine = mnist.x_test[np.isin(mnist.y_test, [1, 7])][40:240]
    calibrated, _ = service.calibrate_on(copy, mine, name="mine")
    first = calibrated.combination_.views[0]
    assert calibrated.combination_.references[first].size == len(mine)  # new references
    assert "combined" not in calibrated.monte_carlo_  # the run read the old ones


@pytest.mark.slow
def test_score_rows_name_each_images_own_threshold_and_digit(digit_model, tmp_path, mnist):
    det, path = digit_model
    np.savez(tmp_path / "x.npz", x=mnist.x_test[np.isin(mnist.y_test, [1, 7])][:30])
    out = tmp_path / "scores.csv"
    r = subprocess.run([sys.executable, "-m", "ganmc.cli", "score", "--model", str(path),
                        str(tmp_path / "x.npz"), "--out", str(out)],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "GANMC_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert "per-digit thresholds" in r.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["source", "index", "score", "p_value", "threshold", "digit",
                             "verdict", "reason"]
    own = decide(det, Choice()).threshold.by_digit((1, 7))
    for row in rows:
        assert float(row["threshold"]) == round(own[int(row["digit"])], 6)
        assert row["verdict"] == ("anomaly" if float(row["score"]) > float(row["threshold"])
                                  else "normal")
    # both digits, each row with its own digit's threshold (above; the two can be the same
    # value: the combined score's values are ranks among the held-out images)
    assert {row["digit"] for row in rows} == {"1", "7"}


def test_info_answers_without_tensorflow_in_plain_numbers():
    code = ("import sys\nfrom ganmc import cli\nrc = cli.main(['info'])\n"
            "assert 'tensorflow' not in sys.modules, 'info imported TensorFlow'\n"
            "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no TensorFlow log lines
    assert " images/s)" in r.stdout and ".0 images/s" not in r.stdout


def test_digits_take_the_right_article():
    assert taken_for(8) == "taken for an 8"
    assert taken_for(3) == "taken for a 3"
    assert taken_for(8, bold=True) == "taken for an **8**"


@pytest.mark.slow
def test_refresh_gives_a_model_saved_before_the_combined_score_its_score(digit_model,
                                                                          tmp_path):
    """A model folder without the combined score (as saved before it) loads with the Gaussian
    as auto; `ganmc refresh` scores its own held-out digits again, adds the combined score and
    its Monte Carlo run, measures the card for it, and keeps the folder's other files."""
    import json
    import shutil

    from ganmc.storage import bundle

    _, path = digit_model
    old = tmp_path / "old"
    shutil.copytree(path, old)
    with np.load(old / bundle.ARRAYS) as arrays:
        kept = {k: arrays[k] for k in arrays.files
                if not k.startswith("combination/") and not k.endswith("/combined")}
    np.savez(old / bundle.ARRAYS, **kept)
    card = json.loads((old / bundle.CARD).read_text())
    card["combination"] = None
    card["scorers"] = [s for s in card["scorers"] if s != "combined"]
    card["calibration_summary"].pop("combined", None)
    (old / bundle.CARD).write_text(json.dumps(card))
    (old / "README.md").write_text("notes")
    before = service.load_model(old)
    # without the combined score, auto is the shape network's own score
    assert before.scorer_ == "shape" and "combined" not in before.scorers_
    r = subprocess.run([sys.executable, "-m", "ganmc.cli", "refresh", "--model", str(old)],
                       capture_output=True, text=True, timeout=600,
                       env={**os.environ, "GANMC_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    assert "auto score combined" in r.stdout
    after = service.load_model(old)
    assert after.scorer_ == "combined" and "combined" in after.monte_carlo_
    assert after.quality_["scorer"] == "combined"
    for name in ("shape", "mahalanobis", "discriminator"):  # the same held-out digits, again
        np.testing.assert_allclose(after.holdout_scores_[name], before.holdout_scores_[name],
                                   rtol=1e-4, atol=1e-6)
    assert (old / "README.md").read_text() == "notes"

