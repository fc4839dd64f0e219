"""Two dashboard sessions at once: one trains, the other detects; neither disturbs the other."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def session(model_path):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model"] = str(model_path)
    return at


def go(at, page):
    at.run()
    at.switch_page(f"pages/views/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]


@pytest.mark.slow
def test_one_trains_while_another_detects(tiny_model, tmp_path, monkeypatch, mnist):
    import ui.session

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(ui.session, "MODELS_DIR", tmp_path / "models")
    trainer, detector = session(tiny_model[1]), session(tiny_model[1])

    go(trainer, "train")
    trainer.selectbox(key="w_train_data").set_value("bundled")
    trainer.radio(key="w_train_arch").set_value("mlp")
    trainer.number_input(key="w_train_steps").set_value(8000)  # long enough to overlap; stopped
    trainer.number_input(key="w_train_enc_steps").set_value(0)
    trainer.select_slider(key="w_train_batch").set_value(32)
    trainer.text_input(key="w_train_name").set_value("concurrent")
    trainer.button(key="train_start").click()
    trainer.run()
    assert not trainer.exception

    # The other user detects meanwhile, on the shared model cache.
    go(detector, "detect")
    digit = 255 - np.kron(mnist.x_test[3], np.ones((6, 6), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(digit).save(buf, format="PNG")
    detector.file_uploader(key="uploads_0").set_value(("d.png", buf.getvalue(), "image/png"))
    detector.run()
    assert not detector.exception
    assert any("ganmc-verdict" in m.value for m in detector.markdown)

    # ... and sees the running job on the Train page, with Start disabled (one job at a time).
    go(detector, "train")
    running = any("— running" in s.value for s in detector.subheader)
    if running:
        assert detector.button(key="train_start").disabled
        assert detector.button(key="train_stop")  # the shared job can be watched

    # Each session keeps its own state.
    assert len(detector.session_state["scored"]) == 1
    assert trainer.session_state["scored"] == []
    assert trainer.session_state["session_id"] != detector.session_state["session_id"]

    assert running, "the training job had finished before the other session looked"
    trainer.run()
    trainer.button(key="train_stop").click().run()  # Stop: the finished epochs are kept
    end = time.time() + 300
    while time.time() < end:
        trainer.run()
        if any("stopped" in w.value for w in trainer.warning):
            break
        time.sleep(1)
    assert (tmp_path / "models" / "concurrent" / "ganmc.json").is_file()
    assert detector.session_state["model"] == str(tiny_model[1])  # untouched by the other
