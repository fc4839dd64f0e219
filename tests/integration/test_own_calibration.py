"""Issue 34, items 1, 9, 10, 15, 16 and 19: calibrating a model, on its held-out share or on
the user's own images. A set too small for the level is refused before anything is written
(and an old card that holds Infinity still loads, with a note); ``ganmc calibrate`` shows its
progress and leaves the slow latent search out unless asked; refresh, add-digits and assess
say in one line why they cannot redo an own-images calibration, before any work; a
calibration's name is one short line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ganmc import cli, load_model
from ganmc.app import models
from ganmc.core.errors import ConfigError, ModelError
from ganmc.storage import bundle
from tests.conftest import digit_png

ENV = {**os.environ, "GANMC_OFFLINE": "1"}


def ganmc(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "ganmc.cli", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=timeout)


def shipped_copy(folder):
    shutil.copytree(bundle.DEFAULT_MODEL, folder)
    return folder


def listing(folder):
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())


# ------------------------------------------------------------------- item 1
@pytest.mark.parametrize("how", ["1", "5 of a folder", "18"])
def test_too_few_images_are_refused_before_anything_is_written(tmp_path, capsys, mnist, how):
    model = shipped_copy(tmp_path / "m")
    before, around = listing(model), listing(tmp_path)
    if how == "5 of a folder":
        given = tmp_path / "mine"
        given.mkdir()
        for i in range(5):
            digit_png(given / f"d{i}.png", mnist.x_test[i])
        (given / "notes.png").write_text("not an image")
        n = 5
    else:
        n = int(how)
        given = tmp_path / "cal.npz"
        np.savez(given, x=mnist.x_test[:n])
    around = listing(tmp_path)
    rc = cli.main(["calibrate", "--model", str(model), str(given)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1] == (f"ganmc calibrate: error: {n} calibration images are too few for a "
                       f"threshold at 5 % false alarms: it needs at least 19 (with fewer, "
                       f"nothing would ever be flagged); nothing was changed")
    assert listing(model) == before and listing(tmp_path) == around  # nor a lock file


def test_training_with_too_small_a_held_out_share_is_refused_before_training(
        tmp_path, capsys, monkeypatch):
    """``--calibration-fraction 0.01`` held out 9 digits and trained a model whose card said
    "inf to inf" and called it usable; refused now before a step is trained."""
    from ganmc.model import detector

    def trained(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(detector, "fit_networks", trained)
    rc = cli.main(["train", "--data", "bundled", "--digits", "1", "--steps", "8",
                   "--calibration-fraction", "0.01", "--out", str(tmp_path / "m")])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 2
    assert line.startswith("ganmc train: error: 9 held-out images (0.01 of 9")
    assert ("are too few for a threshold at 5 % false alarms: it needs at least 19 (with "
            "fewer, nothing would ever be flagged); hold out a share of at least 0.03 "
            "(--calibration-fraction), or none (0)") in line
    assert list(tmp_path.iterdir()) == []  # no model, no checkpoint, no lock file


def test_a_card_never_holds_infinity(tiny_model, tmp_path):
    """A level the held-out set is too small for gives an infinite threshold: written as no
    threshold (null), and the model loads with a note saying why nothing is flagged."""
    _, path = tiny_model
    det = load_model(path)
    det.set_params(alpha=0.001)  # 375 held-out images; this level needs 999
    saved = det.save(tmp_path / "m")
    text = (saved / bundle.CARD).read_text()
    assert "Infinity" not in text
    assert json.loads(text)["calibration_summary"]["fanogan"]["holdout"]["threshold"] is None
    again = load_model(saved)
    assert any("375 held-out (calibration) images are too few for a threshold at 0.1 % "
               "false alarms (at least 999)" in note for note in again.notes_)


def test_a_card_an_older_ganmc_wrote_with_infinity_loads_with_a_note(tiny_model, tmp_path,
                                                                      capsys):
    """A model bricked by the old code (its card holds Infinity as the thresholds of an
    18-image calibration) is read, not refused: the thresholds are read as none."""
    _, path = tiny_model
    det = load_model(path)
    det.set_params(alpha=0.001)
    saved = det.save(tmp_path / "m")
    card = json.loads((saved / bundle.CARD).read_text())
    for entry in card["calibration_summary"].values():
        if "holdout" in entry:
            entry["holdout"]["threshold"] = float("inf")
            entry["per-digit"] = {"n": 150, "thresholds": {"3": float("inf")}, "counts": {},
                                  "fallback": []}
    (saved / bundle.CARD).write_text(json.dumps(card))  # as the old code wrote it
    assert "Infinity" in (saved / bundle.CARD).read_text()
    assert cli.main(["info", "--model", str(saved)]) == 0
    assert "alpha 0.001" in capsys.readouterr().out
    assert any("too few for a threshold" in note for note in load_model(saved).notes_)
    card["config"]["kappa"] = float("inf")  # anywhere else, Infinity is still refused
    (saved / bundle.CARD).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="Infinity is not a number a model card may hold"):
        bundle.read_card(saved)


def test_the_card_stores_the_level_as_written(tiny_model, tmp_path):
    """Item 19: cards stored ``alpha 0.050000000000000044`` (1 - 0.95)."""
    _, path = tiny_model
    det = load_model(path)
    det.set_params(alpha=1 - 0.95)
    text = (det.save(tmp_path / "m") / bundle.CARD).read_text()
    assert '"alpha": 0.05,' in text


# ------------------------------------------------------------------- items 9, 10, 15, 16
@pytest.fixture(scope="module")
def own(tmp_path_factory, mnist):
    """The shipped model calibrated on 300 of the user's images by ``ganmc calibrate`` (a
    subprocess, as a user runs it), with what it printed."""
    folder = tmp_path_factory.mktemp("own")
    model = shipped_copy(folder / "m")
    np.savez(folder / "mine.npz", x=mnist.x_test[:300])
    r = ganmc("calibrate", "--model", model, folder / "mine.npz", "--name", "my pen")
    return model, r


@pytest.mark.slow
def test_calibrate_shows_progress_and_leaves_the_slow_score_out(own):
    model, r = own
    assert r.returncode == 0, r.stderr
    assert "calibrate [" in r.stderr and "fanogan: 300/300 images" in r.stderr
    assert "ETA" in r.stderr
    assert ("note: latent-search was not calibrated on these images: it has no hold-out "
            "threshold (--latent-search calibrates it too") in r.stderr
    # nothing of TensorFlow's own around the command's lines (item 19)
    assert "WARNING" not in r.stderr and "retracing" not in r.stderr, r.stderr
    card = json.loads((model / bundle.CARD).read_text())
    assert card["calibration_summary"]["latent-search"] == {}
    assert card["calibration_summary"]["combined"]["holdout"]["n"] == 300
    assert card["metadata"]["calibration_set"]["name"] == "my pen"


def test_the_slow_score_is_calibrated_when_asked(tmp_path, mnist):
    model = shipped_copy(tmp_path / "m")
    x = mnist.x_test[:30]
    det, _ = models.calibrate_on(model, x, name="mine", latent_search=True)
    assert len(det.holdout_scores_["latent-search"]) == 30
    assert not [n for n in det.notes_ if "not calibrated" in n]


@pytest.mark.slow
@pytest.mark.parametrize("command, why", [
    ("refresh", "refresh scores the model's own held-out digits again; calibrate it on your "
                "images again instead"),
    ("add-digits", "per-digit Gaussians change every score"),
    ("assess", "its quality card is measured on its own held-out digits"),
])
def test_own_calibrations_are_not_redone_from_training_data(own, capsys, monkeypatch, command,
                                                            why):
    """Items 10 and 15: refresh and add-digits failed with a broadcasting traceback after
    minutes; assess asked for a --data that no value could satisfy."""
    model, _ = own

    def loaded(*args, **kwargs):
        raise AssertionError("the model was loaded: the refusal came after work began")

    monkeypatch.setattr(models, "load_model", loaded)
    rc = cli.main([command, "--model", str(model)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(f"ganmc {command}: error: m: calibrated on your own images "
                             f"('my pen', 300 images), which are not kept with the model; ")
    assert why in err[0] and "--data" not in err[0]


@pytest.mark.parametrize("name, why", [
    ("fine\nganmc calibrate: error: everything is fine", "may not hold control characters"),
    ("x" * 100_000, "at most 100 characters, not 100,000"),
    ("  ", "a calibration needs a name"),
])
def test_a_calibration_name_is_one_short_line(tmp_path, capsys, name, why):
    """Item 16: a new line in --name forged output lines; 100,000 characters were taken (a
    243 kB card)."""
    with pytest.raises(SystemExit) as info:
        cli.main(["calibrate", "--model", str(tmp_path), "--name", name, "x.npz"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert err[0].startswith("ganmc calibrate: error: argument --name: ") and why in err[0]
    with pytest.raises(ConfigError, match=why.split(",")[0]):
        models.calibrate_on(tmp_path, np.zeros((1, 28, 28), np.uint8), name=name)
