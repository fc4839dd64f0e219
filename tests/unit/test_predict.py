"""ganmc.deploy.predict, the export folder's runtime: it imports no TensorFlow, its copies of
ganmc's code are ganmc's own, its verdict rule and p-values are ganmc's, its framings, and
the one-line refusals of a bad export folder. (Exports of real models:
tests/integration/test_export.py.)"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ganmc.app import service
from ganmc.core import config, errors, files
from ganmc.core.naming import Names
from ganmc.deploy import predict
from ganmc.deploy.export import _threshold_entry
from ganmc.images import preprocess
from ganmc.scores import combined
from ganmc.scores.combined import Combination
from ganmc.thresholds import calibration, guarantees, verdict
from ganmc.thresholds.distribution import Level


def test_the_runtime_imports_no_tensorflow():
    code = ("import sys, ganmc.deploy.predict, ganmc.deploy.export, ganmc.cli\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


#: Each copy in ganmc/deploy/predict.py and the ganmc function it copies.
COPIES = [
    (files, "regular_size"), (preprocess, "Picture"), (preprocess, "open_picture"),
    (preprocess, "_shrunk"), (preprocess, "_spread"), (preprocess, "to_mnist"),
    (preprocess, "no_digit"), (preprocess, "_to_gray"), (preprocess, "_fit_and_centre"),
    (preprocess, "to_whole"),
    (preprocess, "to_model_input"), (combined, "shares"), (combined, "rank"),
    (combined, "_guard"), (calibration, "above"), (guarantees, "benjamini_hochberg"),
    (guarantees, "_check_rate"), (errors, "shown"), (errors, "_cut"), (errors, "one_line"),
]


@pytest.mark.parametrize("module,name", COPIES, ids=[n for _, n in COPIES])
def test_each_copy_is_ganmcs_own_code(module, name):
    """predict.py carries copies so that it runs without ganmc; a change to the original
    must be made to the copy too, or this fails."""
    assert inspect.getsource(getattr(predict, name)) == inspect.getsource(getattr(module, name))


def test_the_copied_constants_are_ganmcs():
    for name in ("MAX_PIXELS", "MAX_FILE_BYTES", "_WORK_SIDE", "MIN_CONTRAST", "MIN_INK",
                 "BLANK", "_INK_LEVEL", "IMAGE_SUFFIXES", "_REDUCIBLE"):
        assert getattr(predict, name) == getattr(preprocess, name), name
    assert predict.PIXELS == combined.PIXELS
    assert predict.GUARDS == combined.GUARDS and predict.COUNTED == combined.COUNTED
    assert predict.VIEW_WORDS == combined.VIEW_WORDS
    assert predict.FRAMING_WORDS == config.FRAMING_ABOUT


sorted_values = st.lists(st.floats(-50, 50), min_size=1, max_size=40).map(
    lambda v: np.sort(np.array(v)))
values = st.lists(st.floats(-60, 60), min_size=1, max_size=40).map(np.array)


@settings(max_examples=200, deadline=None)
@given(main=sorted_values, disc=sorted_values, grey=sorted_values, data=st.data(),
       shape=st.booleans())
def test_the_combined_score_is_ganmcs(main, disc, grey, data, shape):
    """With the older one main view and grey guard, and with the shape network's two main
    views and tones guard."""
    n = data.draw(st.integers(1, 30))
    mains, guards = ((("shape", "shape-distance"), ("discriminator", "tones")) if shape
                     else (("mahalanobis",), combined.GUARDS))
    refs = dict(zip((*mains, *guards), (main, grey, disc, grey)))
    views = {k: np.array(data.draw(st.lists(st.floats(-60, 60), min_size=n, max_size=n)))
             for k in refs}
    combination = Combination.fit(mains, refs, guards)
    ours = predict.combined_score(mains, guards, refs, views)
    np.testing.assert_array_equal(ours, combination.score(views))
    ranks = predict.combined_ranks(mains, guards, combination.references, views)
    assert predict.deciding(ranks) == combination.deciding(views)  # the reason's view


@settings(max_examples=200, deadline=None)
@given(holdout=st.lists(st.floats(-5, 5), min_size=1, max_size=60),
       digits_seed=st.integers(0, 2**32 - 1), scores=values,
       alpha=st.sampled_from([0.01, 0.05, 0.1, 0.3]))
def test_verdicts_and_p_values_are_ganmcs_per_digit_and_pooled(holdout, digits_seed, scores,
                                                             alpha):
    """The runtime's rule (predict.decide) against calibration.choose's thresholds: the same
    verdicts, thresholds and p-values, per digit (digits with too few held-out images use
    the pooled threshold and scores) and pooled."""
    from ganmc.deploy.export import _threshold_entry

    rng = np.random.default_rng(digits_seed)
    holdout = np.array(holdout)
    order = np.argsort(holdout, kind="stable")
    holdout_digits = rng.integers(0, 4, len(holdout))[order]
    holdout = holdout[order]
    digits = rng.integers(-1, 5, len(scores))  # -1: none; 4: a digit with no held-out image
    for source in ("per-digit", "holdout"):
        t = calibration.choose(source, Level(alpha), holdout=holdout,
                               holdout_digits=holdout_digits)
        entry = _threshold_entry(t)
        by_digit = {int(d): predict._threshold_value(v) for d, v in entry["by_digit"].items()}
        groups = {d: holdout[holdout_digits == d] for d in by_digit}
        pooled = predict._threshold_value(entry["pooled"])
        ours = predict.decide(scores, digits, pooled, by_digit, holdout, groups)
        given_digits = digits if t.per_digit else None
        np.testing.assert_array_equal(ours.anomaly, t.flags(scores, given_digits))
        np.testing.assert_array_equal(ours.threshold, t.values(given_digits, len(scores)))
        np.testing.assert_allclose(ours.p_value, t.p_values(scores, given_digits), rtol=1e-12)


def test_the_whole_image_framing_is_ganmcs_and_fills_with_the_edge(tmp_path):
    """Pictures as a phone or a scanner gives them: wider than high, dark on light, large
    enough to be box-averaged first: framed as ganmc frames them, the margin the edge's
    grey (not black), nothing inverted."""
    rng = np.random.default_rng(3)
    for i, (h, w) in enumerate([(84, 130), (300, 170), (40, 80), (28, 28)]):
        pic = np.full((h, w), 230, np.uint8)
        pic[h // 4:3 * h // 4, w // 3:2 * w // 3] = 20
        pic = np.clip(pic.astype(int) + rng.integers(-10, 10, pic.shape), 0, 255)
        Image.fromarray(pic.astype(np.uint8)).save(tmp_path / f"p{i}.png")
        ours = predict.to_whole(predict.open_picture(tmp_path / f"p{i}.png").image)
        np.testing.assert_array_equal(
            ours, preprocess.load_image(tmp_path / f"p{i}.png", framing="whole"))
        if (h, w) == (84, 130):  # 28 x 18 of picture, 5 rows of margin above it
            assert abs(int(ours[:4].mean()) - 230) <= 10 and ours[14, 14] < 60
    assert predict.FRAMINGS["digits"] is predict.to_mnist
    assert predict.FRAMINGS["whole"] is predict.to_whole


def test_rows_are_the_rows_ganmc_score_writes_for_digits_and_named_classes():
    """Verdicts.rows against service.score_rows over the same verdicts: the class's name in
    a ``class`` column for a model of named classes, the reason for an anomaly only, and
    ``fdr_verdict`` with Benjamini-Hochberg's flags."""
    rng = np.random.default_rng(5)
    holdout = np.sort(rng.normal(size=60))
    holdout_digits = rng.integers(0, 2, 60)
    scores = np.concatenate([rng.normal(size=6), [5.0, 7.0]])
    digits = rng.integers(0, 2, len(scores))
    reasons = [combined.VIEW_WORDS[v] for v in rng.choice(list(combined.VIEW_WORDS), 8)]
    t = calibration.choose("per-digit", Level(0.1), holdout=holdout,
                           holdout_digits=holdout_digits)
    entry = _threshold_entry(t)
    by_digit = {int(d): predict._threshold_value(v) for d, v in entry["by_digit"].items()}
    groups = {d: holdout[holdout_digits == d] for d in by_digit}
    sources = [f"pic{i}.png" for i in range(len(scores))]
    for classes in (None, ("sevens", "ones")):
        names = Names(classes)
        theirs = verdict.judge(scores, t, digits, reasons, names)
        ours = predict.decide(scores, digits, predict._threshold_value(entry["pooled"]),
                              by_digit, holdout, groups)
        ours = replace(ours, reason=tuple(reasons), classes=classes)
        flags = guarantees.benjamini_hochberg(predict.p_values(holdout, scores), 0.1)
        fdr = guarantees.batch_fdr(predict.p_values(holdout, scores), 0.1,
                                   np.array([v.is_anomaly for v in theirs]), 0.1)
        want = service.score_rows(sources, [0] * 8, theirs, fdr, names)
        assert ours.rows(sources, [0] * 8, flags) == want
        assert ours.rows(sources, [0] * 8) == service.score_rows(sources, [0] * 8, theirs,
                                                                 None, names)
        assert any(r["reason"] for r in want) and any(not r["reason"] for r in want)
        assert ("class" in want[0]) == (classes is not None)


def test_like_digits_is_ganmcs_framing_of_a_picture(tmp_path):
    rng = np.random.default_rng(1)
    pic = np.zeros((90, 60), np.uint8)
    pic[20:70, 25:35] = 255
    pic = np.clip(pic.astype(int) + rng.integers(0, 30, pic.shape), 0, 255).astype(np.uint8)
    Image.fromarray(255 - pic).save(tmp_path / "p.png")
    ours = predict.to_mnist(predict.open_picture(tmp_path / "p.png").image)
    np.testing.assert_array_equal(ours, preprocess.load_image(tmp_path / "p.png"))


# ---------------------------------------------------------------------------- bad folders
def _folder(tmp_path, manifest=None, refs=None, graph=True):
    d = tmp_path / "exp"
    d.mkdir(exist_ok=True)
    m = {"format": predict.FORMAT, "format_version": 1, "score": "fanogan", "combined": None,
         "framing": "digits", "threshold": {"source": "holdout", "pooled": 1.0, "by_digit": {}},
         "graph": {"format": "onnx", "file": "model.onnx", "input": "images",
                   "columns": ["fanogan"]}}
    m.update(manifest or {})
    (d / predict.MANIFEST).write_text(json.dumps(m))
    np.savez(d / predict.REFERENCES, **(refs if refs is not None
                                        else {"holdout_scores": np.arange(5.0)}))
    if graph:
        (d / "model.onnx").write_bytes(b"not an onnx graph")
    return d


@pytest.mark.parametrize("change,message", [
    (lambda d: (d / predict.MANIFEST).unlink(), "not a ganmc export folder (no export.json)"),
    (lambda d: (d / predict.MANIFEST).write_text("{oops"), "export.json: unreadable"),
    (lambda d: (d / predict.MANIFEST).write_text('{"format": "x"}'), "not a ganmc export card"),
    (lambda d: _folder(d.parent, {"format_version": 9}), "export format version 9"),
    (lambda d: _folder(d.parent, {"framing": "sideways"}), "unknown framing 'sideways'"),
    (lambda d: _folder(d.parent, {"graph": {"format": "pt", "columns": ["fanogan"]}}),
     "unknown graph format 'pt'"),
    (lambda d: _folder(d.parent, {"threshold": {"source": "holdout"}}), "not a ganmc export card"),
    (lambda d: _folder(d.parent, {"threshold": {"source": "holdout", "pooled": "high"}}),
     "not a ganmc export card"),
    (lambda d: _folder(d.parent, {"score": "combined", "combined": {"main": "mahalanobis"}}),
     "lack what the combined score needs"),
    (lambda d: _folder(d.parent, refs={"holdout_scores": np.array([2.0, 1.0])}),
     "not a sorted list of finite numbers"),
    (lambda d: _folder(d.parent, refs={"other": np.arange(3.0)}), "no held-out scores"),
    (lambda d: (d / predict.REFERENCES).write_text("zip?"), "references.npz: unreadable"),
    (lambda d: (d / "model.onnx").unlink(), "model.onnx: missing"),
    (lambda d: None, "model.onnx: cannot load the graph"),
])
def test_a_bad_export_folder_is_refused_with_one_line(tmp_path, change, message):
    pytest.importorskip("onnxruntime")
    d = _folder(tmp_path)
    change(d)
    with pytest.raises(predict.ExportError) as info:
        predict.Export(d)
    assert message in str(info.value) and "\n" not in str(info.value)
    r = subprocess.run([sys.executable, "-m", "ganmc.deploy.predict", "--export", str(d), "x.png"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"predict.py: error: {info.value}"]


def test_no_export_folder_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "ganmc.deploy.predict", "x.png"], capture_output=True,
                       text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == ("predict.py: error: name the export folder with --export DIR "
                                "(this file is not in one)")
    with pytest.raises(predict.ExportError, match="no such export folder"):
        predict.Export(tmp_path / "nowhere")


def test_references_that_would_unpack_past_the_budget_are_refused_unread(tmp_path,
                                                                        monkeypatch):
    d = _folder(tmp_path, refs={"holdout_scores": np.arange(1000.0)})
    monkeypatch.setattr(predict, "MAX_REFERENCE_BYTES", 4000)
    with pytest.raises(predict.ExportError, match="unpacked is more than the 4,000 allowed"):
        predict.Export(d)
