"""``ganmc export`` and the folder it writes: judged in a fresh process that never imports
TensorFlow (nor ganmc), its verdicts are the package's; bad input is refused with one line
and nothing is lost."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganmc.images.preprocess import BLANK
from ganmc.thresholds.decision import Choice, decide
from tests.conftest import digit_png

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "GANMC_OFFLINE": "1"}
#: A process without the repository on its path: it can import only what the folder holds.
BARE_ENV = {k: v for k, v in ENV.items() if k != "PYTHONPATH"}


def require(*modules: str) -> None:
    """Skip where an export tool is not installed (``pip install -e ".[export]"``); in CI,
    which installs it with the dev extra, fail instead."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (pip install -e \".[export]\")"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def ganmc(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "ganmc.cli", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=timeout)


#: Judges an npz of images with an export folder's own predict.py, in a process that has
#: imported neither TensorFlow nor ganmc (checked at the end), and saves the verdicts.
CHILD = """
import sys
import numpy as np
folder, images, out = sys.argv[1:4]
sys.path.insert(0, folder)
import predict
export = predict.Export(folder)
v = export.judge(np.load(images)["x"])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "ganmc", "keras"))
assert not loaded, loaded
np.savez(out, score=v.score, p_value=v.p_value, threshold=v.threshold, digit=v.digit,
         anomaly=v.anomaly, notes=np.array(export.notes, dtype=str),
         predict_file=np.array(predict.__file__))
"""


def judge_in_fresh_process(folder: Path, x: np.ndarray, tmp_path: Path) -> dict:
    np.savez(tmp_path / "images.npz", x=x)
    r = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(tmp_path / "images.npz"),
                        str(tmp_path / "verdicts.npz")], capture_output=True, text=True,
                       env=BARE_ENV, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "verdicts.npz") as v:
        out = {k: v[k] for k in v.files}
    assert Path(str(out["predict_file"])).resolve() == (folder / "predict.py").resolve()
    return out


def judged_images(mnist) -> np.ndarray:
    """2,000 test digits (the bundled split of ganmc.images.data) and 100 uniform noise images."""
    noise = np.random.default_rng(7).integers(0, 256, (100, 28, 28)).astype(np.uint8)
    return np.concatenate([mnist.x_test[:2000], noise])


def assert_same_verdicts(ours: dict, model: Path, x: np.ndarray, scorer: str | None = None
                         ) -> None:
    """The runtime's verdicts against the package's, with the model's own score (or
    ``scorer``) and threshold (what ``ganmc export`` exports by default): the same verdicts
    and digits, scores within 1e-4 (relative), p-values within one rank of the held-out
    scores each is counted among."""
    from ganmc.app import service

    det = service.load_model(model)
    decision = decide(det, Choice(scorer or det.scorer, det.calibration))
    theirs = service.score(det, x, decision)
    label = np.array([v.is_anomaly for v in theirs])
    digit = np.array([-1 if v.digit is None else v.digit for v in theirs])
    assert 0 < label.sum() < len(label)  # both verdicts occur: the comparison means something
    np.testing.assert_array_equal(ours["anomaly"], label)
    np.testing.assert_array_equal(ours["digit"], digit)
    # relative to the score, or to the held-out scores' spread for a score near 0 (a
    # standardised distance crosses 0; float32 rounding there is a few 1e-6 of the spread)
    spread = float(np.std(det.holdout_scores_[decision.scorer]))
    np.testing.assert_allclose(ours["score"], [v.score for v in theirs], rtol=1e-4,
                               atol=1e-4 * spread)
    np.testing.assert_allclose(ours["threshold"], [v.threshold for v in theirs], rtol=1e-12)
    t = decision.threshold
    n = np.array([t.groups[d].n if t.per_digit and d in t.by_digit(tuple(t.groups))
                  and d not in t.fallbacks(tuple(t.groups)) else t.distribution.n
                  for d in digit])
    rank_gap = np.abs(ours["p_value"] - np.array([v.p_value for v in theirs])) * (n + 1)
    assert rank_gap.max() <= 1.0 + 1e-9


def assert_same_rows(ours: str, theirs: str, folder: Path) -> list[dict]:
    """predict.py's CSV rows against ganmc score's: the same columns, sources, digits or
    classes, thresholds, verdicts, reasons and fdr verdicts; scores within 1e-4 (relative:
    the graph is float32) and p-values within one rank of the held-out scores they count."""
    from ganmc.deploy import predict

    ours_rows = list(csv.DictReader(io.StringIO(ours)))
    theirs_rows = list(csv.DictReader(io.StringIO(theirs)))
    assert len(ours_rows) == len(theirs_rows) > 0
    export = predict.Export(folder)
    fewest = min([len(export.holdout), *(len(g) for g in export.groups.values())])
    for a, b in zip(ours_rows, theirs_rows):
        assert list(a) == list(b)
        exact = [k for k in a if k not in ("score", "p_value")]
        assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
        assert float(a["score"]) == pytest.approx(float(b["score"]), rel=1e-4, abs=1e-6)
        assert abs(float(a["p_value"]) - float(b["p_value"])) <= 1 / (fewest + 1) + 1e-6
    return ours_rows


@pytest.fixture(scope="module")
def digit_onnx(digit_model, tmp_path_factory):
    """The digits-1-and-7 model (combined score, per-digit thresholds) exported as ONNX."""
    require("tf2onnx", "onnxruntime")
    out = tmp_path_factory.mktemp("exports") / "d17-onnx"
    r = ganmc("export", "--model", digit_model[1], "--format", "onnx", "--out", out)
    assert r.returncode == 0, r.stderr
    assert f"Wrote {out}: exported the combined score as onnx" in r.stdout
    return out


@pytest.mark.slow
def test_an_onnx_export_judges_like_the_package_without_tensorflow(digit_onnx, digit_model,
                                                                   mnist, tmp_path):
    x = judged_images(mnist)
    ours = judge_in_fresh_process(digit_onnx, x, tmp_path)
    assert_same_verdicts(ours, digit_model[1], x)
    assert ours["anomaly"][-100:].all()  # the noise
    m = json.loads((digit_onnx / "export.json").read_text())
    assert m["score"] == "combined" and m["threshold"]["source"] == "per-digit"
    assert set(m["threshold"]["by_digit"]) == {"1", "7"}
    # a model of several digits has the shape network: its two main views and two guards
    assert m["graph"]["columns"] == ["shape", "shape-distance", "discriminator", "tones",
                                     "digit"]
    assert m["graph"]["opset"] == 18 and m["framing"] == "digits" and m["classes"] is None
    assert m["check"]["verdicts_differ"] == [] and m["check"]["images"] == 250
    assert "bundled test digits" in m["check"]["what"]
    assert sorted(p.name for p in digit_onnx.iterdir()) == [
        "README.md", "export.json", "model-card.json", "model.onnx", "predict.py",
        "references.npz"]
    assert json.loads((digit_onnx / "model-card.json").read_text()) == json.loads(
        (digit_model[1] / "ganmc.json").read_text())
    assert ((digit_onnx / "predict.py").read_bytes()
            == (ROOT / "ganmc/deploy/predict.py").read_bytes())
    readme = (digit_onnx / "README.md").read_text()
    assert "pip install numpy pillow onnxruntime" in readme and "python predict.py" in readme
    assert "source,index,score,p_value,threshold,digit,verdict,reason" in readme
    assert "No drift alarm" in readme and "normal digits 1, 7" in readme
    assert "padded with black" not in readme and "the colour of its edge" not in readme
    assert "centred by its centre of mass" in readme

def test_an_export_of_a_score_with_one_threshold_judges_like_the_package(tiny_model, mnist,
                                                                          tmp_path):
    """The tiny model of all ten digits without labels: fanogan (encoder, generator and
    discriminator in one graph), one pooled threshold, no digits."""
    require("tf2onnx", "onnxruntime")
    from ganmc.app import service

    det = service.load_model(tiny_model[1])
    decision = decide(det, Choice(det.scorer, det.calibration))
    assert decision.scorer == "fanogan" and decision.threshold.source == "holdout"
    done = service.export_model(det, decision, "onnx", tmp_path / "tiny-onnx")
    assert done.manifest["graph"]["columns"] == ["fanogan"]
    assert done.manifest["threshold"]["by_digit"] == {}
    x = judged_images(mnist)
    ours = judge_in_fresh_process(done.folder, x, tmp_path)
    assert (ours["digit"] == -1).all()
    assert_same_verdicts(ours, tiny_model[1], x)


@pytest.fixture(scope="module")
def one_digit_model(tmp_path_factory):
    """A small model of the digit 3 (mlp, 96 steps): its score is mahalanobis-strokes."""
    from ganmc.app import service

    path = tmp_path_factory.mktemp("models") / "d3"
    service.train(path, data="bundled", digits=(3,), arch="mlp", steps=96, batch_size=64,
                  mc_samples=0)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("scorer", ["mahalanobis-strokes", "combined"])
def test_a_model_of_one_digit_exports_its_scores(one_digit_model, scorer, mnist, tmp_path):
    """The stroke-corrected Gaussian (the score of a model of one digit), alone and as the
    combined score's main view."""
    require("tf2onnx", "onnxruntime")
    r = ganmc("export", "--model", one_digit_model, "--format", "onnx", "--scorer", scorer,
              "--out", tmp_path / "d3")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "d3" / "export.json").read_text())
    assert m["graph"]["columns"][0] == "mahalanobis-strokes"
    assert m["score"] == scorer and m["threshold"]["source"] == "holdout"
    x = judged_images(mnist)
    ours = judge_in_fresh_process(tmp_path / "d3", x, tmp_path)
    assert_same_verdicts(ours, one_digit_model, x, scorer)


@pytest.mark.slow
def test_a_tflite_export_judges_like_the_package_with_litert(digit_model, mnist, tmp_path):
    require("ai_edge_litert")
    r = ganmc("export", "--model", digit_model[1], "--format", "tflite", "--out",
              tmp_path / "d17-tflite")
    assert r.returncode == 0, r.stderr
    x = judged_images(mnist)
    ours = judge_in_fresh_process(tmp_path / "d17-tflite", x, tmp_path)
    assert list(ours["notes"]) == []  # ai-edge-litert ran it, not TensorFlow
    assert_same_verdicts(ours, digit_model[1], x)


@pytest.mark.slow
def test_a_savedmodel_export_judges_like_the_package(digit_model, mnist, tmp_path):
    """A SavedModel needs TensorFlow to run: judged here, in this process."""
    from ganmc.app import service
    from ganmc.deploy import predict

    det = service.load_model(digit_model[1])
    decision = decide(det, Choice())
    done = service.export_model(det, decision, "savedmodel", tmp_path / "d17-saved")
    assert (done.folder / "savedmodel" / "saved_model.pb").is_file()
    x = judged_images(mnist)
    v = predict.Export(done.folder).judge(x)
    assert_same_verdicts({"score": v.score, "p_value": v.p_value, "threshold": v.threshold,
                          "digit": v.digit, "anomaly": v.anomaly}, digit_model[1], x)
    assert "needs TensorFlow" in (done.folder / "README.md").read_text()


@pytest.mark.slow
def test_predict_py_writes_the_rows_ganmc_score_writes(digit_onnx, digit_model, mnist,
                                                     tmp_path):
    """``python predict.py IMAGES...`` from the folder: pictures read and framed as ganmc
    reads them, the same CSV rows as ``ganmc score`` (reason included; with ``--fdr`` the
    batch's fdr_verdict too); a bad file, or a picture that holds no digit, costs only
    itself, with the line ganmc says."""
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(4):
        digit_png(pics / f"digit{i}.png", mnist.x_test[i])
    shutil.copy(ROOT / "assets/examples/letter-A.png", pics)
    shutil.copy(ROOT / "assets/examples/photo.jpg", pics)
    (pics / "notes.png").write_text("not an image")
    dot = np.full((60, 60), 255, np.uint8)
    dot[30, 30] = 0  # one dark pixel: no digit (MIN_INK)
    Image.fromarray(dot).save(pics / "dot.png")
    lines = {}
    for fdr in ([], ["--fdr", "0.2"]):
        ours = subprocess.run([sys.executable, str(digit_onnx / "predict.py"), *fdr, str(pics)],
                              capture_output=True, text=True, env=BARE_ENV, cwd=tmp_path)
        lines[bool(fdr)] = ours.stdout.splitlines()
        theirs = ganmc("score", "--model", digit_model[1], *fdr, pics)
        assert ours.returncode == theirs.returncode == 2
        assert_same_rows(ours.stdout, theirs.stdout, digit_onnx)
        header = ours.stdout.splitlines()[0].split(",")
        assert header == ["source", "index", "score", "p_value", "threshold", "digit",
                          "verdict", "reason"] + (["fdr_verdict"] if fdr else [])
        assert len(ours.stdout.splitlines()) == 1 + 6
        assert "the shape network" in ours.stdout  # the letter's reason
        skipped = [line for line in ours.stderr.splitlines() if "skipped" in line]
        assert skipped == [line.replace("ganmc score", "predict.py")
                           for line in theirs.stderr.splitlines() if "skipped" in line]
        assert [line.split(": ", 2)[2] for line in skipped] == [
            f"{pics / 'dot.png'}: {BLANK}",
            f"{pics / 'notes.png'}: not an image file Pillow can read"]
    good = subprocess.run([sys.executable, "-m", "ganmc.deploy.predict", "--export",
                           str(digit_onnx), str(pics / "digit0.png")],
                          capture_output=True, text=True, env=ENV)
    assert good.returncode == 0 and good.stdout.splitlines()[1] == lines[False][1]


@pytest.mark.slow
def test_an_array_without_a_digit_is_refused_by_the_runtime_as_by_ganmc(digit_onnx,
                                                                       digit_model, mnist):
    """Blank images, a dot and one faint pixel are not judged (issue 34): the runtime
    refuses the batch naming them, as the package does."""
    from ganmc.app import service
    from ganmc.core.errors import ImageError
    from ganmc.deploy import predict

    x = mnist.x_test[:6].copy()
    x[1] = 0
    x[3] = 0
    x[3, 5, 5] = 255
    with pytest.raises(predict.ImageError, match=r"2 of 6 images hold no digit .*image 1, 3"):
        predict.Export(digit_onnx).judge(x)
    with pytest.raises(ImageError, match=r"2 of 6 images hold no digit .*image 1, 3"):
        service.load_model(digit_model[1]).verdicts(x)


# ---------------------------------------------------------------------------- bad input
def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
def test_bad_input_is_one_line_and_loses_nothing(digit_onnx, digit_model, tmp_path, capsys):
    """Each refusal is one line and touches nothing. Two cases run as a user runs them, in a
    fresh process (so nothing TensorFlow writes to the terminal can hide there); the rest
    call the same entry point in this process (a process each took 9 s)."""
    require("tf2onnx", "onnxruntime")
    from ganmc import cli

    def in_process(*args):
        try:
            code = cli.main([*map(str, args)])
        except SystemExit as exc:
            code = exc.code
        return subprocess.CompletedProcess(args, code, "", capsys.readouterr().err)

    model = digit_model[1]
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "ganmc.json").write_text("{not json")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    afile = tmp_path / "afile"
    afile.write_text("mine too")
    export = tmp_path / "export"
    shutil.copytree(digit_onnx, export)
    link = tmp_path / "link"
    link.symlink_to(export)
    before = {p: _listing(p) for p in (other, export)}
    cases = [
        (["--model", model, "--format", "pt", "--out", tmp_path / "new"],
         "unknown format 'pt'; choose onnx, savedmodel or tflite"),
        (["--model", broken, "--format", "onnx", "--out", tmp_path / "new"],
         "unreadable model card"),
        (["--model", tmp_path / "nowhere", "--format", "onnx", "--out", tmp_path / "new"],
         "no such model folder"),
        (["--model", model, "--format", "onnx", "--out", export],
         "an export is there already; replace it with --replace"),
        (["--model", model, "--format", "onnx", "--out", other, "--replace"],
         "a folder that is not a ganmc export is there"),
        (["--model", model, "--format", "onnx", "--out", afile, "--replace"],
         "something that is not a folder is there"),
        (["--model", model, "--format", "onnx", "--out", link, "--replace"], "is a link"),
        (["--model", model, "--format", "onnx", "--out", tmp_path / ".hidden"],
         "may not start with '.'"),
        (["--model", model, "--format", "onnx", "--out", tmp_path / "new", "--scorer",
          "latent-search"], "the latent-search score cannot be exported"),
        (["--model", model, "--format", "onnx", "--out", tmp_path / "new", "--calibration",
          "monte-carlo"], "a Monte Carlo threshold is not exported"),
    ]
    capsys.readouterr()
    for i, (args, message) in enumerate(cases):
        r = (ganmc if i in (0, 3) else in_process)("export", *args)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert r.returncode == 2 and len(lines) == 1, (args, r.stderr)
        assert lines[0].startswith("ganmc export: error: ") and message in lines[0], lines
    assert {p: _listing(p) for p in (other, export)} == before
    assert afile.read_text() == "mine too" and link.is_symlink()
    assert not (tmp_path / "new").exists()
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old" in p.name]


@pytest.mark.slow
def test_replace_replaces_an_earlier_export_only(digit_onnx, digit_model, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(digit_onnx, export)
    r = ganmc("export", "--model", digit_model[1], "--format", "savedmodel", "--out", export,
              "--replace", "--percentile", "99")
    assert r.returncode == 0, r.stderr
    m = json.loads((export / "export.json").read_text())
    assert m["graph"]["format"] == "savedmodel" and m["threshold"]["alpha"] == pytest.approx(0.01)
    assert not (export / "model.onnx").exists() and (export / "savedmodel").is_dir()


def test_an_export_that_disagrees_with_the_package_is_not_written(digit_model, tmp_path,
                                                                  monkeypatch):
    """The check before the folder is put in place: a graph whose scores are off by 0.1 %
    is refused, and nothing is left behind."""
    require("tf2onnx", "onnxruntime")
    from ganmc.app import service
    from ganmc.core.errors import ModelError
    from ganmc.deploy import export

    real = export.graph_function

    def off(det, scorer, columns):
        graph = real(det, scorer, columns)
        import tensorflow as tf

        @tf.function(input_signature=graph.input_signature, autograph=False)
        def skewed(images):
            return graph(images) * 1.001

        return skewed

    monkeypatch.setattr(export, "graph_function", off)
    det = service.load_model(digit_model[1])
    with pytest.raises(ModelError, match="does not give the package's verdicts"):
        service.export_model(det, decide(det, Choice()), "onnx",
                             tmp_path / "out")
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", ".swap"))] == []


# ---------------------------------------------------------------------------- framing
@pytest.mark.slow
def test_the_framing_comes_from_the_model_card(digit_model, digit_onnx, tmp_path):
    """A card without a framing means like digits (the test above); a card's framing goes
    into the export's card and decides how predict.py frames a picture; one the runtime does
    not know is refused."""
    require("tf2onnx", "onnxruntime")
    from ganmc.app import service
    from ganmc.core.errors import ModelError
    from ganmc.deploy import predict

    model = tmp_path / "whole17"
    shutil.copytree(digit_model[1], model)
    card = json.loads((model / "ganmc.json").read_text())
    (model / "ganmc.json").write_text(json.dumps({**card, "framing": "whole"}))
    det = service.load_model(model)
    done = service.export_model(det, decide(det, Choice()), "onnx",
                                tmp_path / "whole-onnx")
    assert done.manifest["framing"] == "whole"
    pic = tmp_path / "wide.png"
    digit_png(pic, np.pad(np.full((10, 30), 255, np.uint8), 3), scale=3)
    whole = predict.Export(done.folder).read(pic)
    np.testing.assert_array_equal(whole, predict.to_whole(predict.open_picture(pic).image))
    like_digits = predict.Export(digit_onnx).read(pic)
    from ganmc.images.preprocess import load_image

    np.testing.assert_array_equal(like_digits, load_image(pic))
    assert not np.array_equal(whole, like_digits)

    # a framing neither ganmc nor the runtime knows: the card is refused as it loads
    (model / "ganmc.json").write_text(json.dumps({**card, "framing": "sideways"}))
    with pytest.raises(ModelError, match="framing must be one of digits, whole, not sideways"):
        service.load_model(model)


# ---------------------------------------------------------------------------- own pictures
def phone_pictures(folder: Path, mnist) -> Path:
    """Pictures as a phone or a scanner gives them: 130 x 84, dark on light, the drawing
    off the middle (so the whole framing fills a margin, box-averaging first); 7s (a normal
    class of ``own_model``), 3s (its anomalies), one with a new line in its name, a photograph
    and a picture of noise."""
    folder.mkdir()
    for digit, tag in ((7, "s"), (3, "a")):
        for i, img in enumerate(mnist.x_test[mnist.y_test == digit][:8]):
            canvas = np.full((84, 130), 255, np.uint8)
            canvas[:, 20:104] = 255 - np.kron(img, np.ones((3, 3), np.uint8))
            Image.fromarray(canvas).save(folder / f"{tag}{i:02d}.png")
    shutil.copy(folder / "a00.png", folder / "odd\nname.png")
    shutil.copy(ROOT / "assets/examples/photo.jpg", folder)
    noise = np.random.default_rng(2).integers(0, 256, (60, 100)).astype(np.uint8)
    Image.fromarray(noise).save(folder / "noise.png")
    return folder


@pytest.fixture(scope="module")
def own_onnx(own_model, tmp_path_factory):
    """The model of named classes in the whole framing (``own_model``) exported as ONNX."""
    require("tf2onnx", "onnxruntime")
    out = tmp_path_factory.mktemp("exports") / "own-onnx"
    r = ganmc("export", "--model", own_model[1], "--format", "onnx", "--out", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_an_export_of_own_pictures_judges_them_as_ganmc_score_does(own_model, own_onnx,
                                                                   mnist, tmp_path):
    """A model of named classes in the whole framing: predict.py frames new pictures as
    ganmc does (the margin the edge's grey) and writes ganmc score's rows, the class's name
    in the ``class`` column; the export was checked on the model's own kept pictures."""
    det, model, _ = own_model
    pics = phone_pictures(tmp_path / "new", mnist)
    for fdr in ([], ["--fdr", "0.1"]):
        ours = subprocess.run([sys.executable, str(own_onnx / "predict.py"), *fdr, str(pics)],
                              capture_output=True, text=True, env=BARE_ENV, cwd=tmp_path)
        theirs = ganmc("score", "--model", model, *fdr, pics)
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        rows = assert_same_rows(ours.stdout, theirs.stdout, own_onnx)
    assert list(rows[0]) == ["source", "index", "score", "p_value", "threshold", "class",
                             "verdict", "reason", "fdr_verdict"]
    assert {r["class"] for r in rows} <= {"ones", "sevens"} and len(rows) == 19
    assert {r["verdict"] for r in rows} == {"anomaly", "normal"}
    assert str(pics / "odd\\nname.png") in {r["source"] for r in rows}
    m = json.loads((own_onnx / "export.json").read_text())
    assert m["framing"] == "whole" and m["classes"] == ["ones", "sevens"]
    normal, anomalies = len(det.examples_["normal"]), len(det.examples_["anomaly"])
    assert m["check"]["images"] == normal + anomalies + 50
    assert m["check"]["verdicts_differ"] == []
    assert m["check"]["what"].startswith(f"{normal} of the model's own held-out normal "
                                         f"pictures mirrored, {anomalies} of its anomaly")
    readme = (own_onnx / "README.md").read_text()
    assert "normal classes ones, sevens" in readme and "| class | threshold |" in readme
    assert "source,index,score,p_value,threshold,class,verdict,reason" in readme
    assert "the colour of its edge" in readme and "padded with black" not in readme
    assert "of the model's own held-out normal pictures mirrored" in readme


@pytest.mark.slow
def test_a_pac_threshold_is_exported_with_its_confidence(own_model, mnist, tmp_path):
    """``--calibration pac``: the export's card keeps its delta and rank, its README says
    the promise (not a percentile), and predict.py judges by it as ganmc score does."""
    require("tf2onnx", "onnxruntime")
    from ganmc.thresholds.distribution import Level
    from ganmc.thresholds.ranks import pac_rank

    model = own_model[1]
    r = ganmc("export", "--model", model, "--format", "onnx", "--calibration", "pac",
              "--out", tmp_path / "pac")
    assert r.returncode == 0, r.stderr
    assert "with 90 % confidence (PAC)" in r.stdout
    t = json.loads((tmp_path / "pac" / "export.json").read_text())["threshold"]
    assert t["source"] == "pac" and t["delta"] == pytest.approx(0.1)
    assert t["rank"] == pac_rank(t["n"], Level(t["alpha"]), 0.1) < t["n"]
    readme = (tmp_path / "pac" / "README.md").read_text()
    assert ("with probability at least 90 % over the draw of its held-out normal images, at "
            "most 5 % of new normal images are flagged") in " ".join(readme.split())
    assert f"rank {t['rank']:,} of {t['n']:,}" in readme and "percentile" not in readme
    pics = phone_pictures(tmp_path / "new", mnist)
    ours = subprocess.run([sys.executable, str(tmp_path / "pac" / "predict.py"), str(pics)],
                          capture_output=True, text=True, env=BARE_ENV, cwd=tmp_path)
    theirs = ganmc("score", "--model", model, "--calibration", "pac", pics)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert_same_rows(ours.stdout, theirs.stdout, tmp_path / "pac")


# ---------------------------------------------------------------------------- shipped model
@pytest.mark.slow
def test_the_shipped_model_exported_judges_like_the_package_without_tensorflow(mnist, tmp_path):
    """The shipped model's own verdict score (combined, per-digit thresholds at 5 %), as the
    issue measured it: 2,000 test digits and 100 noise images in a fresh process."""
    require("tf2onnx", "onnxruntime")
    model = tmp_path / "model"
    shutil.copytree(ROOT / "assets/model", model)
    r = ganmc("export", "--model", model, "--format", "onnx", "--out", tmp_path / "shipped")
    assert r.returncode == 0, r.stderr
    x = judged_images(mnist)
    ours = judge_in_fresh_process(tmp_path / "shipped", x, tmp_path)
    assert_same_verdicts(ours, model, x)
    assert ours["anomaly"][-100:].all()
