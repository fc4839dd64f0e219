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

    import ui.state

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(ui.state, "MODELS_DIR", tmp_path / "models")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model"] = str(tiny_model[1])
    return at


def open_page(at, page: str):
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


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
    """Before a run the page says how long it should take (from the model's own run, then
    from this session's), runs it, and keeps it."""
    open_page(app, "pages/views/monte_carlo.py")
    app.number_input(key="w_mc_mc_samples").set_value(3000).run()
    assert any(c.value.startswith("3,000 samples should take about") and "model's own run"
               in c.value for c in app.caption)
    app.button(key="mc_run").click().run()
    _wait(app, lambda at: any("3,000 samples in" in c.value for c in at.caption))
    assert app.button(key="mc_run").disabled  # cached: no second simulation of the same run
    assert not any("should take about" in c.value for c in app.caption)
    app.number_input(key="w_mc_mc_samples").set_value(5000).run()
    assert any(c.value.startswith("5,000 samples should take about") and "your last run"
               in c.value for c in app.caption)


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

    from ganmc import service

    gate, real_train = threading.Event(), service.train

    def held_train(*args, **kwargs):  # the job waits until the other session has looked
        gate.wait(120)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(service, "train", held_train)
    open_page(app, "pages/views/train.py")
    app.selectbox(key="train_data").set_value("bundled")
    app.radio(key="train_arch").set_value("mlp")
    app.number_input(key="train_steps").set_value(16)
    app.number_input(key="train_enc_steps").set_value(0)
    app.select_slider(key="train_batch").set_value(512)
    app.number_input(key="train_kappa").set_value(7.5)
    app.text_input(key="train_name").set_value("tiny-ui")
    app.button(key="train_start").click()
    app.run()
    assert not app.exception
    # Meanwhile another user (another session) sees the job and cannot start a second one.
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    other.session_state["model"] = str(tiny_model[1])
    open_page(other, "pages/views/train.py")
    assert any(s.value.startswith("Job tiny-ui — running") for s in other.subheader)
    assert other.button(key="train_start").disabled
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


def test_clearing_the_canvas_takes_its_verdict_away(app, mnist):
    """A drawing's verdict goes when the canvas is cleared; uploaded images keep theirs. (The
    canvas is a browser component: the drawing is put in the session as the page keeps it.)"""
    open_page(app, "pages/views/detect.py")
    digit = _png(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8)))
    app.session_state["scored"] = [("drawing", mnist.x_test[1])]
    app.file_uploader(key="uploads_0").set_value([("digit.png", digit, "image/png")]).run()
    assert [n for n, _ in app.session_state["scored"]] == ["drawing", "digit.png"]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 2
    app.button(key="canvas_clear").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert [n for n, _ in app.session_state["scored"]] == ["digit.png"]
    assert len([m for m in app.markdown if "ganmc-verdict" in m.value]) == 1


def test_the_train_page_says_what_a_model_name_is_saved_as(app):
    open_page(app, "pages/views/train.py")
    app.text_input(key="train_name").set_value("../evil").run()
    assert any("Will be saved as **evil**" in c.value for c in app.caption)
    app.text_input(key="train_name").set_value("fine-name").run()
    assert not any("Will be saved as" in c.value for c in app.caption)
    app.text_input(key="train_name").set_value("..").run()
    assert any(w.value.startswith("'..' is not a usable model name") for w in app.warning)


def test_training_settings_are_kept_across_pages_and_need_the_button(app):
    """Settings typed on the Train page stay after a visit elsewhere, and nothing but the
    Start button starts a job (there is no form that Enter would submit)."""
    open_page(app, "pages/views/train.py")
    app.number_input(key="train_steps").set_value(300).run()
    app.radio(key="train_preset").set_value("quick").run()
    app.text_input(key="train_name").set_value("kept-name").run()
    assert app.session_state["kept_train_steps"] == 300
    from ui import state

    assert state.jobs().latest("train", owner=app.session_state["session_id"]) is None
    app.switch_page("pages/views/home.py")
    app.run()
    app.switch_page("pages/views/train.py")
    app.run()
    assert app.number_input(key="train_steps").value == 300
    assert app.radio(key="train_preset").value == "quick"
    assert app.text_input(key="train_name").value == "kept-name"
    assert not app.get("form")


def test_train_page_defaults_are_the_cli_defaults(app):
    from ganmc.cli import build_parser
    from ganmc.config import AUTO, TrainConfig
    from ganmc.presets import PRESETS

    cli = build_parser().parse_args(["train"])
    open_page(app, "pages/views/train.py")
    assert app.radio(key="train_preset").value == cli.preset
    assert app.radio(key="train_preset").options == list(PRESETS)  # every preset can start
    assert app.number_input(key="train_steps").value == cli.steps  # None: the preset's
    assert app.number_input(key="train_enc_steps").value == cli.encoder_steps
    assert app.select_slider(key="train_batch").value == TrainConfig(
        preset=cli.preset, batch_size=cli.batch_size).batch_size
    assert app.number_input(key="train_kappa").value == cli.kappa
    assert app.selectbox(key="train_data").value == cli.data
    assert cli.arch is None  # the preset's network ...
    assert app.radio(key="train_arch").value == AUTO  # ... which the page shows as its choice
    assert app.radio(key="train_arch").options[0] == f"the preset's ({PRESETS['standard'].arch})"
    assert app.number_input(key="train_rotation").value == cli.rotation_weight
    assert app.number_input(key="train_jigsaw").value == cli.jigsaw_weight


def _per_digit_table(at):
    """The Detect page's table of false alarms per digit (None when not shown)."""
    return next((d.value for d in at.dataframe if "threshold used" in d.value.columns), None)


def _digit_uploads(mnist, digits=(1, 7), n=24):
    """n bundled test digits of ``digits`` as uploaded PNG files (dark ink on white)."""
    idx = np.flatnonzero(np.isin(mnist.y_test, digits))[:n]
    return [(f"d{i}-{mnist.y_test[i]}.png",
             _png(255 - np.kron(mnist.x_test[i], np.ones((6, 6), np.uint8))), "image/png")
            for i in idx], mnist.y_test[idx]


def test_detect_page_says_which_digit_and_the_false_alarms_per_digit(app, digit_model, mnist):
    """A model with per-digit Gaussians: each verdict says the digit the image was taken for,
    and the per-digit false alarms of the held-out images are in a table, one row a digit."""
    det, path = digit_model
    app.session_state["model"] = str(path)
    open_page(app, "pages/views/detect.py")
    uploads, labels = _digit_uploads(mnist, n=6)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    assert not app.exception, [e.message for e in app.exception]
    taken = [m.value for m in app.markdown if m.value.startswith("taken for a")]
    assert len(taken) == 6
    said = [int(t.strip("*").split("**")[-1]) for t in taken]
    assert sum(s == y for s, y in zip(said, labels)) >= 5  # clear 1s and 7s are told apart
    table = _per_digit_table(app)
    assert list(table["digit"]) == [1, 7]
    expected = det.holdout_digits_[det.scorer_]
    assert list(table["normal images"]) == [int(np.sum(expected == 1)),
                                              int(np.sum(expected == 7))]
    assert set(table["threshold used"]) <= {"the digit's own", "pooled (too few images)"}
    assert any("false-alarm rate holds for every digit" in c.value for c in app.caption)
    note = next(c.value for c in app.caption if c.value.startswith("Threshold "))
    assert "per-digit calibration" in note and "threshold auto → per-digit: a threshold for " \
        "each digit" in note and "monte-carlo" not in note, note
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


def test_detect_page_points_photographs_to_fanogan_under_a_gaussian_score(app, mnist):
    open_page(app, "pages/views/detect.py")  # the tiny model: auto is fanogan
    uploads, _ = _digit_uploads(mnist, n=1)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    assert not any(c.value.startswith("Photographs") for c in app.caption)
    app.selectbox(key="w_detect_scorer").set_value("mahalanobis").run()
    assert not app.exception, [e.message for e in app.exception]
    assert any(c.value.startswith("Photographs") and "choose the fanogan score" in c.value
               for c in app.caption)


def test_calibrate_on_the_detect_pages_images(app, digit_model, mnist, tmp_path):
    """Too few images: the button waits and says how many more. Enough: a copy of the model
    is calibrated on them (the model itself untouched), becomes the session's model, and the
    page gives the new threshold and the false-alarm band for that many images."""
    from ganmc import bundle, service
    from ganmc.calibration import far_band

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
    threshold = service.decide(det, service.Choice()).threshold
    lo, hi = far_band(24, 0.05)
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
    import ui.state

    _, path = digit_model
    app.session_state["model"] = str(path)
    open_page(app, "pages/views/detect.py")
    blocked = Path(app.session_state["model"]).parent / "not-a-folder"
    blocked.write_text("a file where the models folder should be")
    monkeypatch.setattr(ui.state, "MODELS_DIR", blocked)
    uploads, _ = _digit_uploads(mnist, n=20)
    app.file_uploader(key="uploads_0").set_value(uploads).run()
    app.button(key="det_calibrate").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert any(e.value.startswith("The model could not be calibrated:") for e in app.error)
    assert app.session_state["model"] == str(path)
    blocked.unlink()
