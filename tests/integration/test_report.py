"""The report: its numbers, its PNG and ``ganmc report``, and the dashboard's cached pages."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganmc.app import service
from ganmc.report import data as report_data
from ganmc.report.render import REPORT_SIZE
from ganmc.thresholds.decision import Choice, decide
from ganmc.thresholds.distribution import Level


@pytest.fixture(scope="module")
def report(tiny_model, mnist):
    det, _ = tiny_model
    decision = decide(det, Choice(level=Level.from_percentile(90)))
    images = [("three", mnist.x_test[0]), ("noise", np.random.default_rng(1).integers(
        0, 256, (28, 28)).astype(np.uint8))]
    return det, decision, service.build_report(det, decision, images=images)


def test_report_numbers_follow_the_decision(report):
    det, decision, data = report
    s = report_data.summary(data)
    assert s["threshold"] == decision.threshold.value == det.calibration_of(
        decision.scorer, "holdout", level=Level(0.1)).value
    assert s["percentile"] == 90 and s["alpha"] == pytest.approx(0.1)
    assert s["calibration"] == "holdout" and s["scorer"] == "fanogan"
    # every digit is normal for this model: the second example is the least typical digit
    assert [r["name"] for r in s["images"]] == ["normal test image", "least typical test image",
                                                "three", "noise"]
    noise = s["images"][-1]
    assert noise["verdict"] == "anomaly" and noise["score"] > s["threshold"]
    assert s["monte_carlo"]["samples"] == det.monte_carlo_["fanogan"].n
    far = s["monte_carlo_false_alarm_on_holdout"]
    assert far == pytest.approx(np.mean(det.holdout_scores_["fanogan"] > s["monte_carlo"]
                                        ["threshold"]))


def test_report_files_open_and_agree(report, tmp_path):
    _, _, data = report
    written = service.write_report(data, tmp_path / "r.png")
    assert [p.suffix for p in written] == [".png", ".json", ".csv"]
    with Image.open(written[0]) as img:
        assert img.size == REPORT_SIZE and img.format == "PNG"
        # the page is not blank: the histogram's bars and the images are drawn
        assert np.asarray(img.convert("L")).std() > 10
    summary = json.loads(written[1].read_text())
    rows = written[2].read_text().splitlines()
    assert rows[0].startswith("kind,name,note,score")
    assert len(rows) - 1 == len(summary["images"]) == 4
    assert summary["threshold"] == data.threshold


@pytest.mark.slow
def test_ganmc_report_command(tiny_model, mnist, tmp_path):
    _, model = tiny_model
    np.savez(tmp_path / "in.npz", x=mnist.x_test[:3])
    r = subprocess.run([sys.executable, "-m", "ganmc.cli", "report", "--model", str(model),
                        "--samples", "3000", "--seed", "4", "--percentile", "99",
                        str(tmp_path / "in.npz"), "--out", str(tmp_path / "rep.png")],
                       capture_output=True, text=True, env={**os.environ, "GANMC_OFFLINE": "1"},
                       timeout=300)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "rep.png") as img:
        assert img.size == REPORT_SIZE
    s = json.loads((tmp_path / "rep.json").read_text())
    assert s["monte_carlo"]["samples"] == 3000 and s["monte_carlo"]["seed"] == 4
    assert s["percentile"] == 99 and len([i for i in s["images"] if i["kind"] == "image"]) == 3
    assert len((tmp_path / "rep.csv").read_text().splitlines()) == 1 + 2 + 3


def test_cached_report_is_not_stale_for_another_seed(tiny_model, monkeypatch):
    """Same sample count, another seed: the Report page renders a new report."""
    from streamlit.testing.v1 import AppTest

    import ui.caches
    from tests.integration.test_app import ROOT

    det, model = tiny_model
    monkeypatch.chdir(ROOT)
    store = ui.caches.ResultStore()
    monkeypatch.setattr(ui.caches, "results", lambda: store)
    rendered = []
    real = service.report_files

    def spy(data, *args):
        rendered.append(data.monte_carlo.seed)
        return real(data, *args)

    monkeypatch.setattr(service, "report_files", spy)
    monkeypatch.setattr(service, "report_time", lambda: "2026-01-01 12:00 UTC")  # one minute
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model"] = str(model)
    at.session_state["mc_samples"] = 1000
    for seed in (1, 2):
        key = ui.caches.McKey(str(model), ui.caches.model_stamp(str(model)), "fanogan", 1000,
                             seed, "auto")
        store.put(key, service.simulate(det, 1000, seed=seed))
    for seed in (1, 2, 1):
        at.session_state["mc_seed"] = seed
        at.run()
        at.switch_page("pages/views/report.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
    assert rendered == [1, 2]  # the third visit is served from the cache, the right one


def test_report_has_the_held_out_false_alarms_per_digit(digit_model, mnist, report):
    """A model with per-digit Gaussians: the JSON's ``per_digit`` is the service's table (the
    one the Detect page shows), each digit's rate below its threshold is what its held-out
    images give, and the PNG keeps its size with the per-digit line in it."""
    from ganmc.report.render import _summary_lines

    det, _ = digit_model
    decision = decide(det, Choice())
    data = service.build_report(det, decision, images=[("seven", mnist.x_test[0])])
    s = report_data.summary(data)
    assert s["calibration"] == "per-digit"
    assert set(s["per_digit"]) == {"1", "7"}
    held, digits = det.holdout_scores_[decision.scorer], det.holdout_digits_[decision.scorer]
    for d, row in s["per_digit"].items():
        mine = held[digits == int(d)]
        assert row["n"] == len(mine)
        assert row["threshold"] == decision.threshold.by_digit((int(d),))[int(d)]
        assert row["false_alarm_rate"] == pytest.approx(np.mean(mine > row["threshold"]))
        assert row["false_alarm_rate"] <= decision.level.alpha + 1e-9  # conformal, in-sample
    assert s["images"][-1]["digit"] in (1, 7)
    assert any(line.startswith("False alarms per digit on") for line in _summary_lines(data))
    files = service.report_files(data)
    assert Image.open(io.BytesIO(files[".png"])).size == REPORT_SIZE
    # a model without per-digit Gaussians has no per-digit entry, nor the line
    assert "per_digit" not in report_data.summary(report[2])
    assert not any("per digit" in line for line in _summary_lines(report[2]))


def test_the_second_example_is_an_anomaly_when_some_digits_are_not_normal(digit_model):
    det, _ = digit_model  # digits 1 and 7: the other eight are anomalies
    odd = service.test_examples(det, decide(det, Choice()))[1]
    assert odd.name == "anomalous test image"
    assert int(odd.note.split()[-1]) not in (1, 7)


def _boxes(fig, texts):
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in texts]


def test_the_report_png_marks_every_image_says_its_thresholds_and_nothing_overlaps(
        digit_model, mnist):
    """Issue 35, item 5: with eight images (two of one name) every image's score is a line of
    the histogram (six were, silently); under per-digit thresholds the dashed line is called
    the pooled threshold, not "per-digit threshold"; the rows' headings clear the verdict
    labels under them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    from ganmc.report.render import report_figure

    det, _ = digit_model
    decision = decide(det, Choice())
    assert decision.threshold.per_digit
    images = [(f"image-{i}.png" if i != 7 else "image-0.png", mnist.x_test[i])
              for i in range(8)]
    fig = report_figure(service.build_report(det, decision, images=images))
    FigureCanvasAgg(fig).draw()
    legend = [t.get_text() for ax in fig.axes if ax.get_legend()
              for t in ax.get_legend().get_texts()]
    marked = [t for t in legend if ".png" in t]
    assert len(marked) == 8, legend
    assert any(t.startswith("pooled threshold") for t in legend), legend
    assert not any(t.startswith("per-digit threshold") for t in legend), legend
    headings = [t for t in fig.findobj(Text) if t.get_gid() == "row-heading"]
    assert len(headings) == 2  # examples, your images
    labels = [ax.title for ax in fig.axes if ax.title.get_text() in ("NORMAL", "ANOMALY")]
    assert len(labels) == 2 + 8
    for h in _boxes(fig, headings):
        for label in _boxes(fig, labels):
            assert not h.overlaps(label), (h, label)


def test_the_report_csv_and_the_detect_csv_have_the_same_verdict_columns(report):
    """Issue 35, item 10: the report's rows (``kind, name, note``, then the verdict) and the
    Detect page's and ``ganmc score``'s rows (``name`` or ``source, index``, then the
    verdict) share the verdict's columns, named and ordered alike, with the same values."""
    _, _, data = report
    ours = report_data.rows(data)
    verdicts = [im.verdict for im in data.images]
    theirs = service.score_rows([im.name for im in data.images],
                                list(range(len(verdicts))), verdicts, data.fdr)
    detect = service.image_rows([im.name for im in data.images], verdicts, data.fdr)
    assert list(ours[0])[:3] == ["kind", "name", "note"]
    assert list(ours[0])[3:] == list(theirs[0])[2:] == list(detect[0])[1:]
    mine = [r for r in ours if r["kind"] == "image"]
    assert [list(r.values())[3:] for r in mine] == [list(r.values())[2:] for r in theirs]
