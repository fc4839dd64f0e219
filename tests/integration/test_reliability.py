"""Guarantees: no half-written or unsafe model loads, a killed training run resumes, no NaN
score passes silently."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from ganmc import load_model
from ganmc.core.errors import ModelError, StorageError
from ganmc.nets.train import read_checkpoint


def test_crash_while_saving_keeps_the_previous_model(tiny_model, tmp_path, monkeypatch):
    det, path = tiny_model
    target = tmp_path / "model"
    shutil.copytree(path, target)
    before = (target / "ganmc.json").read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(det.networks_.encoder, "save", crash)
    with pytest.raises(StorageError, match="disk full"):  # one line, for the user
        det.save(target)
    assert (target / "ganmc.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model"]  # no temporary
    load_model(target)  # still a whole model


def test_code_in_a_model_file_is_refused(tiny_model, tmp_path):
    _, path = tiny_model
    evil = tmp_path / "evil"
    shutil.copytree(path, evil)
    z = keras.Input((64,))
    out = keras.layers.Lambda(lambda t: keras.ops.reshape(keras.ops.tanh(t[:, :1]) *
                                                          keras.ops.ones((1, 784)),
                                                          (-1, 28, 28, 1)))(z)
    keras.Model(z, out).save(evil / "generator.keras")
    # refused from its config, before Keras reads it (whose safe mode refuses it too)
    with pytest.raises(ModelError, match=r"generator\.keras: cannot load: its layer .* is a "
                                         r"Lambda, a kind of layer ganmc's networks are not"):
        load_model(evil)


def test_truncated_model_file_is_refused(tiny_model, tmp_path):
    _, path = tiny_model
    cut = tmp_path / "cut"
    shutil.copytree(path, cut)
    data = (cut / "discriminator.keras").read_bytes()
    (cut / "discriminator.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="discriminator.keras"):
        load_model(cut)


def test_nan_scores_never_pass_silently(tiny_model, tmp_path, mnist):
    _, path = tiny_model
    det = load_model(path)
    for w in det.networks_.encoder.weights:
        w.assign(np.full(w.shape, np.nan, np.float32))
    # the compiled scoring functions read the same variables: no re-tracing needed
    with pytest.raises(ModelError, match="NaN"):
        det.score_samples(mnist.x_test[:3], scorer="fanogan")


#: The rounds of a 4,000-step run (all of one size: 20 rounds of 200).
ROUND = 200


@pytest.mark.slow
def test_killed_training_resumes_losing_at_most_one_round(tmp_path):
    out = tmp_path / "m"
    ckpt = tmp_path / ".m.ckpt"
    # One digit: the rounds are as many (they follow the steps), the held-out images that
    # are calibrated and the networks that are trained fewer.
    cmd = [sys.executable, "-m", "ganmc.cli", "train", "--data", "bundled", "--digits", "3",
           "--arch", "mlp", "--steps", "4000", "--encoder-steps", "0", "--batch-size", "32",
           "--mc-samples", "500", "--out", str(out)]
    env = {**os.environ, "GANMC_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 240
    state = None
    while time.time() < deadline:
        state = read_checkpoint(ckpt)
        if state and state["step"] >= 2 * ROUND:
            break
        time.sleep(0.2)
    assert state and state["step"] >= 2 * ROUND, "no checkpoint appeared"
    time.sleep(0.6)  # now mid-round
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()  # no half-written model folder
    saved = read_checkpoint(ckpt)
    assert saved is not None and saved["phase"] == "gan"
    done_before_kill = saved["step"]
    rounds_before = done_before_kill // ROUND

    resumed = subprocess.run(cmd + ["--resume", "--steps", str(done_before_kill + ROUND)],
                             env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming from the checkpoint: {done_before_kill:,} GAN steps done" in \
        resumed.stderr
    card = json.loads((out / "ganmc.json").read_text())
    assert card["metadata"]["gan_steps_done"] == done_before_kill + ROUND
    # only the missing steps were trained: the rounds of the new plan that end after them
    from ganmc.nets.train import plan_rounds

    assert plan_rounds(4000) == [ROUND] * 20
    ran = sum(end > done_before_kill for end in np.cumsum(plan_rounds(done_before_kill + ROUND)))
    assert len(card["metadata"]["history"]["d_loss"]) == rounds_before + ran
    det = load_model(out)
    assert np.isfinite(det.score_samples(np.zeros((2, 28, 28), np.uint8))).all()
    assert not ckpt.exists()
