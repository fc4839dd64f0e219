"""Your own pictures (issue #33, part 1) through the whole chain: a model trained on a folder
of named classes in the whole-image framing; its card, framing and per-class thresholds; the
CLI, Monte Carlo, verdicts, evaluation, calibration, the report and the quality card."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganmc.core.errors import ConfigError, ModelError
from ganmc.images.preprocess import to_whole
from ganmc.thresholds.decision import Choice, decide
from tests.conftest import own_pictures

ENV = {**os.environ, "GANMC_OFFLINE": "1"}


def ganmc(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ganmc.cli", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=timeout)


def grey(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


# ------------------------------------------------------------------ the model and its card
def test_a_folder_of_classes_trains_a_model_of_named_classes(own_model):
    det, path, data = own_model
    card = json.loads((path / "ganmc.json").read_text())
    assert card["framing"] == "whole" and det.framing_ == "whole"
    assert card["config"]["classes"] == ["ones", "sevens"] and card["config"]["digits"] == [0, 1]
    m = card["metadata"]
    assert m["own_images"] and m["data_source"] == str(data.resolve())
    assert m["n_train"] + m["n_calibration"] == 300  # notes.png skipped, the rest kept
    # a Gaussian and a threshold per class, as per digit for MNIST
    assert det.networks_.density.per_digit and det.scorer_ == "combined"
    assert det.calibration_.source == "per-digit" and set(det.thresholds_) == {0, 1}
    assert set(card["calibration_summary"]["combined"]["per-digit"]["thresholds"]) == {"0", "1"}


def test_the_quality_card_measures_the_anomaly_folder(own_model):
    det, path, _ = own_model
    q = json.loads((path / "ganmc.json").read_text())["quality"]
    assert set(q["sets"]) == {"anomaly folder", "uniform noise", "inverted"}
    assert q["sets"]["anomaly folder"]["n"] == 40
    assert 0 <= q["sets"]["anomaly folder"]["auroc"] <= 1
    assert "digits" not in q["words"]  # its normal images are pictures, not digits


def test_a_reloaded_model_keeps_its_framing_classes_and_examples(own_model):
    from ganmc import load_model

    det, path, _ = own_model
    again = load_model(path)
    assert again.framing_ == "whole" and again.names.classes == ("ones", "sevens")
    assert again.own_images and again.examples_["normal"].shape[1:] == (28, 28)
    assert len(again.examples_["anomaly"]) == 40
    shipped = load_model()  # a card without a framing is framed like digits
    assert shipped.framing_ == "digits" and not shipped.own_images


# ------------------------------------------------------------------ verdicts and words
def test_verdicts_name_the_class_each_picture_is_taken_for(own_model, mnist):
    det, _, data = own_model
    x = np.stack([to_whole(grey(p)) for p in sorted((data / "normal" / "sevens").glob("0*.png"))
                  [:20]])
    verdicts = det.verdicts(x)
    assert {v.name for v in verdicts} <= {"ones", "sevens"}
    assert "sevens" in {v.name for v in verdicts}
    v = next(v for v in verdicts if v.name == "sevens")
    assert v.taken_for == 'taken for "sevens"' and v.threshold == det.thresholds_[1]
    assert det.threshold_words().startswith("per-class thresholds")


@pytest.mark.slow
def test_cli_score_frames_pictures_as_the_model_was_trained(own_model, tmp_path):
    det, path, data = own_model
    pic = data / "normal" / "sevens" / "000.png"
    r = ganmc("score", "--model", path, pic, "--out", tmp_path / "s.csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert list(rows[0]) == ["source", "index", "score", "p_value", "threshold", "class",
                             "verdict", "reason"]
    assert rows[0]["class"] in ("ones", "sevens")
    whole = det.score_samples(to_whole(grey(pic))[None])[0]
    assert float(rows[0]["score"]) == pytest.approx(whole, rel=1e-4, abs=1e-5)
    from ganmc.images.preprocess import load_image

    digits = det.score_samples(load_image(pic)[None])[0]  # the other framing scores otherwise
    assert abs(digits - whole) > 1e-3


@pytest.mark.slow
def test_cli_evaluate_on_the_folders_speaks_of_classes(own_model, tmp_path):
    _, path, data = own_model
    r = ganmc("evaluate", "--model", path, "--normal", data / "normal" / "ones",
              data / "normal" / "sevens", "--anomalous", data / "anomaly",
              "--json", tmp_path / "e.json")
    assert r.returncode == 2, r.stderr  # notes.png was refused, and said so
    assert "notes.png" in r.stderr
    assert "false alarms by the class each normal image was taken for: ones:" in r.stdout
    assert "per-class thresholds" in r.stdout
    figures = json.loads((tmp_path / "e.json").read_text())
    assert set(figures["by_digit"]) <= {"ones", "sevens"} and figures["n_anomalous"] == 40


def test_cli_info_says_the_classes_and_framing(own_model):
    _, path, _ = own_model
    r = ganmc("info", "--model", path)
    assert r.returncode == 0, r.stderr
    assert "normal classes ones, sevens" in r.stdout
    assert "pictures framed whole image" in r.stdout


# ------------------------------------------------------------------ the rest of the chain
def test_monte_carlo_and_the_report_of_a_class_model(own_model, tmp_path):
    from ganmc.app import service
    from ganmc.report.render import _summary_lines

    det, _, data = own_model
    run = service.simulate(det, 2000, seed=1)
    summary = service.simulation_summary(det, run, det.calibration_.level)
    assert summary["samples"] == 2000 and summary["false_alarm_rate_on_holdout"] is not None
    decision = decide(det, Choice())
    report = service.build_report(det, decision, monte_carlo=run,
                                  images=[("mine.png", to_whole(grey(data / "anomaly" /
                                                                     "000.png")))])
    assert [e.name for e in report.examples] == ["normal held-out picture",
                                                 "anomalous picture"]
    assert report.examples[1].note == "from the anomaly folder"
    assert report.images[0].verdict.name in ("ones", "sevens")
    text = "\n".join(_summary_lines(report))
    assert "per-class thresholds" in text and "False alarms per class" in text
    assert "ones " in text and "sevens " in text
    written = service.write_report(report, tmp_path / "r.png")
    assert Image.open(written[0]).size == (1200, 1500)


def test_calibrating_a_class_model_on_own_pictures(own_model, tmp_path):
    from ganmc.app import service

    det, path, data = own_model
    x = np.stack([to_whole(grey(p)) for p in sorted((data / "normal").rglob("*.png"))[:120]
                  if p.name != "notes.png"])
    out = tmp_path / "calibrated"
    again, bands = service.calibrate_on(path, x, name="mine", out=out)
    assert again.calibration_.source == "per-digit" and again.framing_ == "whole"
    assert set(bands) == {"all", "0", "1"}
    assert json.loads((out / "ganmc.json").read_text())["framing"] == "whole"


def test_assess_reads_the_folder_again_and_says_when_it_is_gone(own_model, tmp_path):
    from ganmc.app import service

    det, path, data = own_model
    copy, moved = tmp_path / "m", tmp_path / "pictures"
    shutil.copytree(path, copy)
    again = service.assess_model(copy)
    assert again.quality_["sets"]["anomaly folder"]["auroc"] == pytest.approx(
        det.quality_["sets"]["anomaly folder"]["auroc"], abs=1e-3)
    shutil.copytree(data, moved)
    service.assess_model(copy, data=str(moved))  # the same pictures elsewhere
    with pytest.raises(ModelError, match="are not there to read again"):
        service.assess_model(copy, data=str(tmp_path / "gone"))


def test_digits_with_own_pictures_and_whole_framing_with_mnist_are_refused(tmp_path, mnist):
    from ganmc.app import service

    data = own_pictures(tmp_path / "pics", mnist, per_class=12, anomalies=2)
    with pytest.raises(ConfigError, match="normal classes of your own pictures"):
        service.train(tmp_path / "m1", data=str(data), digits=(1,), arch="mlp", steps=8)
    with pytest.raises(ConfigError, match="framing is for your own pictures"):
        service.train(tmp_path / "m2", data="bundled", framing="whole", arch="mlp", steps=8)
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists()


def test_a_class_model_needs_each_images_class(mnist):
    from ganmc import Detector

    with pytest.raises(ConfigError, match="needs each image's class"):
        Detector(classes=("a", "b"), arch="mlp", steps=8).fit(mnist.x_train[:50])


# ------------------------------------------------------------------ ganmc train --data FOLDER
@pytest.mark.slow
def test_cli_dry_run_says_what_was_found_and_writes_the_preview(tmp_path, mnist):
    data = own_pictures(tmp_path / "pics", mnist, per_class=12, anomalies=3)
    shutil.copy(data / "normal" / "ones" / "000.png", data / "normal" / "ones" / "copy.png")
    r = ganmc("train", "--data", data, "--framing", "whole", "--dry-run",
              "--preview", tmp_path / "grid.png", "--out", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "24 pictures in 2 classes (normal/CLASS/): ones 12, sevens 12" in out
    assert "anomaly (only to measure the model, never trained on): 3 pictures" in out
    assert "sizes: 56x56 (all)" in out and "0 in colour, 27 grey" in out
    assert "normal/ones/copy.png (same as normal/ones/000.png)" in out
    assert "normal/ones/notes.png (not an image file" in out
    assert Image.open(tmp_path / "grid.png").size[1] == 2 * (30 + 30 + 4 + 30)
    assert not (tmp_path / "m").exists()  # a dry run trains nothing


def test_the_cli_estimates_a_folder_of_classes_as_the_job_it_trains(tmp_path, mnist,
                                                                     monkeypatch, capsys):
    """``ganmc train --data FOLDER``'s dry run and its real run estimate the same job, a
    model of the folder's classes (the real run once took it for all ten digits, with the
    shape network: a longer estimate than the dry run's)."""
    from ganmc.app import estimate, service
    from ganmc.cli import main

    data = own_pictures(tmp_path / "pics", mnist, per_class=12, anomalies=3)
    asked, real = [], service.time_estimate
    monkeypatch.setattr(estimate, "machine_speed", lambda: estimate.GAUGE_REFERENCE)
    monkeypatch.setattr(service, "time_estimate",
                        lambda s, *a, **k: (asked.append(s), real(s, *a, **k))[1])

    def interrupted(*args, **kwargs):  # the real run stops before its first step
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "train", interrupted)
    common = ["train", "--data", str(data), "--framing", "whole", "--out", str(tmp_path / "m")]
    assert main([*common, "--dry-run"]) == 0
    assert main(common) == 130
    assert len(asked) == 2 and asked[0] == asked[1]
    assert asked[0]["classes"] == ("ones", "sevens") and asked[0]["digits"] is None
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("Estimated time")]
    assert len(lines) == 2 and lines[0] == lines[1]


@pytest.mark.slow
def test_cli_trains_on_a_plain_folder_and_refuses_digits_with_it(tmp_path, mnist):
    d = tmp_path / "ones"
    d.mkdir()
    for i, img in enumerate(mnist.x_train[mnist.y_train == 1][:60]):
        Image.fromarray(img).save(d / f"{i}.png")
    r = ganmc("train", "--data", d, "--digits", "1", "--out", tmp_path / "x")
    assert r.returncode == 2 and "--digits chooses among MNIST's digits" in r.stderr
    r = ganmc("train", "--data", "bundled", "--preview", tmp_path / "g.png")
    assert r.returncode == 2 and "--preview is for your own pictures" in r.stderr
    r = ganmc("train", "--data", d, "--arch", "mlp", "--steps", "16", "--batch-size", "32",
              "--mc-samples", "200", "--calibration-fraction", "0.35", "--out", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    assert "60 pictures, one class" in r.stdout and "like digits framing" in r.stdout
    card = json.loads((tmp_path / "m" / "ganmc.json").read_text())
    assert card["framing"] == "digits" and card["config"]["classes"] is None
    assert card["metadata"]["own_images"]
