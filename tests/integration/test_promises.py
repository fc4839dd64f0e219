"""The guarantees where verdicts are shown, with real models: the drift alarm in the Python
API, ``ganmc score`` and the report; the PAC thresholds as a choice (CLI, service, card);
Benjamini-Hochberg for a batch; the Monte Carlo scores against real ones in ``ganmc
simulate`` and the report."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from ganmc.app import service
from ganmc.core.errors import ConfigError, ModelError
from ganmc.model.base import DriftWarning
from ganmc.storage import bundle
from ganmc.thresholds.decision import Choice, decide
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.ranks import conformal_rank, pac_rank

ENV = {**os.environ, "GANMC_OFFLINE": "1"}


def ganmc(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ganmc.cli", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=timeout)


def _ones_and_sevens(mnist, n):
    return mnist.x_test[np.isin(mnist.y_test, (1, 7))][:n]


@pytest.fixture(scope="module")
def batches(tmp_path_factory, mnist):
    """Normal digits of the 1-and-7 model, then the same followed by uniform noise."""
    d = tmp_path_factory.mktemp("batches")
    normal = _ones_and_sevens(mnist, 40)
    noise = np.random.default_rng(0).integers(0, 256, (12, 28, 28)).astype(np.uint8)
    np.savez(d / "normal.npz", x=normal)
    np.savez(d / "drift.npz", x=np.concatenate([normal[:20], noise]))
    return d, normal, noise


# ---------------------------------------------------------------------------- Python API
def test_verdicts_warn_in_plain_words_when_the_images_drift(digit_model, batches):
    det, _ = digit_model
    _, normal, noise = batches
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        det.verdicts(normal)
    assert not [w for w in caught if issubclass(w.category, DriftWarning)]
    with pytest.warns(DriftWarning, match="not like the ones the threshold was calibrated "
                                          "on: the 5 % promise does not hold for them") as got:
        verdicts = det.verdicts(np.concatenate([normal[:20], noise]))
    assert "calibrate on your own normal images" in str(got[0].message)
    assert len(verdicts) == 32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all when asked not to check
        det.verdicts(np.concatenate([normal[:20], noise]), check_drift=False)


def test_drift_gives_the_curve_and_compares_each_image_with_its_digit(digit_model, batches):
    det, _ = digit_model
    _, normal, noise = batches
    alarm = det.drift(np.concatenate([normal[:20], noise]))
    assert alarm.fired and 20 < alarm.alarm_at <= 30  # within 10 noise images
    assert alarm.grouped  # per-digit threshold: Mondrian
    assert alarm.n == 32 and alarm.values.shape == (32,)
    quiet = det.drift(normal)
    assert not quiet.fired
    pooled = det.drift(normal, threshold=det.calibration_of(det.scorer_, "holdout"))
    assert not pooled.grouped


# ---------------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_score_says_the_drift_alarm_and_the_batchs_false_discovery_rate(digit_model, batches,
                                                                        tmp_path):
    _, model = digit_model
    d, _, _ = batches
    out = tmp_path / "s.csv"
    r = ganmc("score", "--model", model, d / "drift.npz", "--fdr", "0.05", "--out", out)
    assert r.returncode == 0, r.stderr
    warning = next(line for line in r.stderr.splitlines() if "warning:" in line)
    assert warning.startswith("ganmc score: warning: These images are not like the ones the "
                              "threshold was calibrated on: the 5 % promise does not hold")
    assert f"ganmc calibrate --model {model} YOUR_NORMAL_IMAGES" in warning
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[-1] == "fdr_verdict"
    flagged = sum(row["fdr_verdict"] == "anomaly" for row in rows)
    one_by_one = sum(row["verdict"] == "anomaly" for row in rows)
    assert flagged >= 10  # the noise
    assert (f"Of these {flagged} flagged images, at most 5 % are expected to be normal"
            in r.stderr)
    assert f"judged one by one at 5 % false alarms, {one_by_one} are flagged" in r.stderr
    r = ganmc("score", "--model", model, d / "normal.npz")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr and "drift check: Over 40 images" in r.stderr
    assert r.stdout.splitlines()[0] == ("source,index,score,p_value,threshold,digit,verdict,"
                                        "reason")
    r = ganmc("score", "--model", model, d / "normal.npz", "--fdr", "1.5")
    assert r.returncode == 2 and "between 0 and 1" in r.stderr


@pytest.mark.slow
def test_score_with_the_pac_threshold(digit_model, batches, tmp_path):
    det, model = digit_model
    d, normal, _ = batches
    out = tmp_path / "pac.csv"
    r = ganmc("score", "--model", model, d / "normal.npz", "--calibration", "pac",
              "--pac-confidence", "95", "--out", out)
    assert r.returncode == 0, r.stderr
    held = det.holdout_scores_[det.scorer_]
    k = pac_rank(len(held), Level(0.05), 0.05)
    assert k > conformal_rank(len(held), Level(0.05))
    rows = list(csv.DictReader(out.open()))
    assert {float(row["threshold"]) for row in rows} == {round(float(held[k - 1]), 6)}
    assert "pac threshold" in r.stderr and "95 % confidence" in r.stderr
    r = ganmc("score", "--model", model, d / "normal.npz", "--calibration", "per-digit-pac")
    assert r.returncode == 0, r.stderr
    r = ganmc("score", "--model", model, d / "normal.npz", "--pac-confidence", "100")
    assert r.returncode == 2 and "between 0 and 100" in r.stderr


@pytest.mark.slow
def test_too_few_images_for_the_pac_threshold_is_one_plain_line(digit_model, mnist, tmp_path):
    """A model calibrated on 30 images of its own: the PAC choice is refused with what it
    takes; the holdout threshold still works."""
    _, model = digit_model
    own = tmp_path / "own"
    service.calibrate_on(model, _ones_and_sevens(mnist, 30), name="thirty", out=own)
    np.savez(tmp_path / "x.npz", x=_ones_and_sevens(mnist, 5))
    r = ganmc("score", "--model", own, tmp_path / "x.npz", "--calibration", "pac")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "ganmc score: error: with 30 calibration images no threshold can promise at most 5 % "
        "false alarms with 90 % confidence: that takes at least 45; calibrate on more images, "
        "lower the PAC confidence or the percentile, or use the holdout threshold")
    r = ganmc("calibrate", "--model", own, tmp_path / "x.npz", "--name", "five")
    # five images are too few for any threshold at 5 %: refused before anything is written
    assert r.returncode == 2 and "it needs at least 19" in r.stderr


@pytest.mark.slow
def test_simulate_reads_the_monte_carlo_against_real(tiny_model, tmp_path):
    _, model = tiny_model
    r = ganmc("simulate", "--model", model, "--samples", "3000", "--out", tmp_path / "sim")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "Monte Carlo against real" in x)
    assert "Kolmogorov-Smirnov" in line and "3,000 generated" in line
    s = json.loads((tmp_path / "sim" / "summary.json").read_text())
    ks = s["ks"]
    assert 0 <= ks["statistic"] <= 1 and 0 <= ks["p_value"] <= 1
    assert ks["false_alarm_rate_on_holdout"] == s["false_alarm_rate_on_holdout"]
    assert ks["words"] in line


# ---------------------------------------------------------------------------- service
def test_decide_with_the_pac_sources(digit_model):
    det, _ = digit_model
    level = Level(0.05)
    held = det.holdout_scores_[det.scorer_]
    d = decide(det, Choice(source="pac", level=level, pac_delta=0.1))
    k = pac_rank(len(held), level, 0.1)
    assert d.threshold.source == "pac" and d.threshold.value == held[k - 1]
    assert any(n.startswith("PAC threshold: with probability at least 90 % over the draw of "
                            f"the {len(held):,} calibration images") for n in d.notes)
    conformal = decide(det, Choice(source="holdout", level=level)).threshold
    assert d.threshold.value >= conformal.value
    p = decide(det, Choice(source="per-digit-pac", level=level)).threshold
    own = decide(det, Choice(source="per-digit", level=level)).threshold
    for digit in (1, 7):
        assert p.by_digit((digit,))[digit] >= own.by_digit((digit,))[digit]
    assert p.describe((1, 7)).startswith("per-digit PAC thresholds")


def test_the_card_has_its_pac_line_and_checks_its_delta(digit_model, tmp_path):
    import shutil

    from ganmc.storage.cardtext import card_text

    det, model = digit_model
    card = det.card()
    entry = card["calibration_summary"][det.scorer_]
    n = entry["holdout"]["n"]
    assert entry["pac"]["rank"] == pac_rank(n, Level(0.05), 0.1)
    assert set(entry["per-digit-pac"]["thresholds"]) == {"1", "7"}
    text = card_text(card)
    assert f"PAC threshold: with probability at least 90 % over the draw of the {n:,}" in text
    bad = tmp_path / "bad"
    shutil.copytree(model, bad)
    raw = json.loads((bad / bundle.CARD).read_text())
    raw["pac_delta"] = 2
    (bad / bundle.CARD).write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="pac_delta must be a number between 0 and 1"):
        service.load_model(bad)


def test_pac_delta_is_a_detector_setting(digit_model):
    det, _ = digit_model
    with pytest.raises(ConfigError, match="pac_delta"):
        det.set_params(pac_delta=0.0)
    before = det.pac_delta
    try:
        det.set_params(calibration="pac", pac_delta=0.2)
        assert det.calibration_.source == "pac" and det.calibration_.delta == 0.2
    finally:
        det.set_params(calibration="auto", pac_delta=before)


def test_the_report_shows_the_alarm_the_batch_and_the_monte_carlo_reading(digit_model,
                                                                          batches, tmp_path):
    import io

    from PIL import Image

    det, _ = digit_model
    _, normal, noise = batches
    decision = decide(det, Choice())
    images = [(f"i{i}", im) for i, im in enumerate(np.concatenate([normal[:20], noise]))]
    data = service.build_report(det, decision, images=images)
    assert data.drift.fired and data.fdr is not None and data.ks is not None
    out = service.write_report(data, tmp_path / "r.png")
    summary = json.loads(out[1].read_text())
    assert summary["drift"]["alarm"] and summary["drift"]["alarm_at"] == data.drift.alarm_at
    assert summary["fdr"]["flagged"] == data.fdr.n_flagged
    assert summary["monte_carlo_against_real"]["words"].startswith(
        ("Generated images score differently", "The test finds no difference"))
    assert summary["promise"].startswith("at most 5 % of new normal images taken for each")
    rows = list(csv.DictReader(out[2].open()))
    assert {r["fdr_verdict"] for r in rows if r["kind"] == "image"} <= {"anomaly", "normal"}
    with Image.open(io.BytesIO(out[0].read_bytes())) as img:
        assert img.size == (1200, 1500)
    from ganmc.report.render import _summary_lines

    lines = "\n".join(_summary_lines(data))
    assert "Your images: These images are not like the ones" in lines
    assert "Your images as a batch: Of these" in lines
    assert "Monte Carlo against real:" in lines
    quiet = service.build_report(det, decision, images=[("one", normal[0])])
    assert quiet.fdr is None and not quiet.drift.fired


def test_the_batch_fdr_uses_p_values_against_every_held_out_image(digit_model, batches):
    """Per-digit p-values are never below 1 / (a digit's images + 1): BH takes the p-values
    against all the held-out images, the finest the model has."""
    from ganmc.thresholds.guarantees import benjamini_hochberg

    det, _ = digit_model
    _, normal, noise = batches
    decision = decide(det, Choice())
    assert decision.threshold.per_digit
    verdicts = service.score(det, np.concatenate([normal, noise]), decision)
    g = service.guarantees(det, decision, verdicts, fdr=0.05)
    pooled = det.calibration_of(decision.scorer, "holdout")
    want = benjamini_hochberg(pooled.p_values(np.array([v.score for v in verdicts])), 0.05)
    assert np.array_equal(g.fdr.flagged, want) and want[-12:].all()
    n = len(det.holdout_scores_[decision.scorer])
    assert g.fdr.reference == n and f"against the {n:,} held-out normal images" in g.fdr.words()


def test_without_held_out_images_the_checks_say_why(tiny_model, noise_images):
    det = service.load_model(tiny_model[1])  # a copy of our own to change
    det.holdout_scores_, det.holdout_digits_ = {}, {}
    decision = decide(det, Choice(source="monte-carlo"))
    g = service.guarantees(det, decision, service.score(det, noise_images, decision), fdr=0.05)
    assert g.drift is None and g.fdr is None
    assert [n.split(":")[0] for n in g.notes] == ["no drift check", "no false discovery rate"]
