"""The ``ganmc`` command, run as a user runs it: in a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import digit_png

ENV = {**os.environ, "GANMC_OFFLINE": "1"}


def ganmc(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "ganmc.cli", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.mark.parametrize("command", ["", "train", "simulate", "score", "evaluate", "info"])
def test_help(command):
    result = ganmc(*([command] if command else []), "--help")
    assert result.returncode == 0
    assert "usage: ganmc" in result.stdout


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, mnist):
    d = tmp_path_factory.mktemp("inputs")
    normal = mnist.x_test[:60]
    np.savez(d / "normal.npz", x=normal)
    rng = np.random.default_rng(0)
    np.savez(d / "noise.npz", x=rng.integers(0, 256, (40, 28, 28)).astype(np.uint8))
    folder = d / "pngs"
    folder.mkdir()
    for i in range(3):
        digit_png(folder / f"digit{i}.png", mnist.x_test[i])
    (d / "notes.png").write_text("not an image")
    return d


def test_end_to_end(tmp_path, inputs):
    model = tmp_path / "m"
    r = ganmc("train", "--data", "bundled", "--digits", "0-9", "--arch", "mlp", "--epochs", "2",
              "--batch-size", "64", "--seed", "1", "--mc-samples", "1000", "--kappa", "20",
              "--search-steps", "20", "--feature-components", "16", "--out", model)
    assert r.returncode == 0, r.stderr
    assert "train [" in r.stderr and "100.0%" in r.stderr  # the progress bar
    assert "Calibrating on the held-out digits" in r.stderr
    assert not (tmp_path / ".m.ckpt").exists()
    config = json.loads((model / "ganmc.json").read_text())["config"]
    assert config["kappa"] == 20 and config["search_steps"] == 20
    assert config["feature_components"] == 16
    assert "scorer latent-search: holdout threshold" in r.stdout
    assert "scorer mahalanobis: holdout threshold" in r.stdout
    assert "quality (AUROC): uniform noise" in r.stderr  # the live quality curve, per round
    assert "Quality (" in r.stdout and "uniform noise: AUROC" in r.stdout  # the card

    r = ganmc("simulate", "--model", model, "--samples", "5000", "--percentile", "90",
              "--out", tmp_path / "sim")
    assert r.returncode == 0, r.stderr
    assert "threshold (90th percentile)" in r.stdout and "95% CI" in r.stdout
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    assert summary["samples"] == 5000 and summary["min"] <= summary["threshold"] <= summary["max"]
    assert (tmp_path / "sim" / "histogram.png").read_bytes()[:4] == b"\x89PNG"

    r = ganmc("score", "--model", model, inputs / "pngs", inputs / "normal.npz",
              "--out", tmp_path / "scores.csv")
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "scores.csv").read_text().splitlines()
    assert lines[0] == "source,index,score,p_value,verdict" and len(lines) == 1 + 3 + 60
    assert all(line.rsplit(",", 1)[1] in ("normal", "anomaly") for line in lines[1:])

    r = ganmc("evaluate", "--model", model, "--normal", inputs / "normal.npz",
              "--anomalous", inputs / "noise.npz", "--json", tmp_path / "eval.json")
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["auroc"] > 0.9 and 0 <= result["false_alarm_rate"] <= 1
    assert "AUROC" in r.stdout

    r = ganmc("info", "--model", model)
    assert r.returncode == 0 and "arch mlp" in r.stdout
    assert "trained: standard preset, batches of 64:" in r.stdout
    assert "Quality (" in r.stdout and "scribbles: AUROC" in r.stdout


def test_score_to_stdout_and_json(tiny_model, inputs, tmp_path):
    _, model = tiny_model
    r = ganmc("score", "--model", model, inputs / "pngs" / "digit0.png")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "source,index,score,p_value,verdict"
    r = ganmc("score", "--model", model, "--calibration", "monte-carlo", "--samples", "2000",
              inputs / "noise.npz", "--out", tmp_path / "s.json")
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "s.json").read_text())
    assert len(rows) == 40 and all(row["verdict"] == "anomaly" for row in rows)


def test_score_with_every_scorer(tiny_model, inputs):
    det, model = tiny_model
    scores = {}
    for scorer in ("fanogan", "mahalanobis", "discriminator", "latent-search"):
        r = ganmc("score", "--model", model, "--scorer", scorer, inputs / "pngs" / "digit0.png")
        assert r.returncode == 0, r.stderr
        scores[scorer] = float(r.stdout.splitlines()[1].split(",")[2])
    assert scores["latent-search"] < scores["fanogan"]  # the search starts at E(x), improves
    from ganmc.preprocess import load_image

    digit = load_image(inputs / "pngs" / "digit0.png")[None]
    for scorer in ("mahalanobis", "discriminator"):  # the CLI prints the package's score
        assert scores[scorer] == pytest.approx(det.score_samples(digit, scorer=scorer)[0],
                                               rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("args,message", [
    (["score", "MISSING.png"], "no such file"),
    (["score", "{d}/notes.png"], "not an image"),
    (["score", "{d}/nox.npz"], "no array named 'x'"),
    (["score", "--model", "{d}", "{d}/normal.npz"], "not a ganmc model folder"),
    (["info", "--model", "{d}/nowhere"], "no such model folder"),
    (["train", "--digits", "12", "--out", "{d}/x"], "outside 0-9"),
    (["simulate", "--model", "{d}", "--samples", "10"], "not a ganmc model folder"),
])
def test_bad_input_is_one_clear_line(args, message, inputs):
    np.savez(inputs / "nox.npz", images=np.zeros((2, 28, 28)))
    r = ganmc(*[a.format(d=inputs) for a in args])
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_out_file_is_not_half_written(tiny_model, inputs, tmp_path):
    _, model = tiny_model
    out = tmp_path / "scores.csv"
    out.write_text("previous results\n")
    r = ganmc("score", "--model", model, inputs / "normal.npz", inputs / "notes.png",
              "--out", out, "--strict")
    assert r.returncode == 2
    assert out.read_text() == "previous results\n"


def test_a_bad_file_in_a_batch_costs_only_itself(tiny_model, inputs, tmp_path, mnist):
    """score, evaluate and report judge every readable image, list each refused file with
    its reason (stderr, --errors CSV) and exit 2 because something was refused."""
    from PIL import Image

    _, model = tiny_model
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(2):
        digit_png(folder / f"digit{i}.png", mnist.x_test[i])
    Image.new("L", (40, 40), 255).save(folder / "blank.png")
    (folder / "notanimage.png").write_text("hello")
    r = ganmc("score", "--model", model, folder, "--out", tmp_path / "s.csv",
              "--errors", tmp_path / "errors.csv")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert len(rows) == 3 and all("digit" in row for row in rows[1:])
    skipped = [line for line in r.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 2 and any("blank.png" in s for s in skipped)
    errors = (tmp_path / "errors.csv").read_text().splitlines()
    assert errors[0] == "source,reason" and len(errors) == 3
    r = ganmc("evaluate", "--model", model, "--normal", folder, "--anomalous",
              inputs / "noise.npz")
    assert r.returncode == 2 and "AUROC" in r.stdout and "notanimage.png" in r.stderr
    r = ganmc("report", "--model", model, "--samples", "0", folder, "--out",
              tmp_path / "r.png")
    assert r.returncode == 2 and (tmp_path / "r.png").is_file()
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 2 + 2
