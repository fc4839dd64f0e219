"""Every dashboard page through Streamlit's AppTest, with the tiny session model."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PAGES = [f"pages/views/{name}.py" for name in ("home", "train", "monte_carlo", "detect", "report")]


@pytest.fixture
def app(tiny_model, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import ui.session

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(ui.session, "MODELS_DIR", tmp_path / "models")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model"] = str(tiny_model[1])
    return at


def open_page(at, page: str):
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(app, page):
    open_page(app, page)
    assert app.title[0].value


def test_home_shows_the_model_card(app):
    open_page(app, "pages/views/home.py")
    labels = [m.label for m in app.metric]
    assert {"Network", "Normal digits", "Training budget"} <= set(labels)
    assert any(m.value == "dcgan" for m in app.metric)
    # Detector.fit measured the tiny model's quality card; the Overview shows its reading
    assert any("Quality card" in m.value for m in app.markdown)
    shown = [e.value for e in (*app.success, *app.warning, *app.error)]
    assert any(text.split(":")[0] in ("Good", "Usable", "Under-trained") for text in shown)


def test_the_overview_says_what_p_is(app):
    """Issue 35, item 10: the Overview said "at most 100 − P %" without saying what P is."""
    app.session_state["percentile"] = 99.0
    open_page(app, "pages/views/home.py")
    text = next(m.value for m in app.markdown if "100 − P" in m.value)
    assert "P-th percentile" in text and "now 99" in text and "now\n   1 %)" in text, text


def _threshold(at) -> float:
    return float(next(m.value for m in at.metric if m.label == "Threshold"))


def test_percentile_slider_moves_the_threshold(app):
    open_page(app, "pages/views/monte_carlo.py")
    before = _threshold(app)
    app.slider(key="w_mc_percentile").set_value(99.0).run()
    assert not app.exception
    after = _threshold(app)
    assert after > before
    assert app.session_state["percentile"] == 99.0


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_gives_a_verdict_and_bad_files_a_message(app, mnist):
    open_page(app, "pages/views/detect.py")
    digit = 255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8))
    app.file_uploader(key="uploads_0").set_value([
        ("digit.png", _png(digit), "image/png"),
        ("notes.png", b"not an image at all", "image/png"),
        ("blank.png", _png(np.full((50, 50), 255, np.uint8)), "image/png"),
    ]).run()
    assert not app.exception, [e.message for e in app.exception]
    verdicts = [m.value for m in app.markdown if "ganmc-verdict" in m.value]
    assert len(verdicts) == 1 and ("NORMAL" in verdicts[0] or "ANOMALY" in verdicts[0])
    warnings = " ".join(w.value for w in app.warning)
    assert "notes.png" in warnings and "blank.png" in warnings
    assert len(app.session_state["scored"]) == 1


def test_mahalanobis_verdict_on_the_detect_page(app, mnist):
    open_page(app, "pages/views/detect.py")
    app.selectbox(key="w_detect_scorer").set_value("mahalanobis").run()
    app.file_uploader(key="uploads_0").set_value([
        ("digit.png", _png(np.kron(mnist.x_test[2], np.ones((6, 6), np.uint8))), "image/png")
    ]).run()
    assert not app.exception, [e.message for e in app.exception]
    assert app.session_state["scorer"] == "mahalanobis"
    assert any("not the reconstruction" in c.value for c in app.caption)
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1


@pytest.mark.slow
def test_latent_search_without_a_simulation_falls_back_to_the_holdout(app, mnist):
    """The slow score has no Monte Carlo run yet: the page says so and judges on the holdout
    threshold, with the searched reconstruction G(z*) beside the input."""
    open_page(app, "pages/views/detect.py")
    app.selectbox(key="w_detect_scorer").set_value("latent-search").run()
    app.selectbox(key="w_detect_calibration").set_value("monte-carlo").run()
    app.file_uploader(key="uploads_0").set_value([
        ("digit.png", _png(np.kron(mnist.x_test[1], np.ones((6, 6), np.uint8))), "image/png")
    ]).run()
    assert not app.exception, [e.message for e in app.exception]
    assert any("no Monte Carlo simulation of the latent-search score" in w.value
               for w in app.warning)
    assert any("holdout calibration" in c.value for c in app.caption)
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1


def _wait(at, condition, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        if condition(at):
            return
        time.sleep(1)
    raise AssertionError("timed out")


def test_a_page_run_leaves_a_background_jobs_keras_state_alone(app):
    """Streamlit clears Keras' session after every script run; that must not reach the
    per-thread state of a job running in the background (here, its dtype policy)."""
    import keras

    ready, go, seen = threading.Event(), threading.Event(), {}

    def job():
        keras.config.set_dtype_policy("mixed_bfloat16")  # this thread's setting only
        ready.set()
        go.wait(60)
        seen["policy"] = keras.config.dtype_policy().name

    thread = threading.Thread(target=job)
    thread.start()
    ready.wait(60)
    open_page(app, "pages/views/monte_carlo.py")
    go.set()
    thread.join()
    assert seen["policy"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # the main thread's is untouched


def test_monte_carlo_run_from_the_page(app):
    """Before a run the page says how long it should take (from a timed batch on this
    machine, then from this session's run), runs it, and keeps it."""
    open_page(app, "pages/views/monte_carlo.py")
    app.number_input(key="w_mc_mc_samples").set_value(3000).run()
    assert any(c.value.startswith("3,000 samples should take about") and "timed batch"
               in c.value for c in app.caption)
    app.button(key="mc_run").click().run()
    _wait(app, lambda at: any("3,000 samples in" in c.value for c in at.caption))
    assert app.button(key="mc_run").disabled  # cached: no second simulation of the same run
    assert not any("should take about" in c.value for c in app.caption)
    app.number_input(key="w_mc_mc_samples").set_value(5000).run()
    assert any(c.value.startswith("5,000 samples should take about") and "your last run"
               in c.value for c in app.caption)


def test_each_row_says_which_threshold_judged_it_on_detect_and_monte_carlo(app, mnist):
    """Issue 35, item 6: the same image can be ANOMALY on Detect (its threshold) and NORMAL in
    the Monte Carlo page's table (the run's threshold); each row says which judged it."""
    open_page(app, "pages/views/detect.py")
    digit = _png(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8)))
    app.file_uploader(key="uploads_0").set_value([("digit.png", digit, "image/png")]).run()
    from ganmc.thresholds import calibration as c

    shorts = [t.short for t in (c.MonteCarloThreshold, c.ConformalThreshold,
                                c.PerDigitThreshold, c.PacThreshold, c.PerDigitPacThreshold)]
    line = next(m.value for m in app.markdown if m.value.startswith("score **"))
    assert any(f"the {words} threshold " in line for words in shorts), line
    app.switch_page("pages/views/monte_carlo.py")
    app.run()
    app.number_input(key="w_mc_mc_samples").set_value(2000).run()
    app.button(key="mc_run").click().run()
    _wait(app, lambda at: any("2,000 samples in" in c.value for c in at.caption))
    table = next(d.value for d in app.dataframe if "image" in d.value.columns)
    assert list(table["image"]) == ["digit.png"]
    assert table["judged by"][0].startswith("this run's Monte Carlo threshold")


@pytest.mark.slow
def test_monte_carlo_of_the_latent_search_from_the_page(app):
    """The slow score simulates on request, and the page then says how far its Monte Carlo
    threshold is from the nominal rate on the held-out digits."""
    open_page(app, "pages/views/monte_carlo.py")
    app.selectbox(key="w_mc_scorer").set_value("latent-search").run()
    app.number_input(key="w_mc_mc_samples").set_value(1000).run()
    app.button(key="mc_run").click().run()
    _wait(app, lambda at: any("1,000 samples in" in c.value for c in at.caption))
    assert app.session_state["scorer"] == "latent-search"
    assert any("Measured on" in w.value for w in app.warning)


@pytest.mark.slow
def test_training_from_the_page(app, tmp_path, tiny_model, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ganmc.app import service

    gate, real_train = threading.Event(), service.train

    def held_train(*args, **kwargs):  # the job waits until the other session has looked
        gate.wait(120)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(service, "train", held_train)
    open_page(app, "pages/views/train.py")
    app.selectbox(key="w_train_data").set_value("bundled")
    app.radio(key="w_train_arch").set_value("mlp")
    app.number_input(key="w_train_steps").set_value(16)
    app.number_input(key="w_train_enc_steps").set_value(0)
    app.select_slider(key="w_train_batch").set_value(512)
    app.number_input(key="w_train_kappa").set_value(7.5)
    app.text_input(key="w_train_name").set_value("tiny-ui")
    assert any(c.value.startswith("Estimated time: **") for c in app.caption)
    app.button(key="train_start").click()
    app.run()
    assert not app.exception
    # Meanwhile another user (another session) sees the job and cannot start a second one.
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    other.session_state["model"] = str(tiny_model[1])
    open_page(other, "pages/views/train.py")
    assert any(s.value.startswith("Job tiny-ui — running") for s in other.subheader)
    assert other.button(key="train_start").disabled
    # no estimate for a job that cannot start, and no timing of a machine the job keeps busy
    assert not any(c.value.startswith("Estimated time") for c in other.caption)
    assert any(c.value.startswith("No time estimate while a training job runs")
               for c in other.caption)
    gate.set()
    _wait(app, lambda at: any("Saved to" in s.value for s in at.success), timeout=300)
    saved = tmp_path / "models" / "tiny-ui"
    assert json.loads((saved / "ganmc.json").read_text())["config"]["kappa"] == 7.5
    app.button(key="train_use").click().run()
    assert app.session_state["model"] == str(saved)


def test_pages_keep_the_sessions_model(app, tiny_model):
    for page in PAGES:
        open_page(app, page)
        assert app.session_state["model"] == str(tiny_model[1])


def test_judged_images_survive_other_pages_until_cleared(app, mnist):
    """Detect -> Monte Carlo -> Detect keeps the images; the same file twice is one image;
    the Report counts them; Clear forgets them."""
    open_page(app, "pages/views/detect.py")
    digit = _png(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8)))
    app.file_uploader(key="uploads_0").set_value([
        ("digit.png", digit, "image/png"), ("digit.png", digit, "image/png")]).run()
    assert len(app.session_state["scored"]) == 1
    for page in ("pages/views/monte_carlo.py", "pages/views/detect.py"):
        app.switch_page(page)
        app.run()
        assert not app.exception, [e.message for e in app.exception]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1
    app.switch_page("pages/views/report.py")
    app.run()
    assert any("the 1 image judged on the Detect page" in c.value for c in app.caption)
    app.switch_page("pages/views/detect.py")
    app.run()
    app.button(key="images_clear").click().run()
    assert app.session_state["scored"] == []
    assert not [m for m in app.markdown if "ganmc-verdict" in m.value]


def test_the_uploaders_cross_takes_that_images_verdict_away(app, mnist):
    """Issue 35, item 8: removing one file from the uploader (its ×) removes its verdict; the
    other file keeps its own, and after a visit elsewhere (the uploader starts empty) the
    images judged before stay."""
    open_page(app, "pages/views/detect.py")
    a, b = (_png(255 - np.kron(mnist.x_test[i], np.ones((6, 6), np.uint8))) for i in (0, 1))
    uploader = app.file_uploader(key="uploads_0")
    uploader.set_value([("a.png", a, "image/png"), ("b.png", b, "image/png")]).run()
    assert [n for n, _ in app.session_state["scored"]] == ["a.png", "b.png"]
    app.file_uploader(key="uploads_0").set_value([("a.png", a, "image/png")]).run()
    assert not app.exception, [e.message for e in app.exception]
    assert [n for n, _ in app.session_state["scored"]] == ["a.png"]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1
    for page in ("pages/views/monte_carlo.py", "pages/views/detect.py"):
        app.switch_page(page)
        app.run()
    assert [n for n, _ in app.session_state["scored"]] == ["a.png"]


def test_clearing_the_canvas_takes_its_verdict_away(app, mnist):
    """A drawing's verdict goes when the Clear button is pressed; uploaded images keep theirs.
    (The canvas is a browser component: the drawing is put in the session as the page keeps
    it.)"""
    open_page(app, "pages/views/detect.py")
    digit = _png(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8)))
    app.file_uploader(key="uploads_0").set_value([("digit.png", digit, "image/png")]).run()
    app.session_state["scored"] = [("drawing", mnist.x_test[1]),
                                   *app.session_state["scored"]]
    app.button(key="canvas_clear").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert [n for n, _ in app.session_state["scored"]] == ["digit.png"]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1


def test_an_empty_canvas_takes_the_drawings_verdict_away(app, mnist):
    """Issue 27, item 3: the canvas's own trash icon leaves the canvas empty; the drawing's
    verdict must go with it, uploads stay. Under AppTest the canvas sends nothing, as a
    freshly emptied one (here a drawing the session holds no canvas drawing for)."""
    open_page(app, "pages/views/detect.py")
    digit = _png(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8)))
    app.file_uploader(key="uploads_0").set_value([("digit.png", digit, "image/png")]).run()
    app.session_state["scored"] = [("drawing", mnist.x_test[1]),
                                   *app.session_state["scored"]]
    app.switch_page("pages/views/monte_carlo.py")
    app.run()
    app.switch_page("pages/views/detect.py")
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert [n for n, _ in app.session_state["scored"]] == ["digit.png"]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1
    assert not [m for m in app.markdown if "ganmc-canvas-verdict" in m.value]


#: A stroke as the canvas sends it (Fabric.js JSON).
STROKE = {"version": "6.0.0", "objects": [
    {"type": "Path", "left": 90, "top": 50, "stroke": "#FFFFFF", "strokeWidth": 18,
     "fill": None, "path": [["M", 90, 60], ["Q", 150, 50, 190, 80], ["L", 120, 240]]}]}


def _canvas_drawing(at) -> list:
    """The strokes the page hands the canvas to open with (its ``initial_drawing``)."""
    (canvas,) = [c for c in at.get("bidi_component")
                 if c.proto.component_name.endswith("streamlit_drawable_canvas")]
    return json.loads(canvas.proto.json)["initialDrawing"]["objects"]


def test_a_drawing_and_its_verdict_come_back_with_the_detect_page(app, mnist):
    """Issue 35, item 1: draw, go to another page and back: the canvas is opened with the
    drawing (its ``initial_drawing``), the verdict is still under it and the Report still
    counts it; the canvas gets the same drawing on every run of the visit (a new one would
    redraw it and lose its undo history); Clear takes both away."""
    open_page(app, "pages/views/detect.py")
    # what a drawing on the canvas leaves in the session (the browser sends it)
    app.session_state["scored"] = [("drawing", mnist.x_test[1])]
    app.session_state["drawing_json"] = STROKE
    for page in ("pages/views/monte_carlo.py", "pages/views/detect.py"):
        app.switch_page(page)
        app.run()
        assert not app.exception, [e.message for e in app.exception]
    assert _canvas_drawing(app) == STROKE["objects"]
    assert [n for n, _ in app.session_state["scored"]] == ["drawing"]
    assert len([m for m in app.markdown if "ganmc-canvas-verdict" in m.value]) == 1
    # the line under the canvas says the p-value too (issue 35, item 10)
    assert any(c.value.startswith("score ") and ", p-value " in c.value for c in app.caption)
    digit = _png(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8)))
    app.file_uploader(key="uploads_0").set_value([("digit.png", digit, "image/png")]).run()
    assert _canvas_drawing(app) == STROKE["objects"]  # the same drawing for the whole visit
    assert [n for n, _ in app.session_state["scored"]] == ["drawing", "digit.png"]
    app.switch_page("pages/views/report.py")
    app.run()
    assert any("the 2 images judged on the Detect page" in c.value for c in app.caption)
    app.switch_page("pages/views/detect.py")
    app.run()
    app.button(key="canvas_clear").click().run()  # as the canvas's trash icon: both go
    assert [n for n, _ in app.session_state["scored"]] == ["digit.png"]
    assert app.session_state["drawing_json"] is None
    assert _canvas_drawing(app) == []


def test_the_train_page_says_what_a_model_name_is_saved_as(app):
    open_page(app, "pages/views/train.py")
    app.text_input(key="w_train_name").set_value("../evil").run()
    assert any("Will be saved as **evil**" in c.value for c in app.caption)
    app.text_input(key="w_train_name").set_value("fine-name").run()
    assert not any("Will be saved as" in c.value for c in app.caption)
    app.text_input(key="w_train_name").set_value("..").run()
    assert any(w.value.startswith("'..' is not a usable model name") for w in app.warning)


def test_training_settings_are_kept_across_pages_and_need_the_button(app):
    """Settings typed on the Train page stay after a visit elsewhere, and nothing but the
    Start button starts a job (there is no form that Enter would submit)."""
    open_page(app, "pages/views/train.py")
    app.number_input(key="w_train_steps").set_value(300).run()
    app.radio(key="w_train_preset").set_value("quick").run()
    app.text_input(key="w_train_name").set_value("kept-name").run()
    assert app.session_state["train_steps"] == 300
    from ui import caches

    assert caches.jobs().latest("train", owner=app.session_state["session_id"]) is None
    app.switch_page("pages/views/home.py")
    app.run()
    app.switch_page("pages/views/train.py")
    app.run()
    assert app.number_input(key="w_train_steps").value == 300
    assert app.radio(key="w_train_preset").value == "quick"
    assert app.text_input(key="w_train_name").value == "kept-name"
    assert not app.get("form")


def test_train_page_defaults_are_the_cli_defaults(app):
    from ganmc.cli import build_parser
    from ganmc.core.config import AUTO
    from ganmc.core.presets import PRESETS

    cli = build_parser().parse_args(["train"])
    open_page(app, "pages/views/train.py")
    assert app.radio(key="w_train_preset").value == cli.preset
    assert app.radio(key="w_train_preset").options == list(PRESETS)  # every preset can start
    assert app.number_input(key="w_train_steps").value == cli.steps  # None: the preset's
    assert app.number_input(key="w_train_enc_steps").value == cli.encoder_steps
    assert cli.batch_size is None  # the preset's ...
    assert app.select_slider(key="w_train_batch").value == AUTO  # ... which the page shows
    assert app.number_input(key="w_train_kappa").value == cli.kappa
    assert app.selectbox(key="w_train_data").value == cli.data
    assert cli.arch is None  # the preset's network ...
    assert app.radio(key="w_train_arch").value == AUTO  # ... which the page shows as its choice
    assert app.radio(key="w_train_arch").options[0] == f"the preset's ({PRESETS['standard'].arch})"
    assert app.number_input(key="w_train_rotation").value == cli.rotation_weight
    assert app.number_input(key="w_train_jigsaw").value == cli.jigsaw_weight


def test_the_train_page_sends_the_chosen_presets_batch_size(app, monkeypatch):
    """Issue 35: the Train page sent the default preset's batch size whatever preset was
    chosen; left alone, the batch size is the chosen preset's."""
    from dataclasses import replace

    from ganmc.app import service
    from ganmc.core.config import TrainConfig
    from ganmc.core.presets import PRESETS

    monkeypatch.setitem(PRESETS, "quick", replace(PRESETS["quick"], batch_size=32))
    sent = []
    real = service.time_estimate
    monkeypatch.setattr(service, "time_estimate",
                        lambda settings, *a, **k: (sent.append(settings), real(settings, *a,
                                                                              **k))[1])
    open_page(app, "pages/views/train.py")
    app.radio(key="w_train_preset").set_value("quick").run()
    assert sent[-1]["preset"] == "quick"
    assert TrainConfig(**{k: v for k, v in sent[-1].items()
                          if k in TrainConfig.__dataclass_fields__}).batch_size == 32
    assert "the preset's (32)" in app.select_slider(key="w_train_batch").options
    app.select_slider(key="w_train_batch").set_value(128).run()
    assert sent[-1]["batch_size"] == 128


def test_one_seed_limit_on_every_page(app):
    """Issue 35: the pages took seeds up to 2**31-1 while config takes 2**32-1: one limit."""
    from ganmc.core.config import SEED_MAX

    open_page(app, "pages/views/train.py")
    assert app.number_input(key="w_train_seed").max == SEED_MAX
    app.switch_page("pages/views/monte_carlo.py")
    app.run()
    assert app.number_input(key="w_mc_mc_seed").max == SEED_MAX


def _per_digit_table(at):
    """The Detect page's table of false alarms per digit (None when not shown)."""
    return next((d.value for d in at.dataframe if "threshold used" in d.value.columns), None)


def _digit_uploads(mnist, digits=(1, 7), n=24):
    """n bundled test digits of ``digits`` as uploaded PNG files (dark ink on white)."""
    idx = np.flatnonzero(np.isin(mnist.y_test, digits))[:n]
    return [(f"d{i}-{mnist.y_test[i]}.png",
             _png(255 - np.kron(mnist.x_test[i], np.ones((6, 6), np.uint8))), "image/png")
            for i in idx], mnist.y_test[idx]


def _judge_digits(app, digit_model, mnist, n):
    """The Detect page under the model of 1s and 7s, with n of those digits uploaded; the
    model and the digits' labels."""
    det, path = digit_model
    app.session_state["model"] = str(path)
    open_page(app, "pages/views/detect.py")
    uploads, labels = _digit_uploads(mnist, n=n)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    assert not app.exception, [e.message for e in app.exception]
    return det, labels


def test_detect_page_says_which_digit_and_the_false_alarms_per_digit(app, digit_model, mnist):
    """A model with per-digit Gaussians: each verdict says the digit the image was taken for,
    and the per-digit false alarms of the held-out images are in a table, one row a digit."""
    det, labels = _judge_digits(app, digit_model, mnist, 6)
    taken = [m.value for m in app.markdown if m.value.startswith("taken for a")]
    assert len(taken) == 6
    said = [int(t.strip("*").split("**")[-1]) for t in taken]
    assert sum(s == y for s, y in zip(said, labels)) >= 5  # clear 1s and 7s are told apart
    table = _per_digit_table(app)
    assert list(table["digit"]) == ["1", "7"]
    expected = det.holdout_digits_[det.scorer_]
    assert list(table["normal images"]) == [int(np.sum(expected == 1)),
                                              int(np.sum(expected == 7))]
    assert set(table["threshold used"]) <= {"the digit's own", "pooled (too few images)"}
    assert any("false-alarm rate holds for every digit" in c.value for c in app.caption)
    note = next(c.value for c in app.caption if c.value.startswith("Per-digit thresholds"))
    assert "threshold auto → per-digit: a threshold for each digit" in note \
        and "monte-carlo" not in note, note
    # A Monte Carlo threshold: the table stays, and promises nothing
    app.selectbox(key="w_detect_calibration").set_value("monte-carlo").run()
    assert not app.exception, [e.message for e in app.exception]
    assert any("nothing guarantees these rates" in c.value for c in app.caption)
    assert not any("rate holds" in c.value for c in app.caption)


def test_detect_page_says_no_digit_for_a_model_without_per_digit_gaussians(app, mnist):
    open_page(app, "pages/views/detect.py")
    uploads, _ = _digit_uploads(mnist, n=2)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    assert not app.exception, [e.message for e in app.exception]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 2
    assert not [m for m in app.markdown if m.value.startswith("taken for a")]
    assert _per_digit_table(app) is None


def test_detect_page_points_photographs_to_combined_under_a_gaussian_score(app, mnist):
    open_page(app, "pages/views/detect.py")  # the tiny model: auto is fanogan
    uploads, _ = _digit_uploads(mnist, n=1)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    assert not any(c.value.startswith("Photographs") for c in app.caption)
    app.selectbox(key="w_detect_scorer").set_value("mahalanobis").run()
    assert not app.exception, [e.message for e in app.exception]
    assert any(c.value.startswith("Photographs") and "choose the combined score" in c.value
               for c in app.caption)
    app.selectbox(key="w_detect_scorer").set_value("combined").run()  # it flags them itself
    assert not any(c.value.startswith("Photographs") for c in app.caption)


def test_calibrate_on_the_detect_pages_images(app, digit_model, mnist, tmp_path):
    """Too few images: the button waits and says how many more. Enough: a copy of the model
    is calibrated on them (the model itself untouched), becomes the session's model, and the
    page gives the new threshold and the false-alarm band for that many images."""
    from ganmc.app import service
    from ganmc.storage import bundle
    from ganmc.thresholds.decision import Choice, decide
    from ganmc.thresholds.distribution import Level
    from ganmc.thresholds.ranks import far_band

    _, path = digit_model
    before = (path / bundle.CARD).read_bytes()
    app.session_state["model"] = str(path)
    open_page(app, "pages/views/detect.py")
    uploads, _ = _digit_uploads(mnist, n=24)
    app.file_uploader(key="uploads_0").set_value(uploads[:10]).run()
    assert app.button(key="det_calibrate").disabled
    assert any("9 more to calibrate" in i.value for i in app.info)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    assert not app.button(key="det_calibrate").disabled
    assert any("d17-own-images" in c.value and "itself is not changed" in c.value
               and "replacing" not in c.value for c in app.caption)  # no copy yet
    app.button(key="det_calibrate").click().run()
    assert not app.exception, [e.message for e in app.exception]
    copy = tmp_path / "models" / "d17-own-images"
    assert app.session_state["model"] == str(copy)
    assert (path / bundle.CARD).read_bytes() == before  # the model itself as it was
    card = bundle.read_card(copy)
    assert card["metadata"]["calibration_set"]["n"] == 24
    det = service.load_model(copy)
    assert len(det.holdout_scores_[det.scorer_]) == 24
    threshold = decide(det, Choice()).threshold.value  # every digit pooled
    lo, hi = far_band(24, Level(0.05))
    message = " ".join(s.value for s in app.success)
    assert f"{threshold:.4g}" in message
    # 24 images of two digits: each digit has too few for its own threshold at 5 %, so the
    # band is the pooled one of 24 images
    shown = message.split("lands between ")[1].split(" on further")[0].replace("*", "")
    got = [float(v.strip(" %")) / 100 for v in shown.split(" and ")]
    assert got == pytest.approx([lo, hi], abs=0.003)
    assert "With 24 images" in message
    assert "(per-digit; 2 of the 2 digits have fewer than 19 images and use the pooled" in message
    assert any("below that it uses the pooled one" in c.value for c in app.caption)
    assert not any("Each digit has its own threshold" in c.value for c in app.caption)
    # Now the active model is the copy: calibrating again rewrites it, and says so.
    assert any("recalibrated in place" in c.value for c in app.caption)


def test_calibrate_refuses_a_model_it_cannot_copy_with_one_line(app, digit_model, mnist,
                                                                 monkeypatch):
    import ui.session

    _, path = digit_model
    app.session_state["model"] = str(path)
    open_page(app, "pages/views/detect.py")
    blocked = Path(app.session_state["model"]).parent / "not-a-folder"
    blocked.write_text("a file where the models folder should be")
    monkeypatch.setattr(ui.session, "MODELS_DIR", blocked)
    uploads, _ = _digit_uploads(mnist, n=20)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    app.button(key="det_calibrate").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert any(e.value.startswith("The model could not be calibrated:") for e in app.error)
    assert app.session_state["model"] == str(path)
    blocked.unlink()


def test_monte_carlo_estimate_comes_from_this_machine_not_the_stored_speed(app, monkeypatch):
    """Issue 27, item 4: before any run the estimate is measured here and now (a short timed
    batch of the model's sampler), not read from the speed saved with the model."""
    from ganmc.app import service
    from ui import caches

    measured = []

    def timed(det, *, scorer, precision):
        measured.append((scorer, precision))
        return 1234.0

    monkeypatch.setattr(service, "measure_simulation_speed", timed)
    caches.measured_speed.clear()  # the process's cache: measured anew for this test
    open_page(app, "pages/views/monte_carlo.py")
    app.number_input(key="w_mc_mc_samples").set_value(12340).run()
    caption = next(c.value for c in app.caption if "should take about" in c.value)
    assert "**10 s** (1,234 samples/s, from a short timed batch on this machine)" in caption
    assert measured == [("fanogan", "auto")]  # once per model, score and precision: cached


def test_report_is_stamped_with_the_time_of_the_view_not_of_the_cache(app, monkeypatch):
    """Issue 27, item 5: the slow part of the report is cached, its time is not: a later view
    renders the report with the later time, without building it again."""
    from ganmc.app import service

    clock, built, rendered = ["2026-01-01 10:00 UTC"], [], []
    real_build, real_files = service.build_report, service.report_files

    def build(*args, **kwargs):
        built.append(1)
        return real_build(*args, **kwargs)

    def files(data, *args):
        rendered.append(data.created)
        return real_files(data, *args)

    from ui import caches

    caches.report_data.clear()  # a report built by an earlier test would be reused
    monkeypatch.setattr(service, "report_time", lambda: clock[0])
    monkeypatch.setattr(service, "build_report", build)
    monkeypatch.setattr(service, "report_files", files)
    open_page(app, "pages/views/report.py")
    clock[0] = "2026-01-01 10:20 UTC"
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert rendered == ["2026-01-01 10:00 UTC", "2026-01-01 10:20 UTC"]
    assert len(built) == 1
    assert any("created 2026-01-01 10:20 UTC" in c.value for c in app.caption)


def test_per_digit_verdicts_say_their_own_threshold_and_the_csv_has_them(app, digit_model,
                                                                         mnist, monkeypatch):
    """Issue 27, item 6: under per-digit thresholds the page never shows the pooled number as
    the threshold; each verdict says the threshold it used (its digit's), and the verdicts'
    CSV comes from the shared row function with those verdicts."""
    from ganmc.app import service
    from ganmc.thresholds.decision import Choice, decide

    rows = []
    real_rows = service.score_rows

    def spy(sources, indices, verdicts, *fdr):
        rows.append(list(verdicts))
        return real_rows(sources, indices, verdicts, *fdr)

    monkeypatch.setattr(service, "score_rows", spy)
    det, _ = _judge_digits(app, digit_model, mnist, 4)
    rule = decide(det, Choice()).threshold
    assert rule.per_digit
    texts = [m.value for m in (*app.markdown, *app.caption)]
    assert not any(t.startswith("Threshold **") for t in texts)
    verdicts = rows[-1]
    assert len(verdicts) == 4 and all(v.digit is not None for v in verdicts)
    lines = [m.value for m in app.markdown if m.value.startswith("score **")]
    assert len(lines) == 4
    for v, line in zip(verdicts, lines):
        # its own digit's threshold (which may equal the pooled one: the combined score's
        # values are ranks among the held-out images, so two digits can share a rank)
        assert v.threshold == rule.values(np.array([v.digit]))[0]
        assert f"the {v.digit}s' per-digit threshold {v.threshold:.4g}" in line, line
    assert app.get("download_button")  # the verdicts' CSV


class _Held:
    """A training job that reports one step and runs until stopped, then waits for ``gate``
    before it ends (as a real one calibrates and saves)."""

    def __init__(self, folder):
        import threading

        self.gate, self.folder = threading.Event(), folder

    def __call__(self, job):
        from ganmc.nets.tracker import TrainProgress

        job.report(TrainProgress("gan", 10, 1000, {"d_loss": 1.0, "g_loss": 1.0}, 50.0, 300.0,
                                 0.01), keep=False)
        job.stop_event.wait(120)
        self.gate.wait(120)
        return str(self.folder)


def test_stop_says_stopping_at_once_and_an_ended_job_no_eta(app, tiny_model, monkeypatch):
    """Issue 27, item 7: pressing Stop does not wait for the job; the page that follows says
    "Stopping…" without an ETA, and the stopped job's progress has no ETA either."""
    from ganmc.app import jobs
    from ui import caches

    waited = []
    monkeypatch.setattr(jobs.Job, "wait", lambda self, timeout: waited.append(timeout))
    work = _Held(tiny_model[1])
    open_page(app, "pages/views/train.py")
    job = caches.jobs().start("train", work, owner=app.session_state["session_id"],
                              exclusive=True, params={"name": "held", "preset": "quick"})
    app.session_state["train_job"] = job.id
    try:
        app.run()
        assert "ETA" in app.get("progress")[0].proto.text
        app.button(key="train_stop").click().run()
        assert not app.exception, [e.message for e in app.exception]
        assert waited == []
        text = app.get("progress")[0].proto.text
        assert text.startswith("Stopping…") and "ETA" not in text, text
        assert app.button(key="train_stop").disabled
    finally:
        job.stop()
        work.gate.set()  # the job ends whatever happened: the next test may train
    _wait(app, lambda at: any("Training was stopped" in w.value for w in at.warning))
    assert "ETA" not in app.get("progress")[0].proto.text


def test_a_stopped_models_card_is_measured_with_a_button(app, digit_model, tmp_path):
    """Issue 27, item 7: a model saved by a stopped run has no quality card; the Train page
    offers a button that measures it (the service's assess, as `ganmc assess`)."""
    import shutil

    from ganmc.storage import bundle
    from ui import caches

    _, path = digit_model
    copy = tmp_path / "stopped"
    shutil.copytree(path, copy)
    bundle.update_card(copy, quality=None)
    work = _Held(copy)
    work.gate.set()
    open_page(app, "pages/views/train.py")
    job = caches.jobs().start("train", work, owner=app.session_state["session_id"],
                              exclusive=True, params={"name": "stopped", "preset": "quick"})
    app.session_state["train_job"] = job.id
    job.stop()
    _wait(app, lambda at: any("Training was stopped" in w.value for w in at.warning))
    assert not any("ganmc assess" in i.value for i in app.info)
    app.button(key="train_assess").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert bundle.read_card(copy)["quality"]["reading"]
    assert not app.get("button") or all(b.key != "train_assess" for b in app.button)


def test_the_overview_says_the_training_speed_in_plain_numbers(app, tiny_model):
    """Issue 27, item 9: the Overview's training line says the model's speed as a whole
    number with separators ("2,435 images/s"), not its raw value ("2435.0 images/s")."""
    det, _ = tiny_model
    open_page(app, "pages/views/home.py")
    assert not app.exception, [e.message for e in app.exception]
    text = " ".join(m.value for m in app.markdown)
    rate = det.metadata_["train_images_per_s"]
    assert f"({rate:,.0f} images/s)" in text and f"{rate} images/s" not in text


def test_the_report_page_offers_the_export_as_a_zip(app, mnist, monkeypatch, tmp_path):
    """Take the detector elsewhere: the folder ``ganmc export`` writes, zipped, for the page's
    score and threshold; unzipped, it judges as the page does. A threshold that cannot be
    exported gets one line in the page."""
    import zipfile

    from ganmc.app import service
    from ganmc.deploy import predict
    from tests.integration.test_export import require
    from ui import caches

    require("tf2onnx", "onnxruntime")
    made = []
    real = service.export_zip

    def spy(det, decision, fmt):
        made.append((det, decision, real(det, decision, fmt)))
        return made[-1][2]

    monkeypatch.setattr(service, "export_zip", spy)
    caches.export_zip.clear()
    open_page(app, "pages/views/report.py")
    buttons = len(app.get("download_button"))
    app.button(key="export_prepare").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert len(made) == 1 and len(app.get("download_button")) == buttons + 1
    det, decision, (name, data) = made[0]
    assert name.endswith("-onnx.zip")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(tmp_path)
    folder = tmp_path / name.removesuffix(".zip")
    x = mnist.x_test[:50]
    ours = predict.Export(folder).judge(x)
    theirs = service.score(det, x, decision)
    np.testing.assert_array_equal(ours.anomaly, [v.is_anomaly for v in theirs])
    np.testing.assert_allclose(ours.score, [v.score for v in theirs], rtol=1e-4)
    app.run()  # a later run offers the same zip without exporting again
    assert len(made) == 1 and len(app.get("download_button")) == buttons + 1

    app.selectbox(key="w_report_calibration").set_value("monte-carlo").run()
    app.button(key="export_prepare").click().run()
    assert not app.exception
    assert any("Not exported: " in e.value and "Monte Carlo threshold is not exported"
               in e.value for e in app.error)
    assert len(app.get("download_button")) == buttons


@pytest.mark.parametrize("field, value", [
    ("quality.false_alarm", {"abc": 0.05}), ("quality.detection_alpha", "x"),
    ("metadata.passes_done", 5), ("metadata.steps_planned", 3),
])
def test_a_tampered_card_is_an_error_in_the_page_not_a_traceback(app, tiny_model, tmp_path,
                                                                  field, value):
    """Issue 34, item 12: these fields broke the Overview with a traceback."""
    import shutil

    model = tmp_path / "tampered"
    shutil.copytree(tiny_model[1], model)
    card = json.loads((model / "ganmc.json").read_text())
    where, key = field.split(".")
    card[where] = {**(card[where] or {}), key: value}
    if key == "steps_planned":
        card["metadata"]["stopped_early"] = True
    (model / "ganmc.json").write_text(json.dumps(card))
    app.session_state["model"] = str(model)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert any(f"bad model card: {field}" in e.value for e in app.error)


# --------------------------------------------------------------------------- issue 36
def _noise_uploads(n):
    rng = np.random.default_rng(3)
    return [(f"noise{i}.png", _png(rng.integers(0, 256, (28, 28)).astype(np.uint8)),
             "image/png") for i in range(n)]


def test_detect_page_says_the_drift_alarm_with_its_way_out_and_the_batch(app, digit_model,
                                                                         mnist):
    """Digits like the calibration images: a quiet drift line, its curve, and the batch's
    false discovery rate. Then noise: the alarm in plain words, with the calibrate button in
    it, the curve, and each row's verdict in the batch."""
    _judge_digits(app, digit_model, mnist, 6)
    assert not app.error
    assert any(c.value.startswith("Drift check: Over 6 images") for c in app.caption)
    assert app.get("plotly_chart")  # the histogram and the drift curve
    batch = next(i.value for i in app.info if i.value.startswith("**As a batch**"))
    assert "false discovery rate 5 %" in batch and "judged one by one at 5 %" in batch
    uploads, _ = _digit_uploads(mnist, n=6)
    app.file_uploader(key="uploads_0").set_value(uploads + _noise_uploads(10)).run()
    assert not app.exception, [e.message for e in app.exception]
    alarm = next(e.value for e in app.error if "not like the ones" in e.value)
    assert alarm.startswith("**These images are not like the ones the threshold was calibrated "
                            "on: the 5 % promise does not hold for them.**")
    assert "at image" in alarm and "of 16" in alarm
    assert any("calibrate on your own normal images" in m.value for m in app.markdown)
    assert app.button(key="det_drift_calibrate").label.startswith("Calibrate on these images")
    rows = [m.value for m in app.markdown if m.value.startswith("score **")]
    assert sum("in the batch: **flagged**" in r for r in rows) >= 10


def test_detect_page_offers_the_pac_threshold_with_its_confidence(app, digit_model, mnist):
    det, _ = _judge_digits(app, digit_model, mnist, 4)
    assert not app.get("number_input")  # no confidence until a PAC source is chosen
    app.selectbox(key="w_detect_calibration").set_value("pac").run()
    assert not app.exception, [e.message for e in app.exception]
    note = next(c.value for c in app.caption if c.value.startswith("Threshold **"))
    assert "pac calibration" in note and "PAC threshold: with probability at least 90 %" in note
    at_90 = float(note.split("Threshold **")[1].split("**")[0])
    app.number_input(key="w_detect_pac_confidence").set_value(99.0).run()
    note = next(c.value for c in app.caption if c.value.startswith("Threshold **"))
    assert "at least 99 %" in note
    assert float(note.split("Threshold **")[1].split("**")[0]) >= at_90
    held = det.holdout_scores_[det.scorer_]
    from ganmc.thresholds.distribution import Level
    from ganmc.thresholds.ranks import pac_rank

    assert f"{held[pac_rank(len(held), Level(0.05), 0.01) - 1]:.4g}" in note


def test_the_pac_threshold_with_too_few_images_says_so_on_the_page(app, digit_model, mnist,
                                                                   tmp_path):
    from ganmc.app import service

    _, path = digit_model
    own = tmp_path / "own"
    service.calibrate_on(path, mnist.x_test[np.isin(mnist.y_test, (1, 7))][:30],
                         name="thirty", out=own)
    app.session_state["model"] = str(own)
    open_page(app, "pages/views/detect.py")
    app.selectbox(key="w_detect_calibration").set_value("pac").run()
    assert not app.exception, [e.message for e in app.exception]
    message = next(i.value for i in app.info if "no threshold can promise" in i.value)
    assert message.startswith("with 30 calibration images no threshold can promise at most 5 % "
                              "false alarms with 90 % confidence: that takes at least 45")
    assert message.endswith("Choose another threshold source, a lower percentile or PAC "
                            "confidence.")


def test_monte_carlo_page_reads_its_scores_against_real_ones(app):
    open_page(app, "pages/views/monte_carlo.py")  # the tiny model's stored run
    box = next(b.value for b in (*app.warning, *app.info)
               if b.value.startswith("**Monte Carlo against real.**"))
    assert "Kolmogorov-Smirnov" in box and "Measured on" in box


def test_overview_has_the_pac_line(app, tiny_model):
    open_page(app, "pages/views/home.py")
    assert any("**PAC threshold**: with probability at least 90 %" in m.value
               for m in app.markdown)


# ------------------------------------------------------------------ your own pictures (#33)
def _zip_of(folder) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, "mine/" + str(p.relative_to(folder)))
        z.writestr("../outside.png", b"x")
    return buf.getvalue()


@pytest.mark.slow
def test_training_on_an_uploaded_zip_from_the_page(app, tmp_path, mnist):
    """The Train page reads an uploaded zip, says what it found (with the bad member and the
    file that is no picture by name), shows the grid, and trains a model of its classes in
    the framing chosen."""
    from tests.conftest import own_pictures

    # 80 pictures: the quarter held out (20) is enough for a threshold at 5 % (19)
    data = own_pictures(tmp_path / "pictures", mnist, per_class=40, anomalies=6)
    open_page(app, "pages/views/train.py")
    app.radio(key="w_train_source").set_value("own").run()
    app.radio(key="w_train_framing").set_value("whole").run()
    app.file_uploader(key="train_uploads").set_value(
        [("mine.zip", _zip_of(data), "application/zip")]).run()
    assert not app.exception, [e.message for e in app.exception]
    said = " ".join(m.value for m in app.markdown)
    assert "80 pictures in 2 classes (normal/CLASS/): ones 40, sevens 40" in said
    assert "anomaly (only to measure the model, never trained on): 6 pictures" in said
    assert "normal/ones/notes.png" in said and "../outside.png" in said
    grid = next(iter(app.get("image")))
    assert "ones · sevens · anomaly" in grid.captions[0]
    table = next(d.value for d in app.dataframe if "why" in d.value.columns)
    assert set(table["file"]) == {"normal/ones/notes.png", "../outside.png"}
    app.radio(key="w_train_arch").set_value("mlp")
    app.number_input(key="w_train_steps").set_value(16)
    app.number_input(key="w_train_enc_steps").set_value(0)
    app.text_input(key="w_train_name").set_value("from-zip")
    app.button(key="train_start").click()
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert any("normal ones, sevens (whole image framing)" in c.value for c in app.caption)
    _wait(app, lambda at: any("Saved to" in s.value for s in at.success), timeout=300)
    card = json.loads((tmp_path / "models" / "from-zip" / "ganmc.json").read_text())
    assert card["framing"] == "whole" and card["config"]["classes"] == ["ones", "sevens"]
    assert card["metadata"]["data_source"] == "mine.zip"


def test_the_train_page_reads_a_folder_and_says_why_it_cannot_train(app, tmp_path, mnist):
    from tests.conftest import own_pictures

    data = own_pictures(tmp_path / "pictures", mnist, per_class=4, anomalies=0)
    open_page(app, "pages/views/train.py")
    app.radio(key="w_train_source").set_value("own").run()
    app.radio(key="w_train_from").set_value("folder").run()
    app.text_input(key="w_train_folder").set_value(str(tmp_path / "nowhere")).run()
    assert not app.exception, [e.message for e in app.exception]
    assert any("no such folder" in e.value for e in app.error)
    app.text_input(key="w_train_folder").set_value(str(data)).run()
    assert any("8 pictures in 2 classes" in m.value for m in app.markdown)
    assert any("Cannot train on these pictures" in e.value for e in app.error)
    app.button(key="train_start").click().run()
    assert any("Training was not started" in e.value and "at least 10" in e.value
               for e in app.error)


def test_detect_page_frames_uploads_as_the_model_and_names_its_classes(app, own_model):
    """A whole-image model of named classes: an upload is framed as its training pictures
    were (what the model sees is the whole picture, not an ink box), each verdict names the
    class it was taken for, and the per-class table names the classes."""
    from ganmc.images.preprocess import to_whole

    det, path, data = own_model
    app.session_state["model"] = str(path)
    open_page(app, "pages/views/detect.py")
    pic = (data / "normal" / "sevens" / "001.png").read_bytes()
    app.file_uploader(key="uploads_0").set_value([("seven.png", pic, "image/png")]).run()
    assert not app.exception, [e.message for e in app.exception]
    seen = app.session_state["scored"][0][1]
    np.testing.assert_array_equal(seen, to_whole(np.asarray(Image.open(io.BytesIO(pic))
                                                            .convert("L"))))
    taken = [m.value for m in app.markdown if m.value.startswith("taken for")]
    assert taken and taken[0] in ('taken for **ones**', 'taken for **sevens**')
    table = _per_digit_table(app)
    assert list(table["class"]) == ["ones", "sevens"]
    assert any(c.value.startswith("Per-class thresholds") for c in app.caption)
    assert any("whole image, as its training pictures were" in c.value for c in app.caption)
    assert any("Examples: the model's own held-out pictures" in s.value for s in app.subheader)


def test_one_decision_per_user_action(app, monkeypatch):
    """Issue 35 (design): the sidebar and the page each decided the threshold on their own,
    again on every rerun. Now one Decision is built per user action: the sidebar and the page
    share it, a rerun with the same settings builds none, a moved slider builds one."""
    from ganmc.model.detector import Detector

    built = []
    real = Detector.calibration_of

    def counted(self, scorer, source="auto", *args, **kwargs):
        built.append(source)
        return real(self, scorer, source, *args, **kwargs)

    monkeypatch.setattr(Detector, "calibration_of", counted)
    open_page(app, "pages/views/detect.py")
    first = len(built)
    app.run()
    assert not app.exception and len(built) == first
    app.slider(key="w_detect_percentile").set_value(99.0).run()
    assert not app.exception and len(built) == first + 1
    assert app.session_state["percentile"] == 99.0
    sidebar = " ".join(c.value for c in app.sidebar.caption)
    assert "99th percentile" in sidebar
