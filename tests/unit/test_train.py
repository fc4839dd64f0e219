import threading

import numpy as np
import pytest

from ganmc import train
from ganmc.config import TrainConfig
from ganmc.errors import TrainingError
from ganmc.train import checkpoint_dir, fit_networks, read_checkpoint

CFG = dict(arch="mlp", epochs=2, encoder_epochs=1, batch_size=64, latent_dim=16, seed=0)


def test_progress_reports_and_samples(tiny_train):
    reports = []
    result = fit_networks(tiny_train[:256], TrainConfig(**CFG), progress=reports.append)
    ends = [r for r in reports if r.epoch_end]
    assert [(r.phase, r.epoch) for r in ends] == [("gan", 1), ("gan", 2), ("encoder", 1)]
    assert ends[0].samples.shape == (16, 28, 28) and ends[0].samples.dtype == np.uint8
    assert ends[-1].fraction == pytest.approx(1.0)
    assert all(0 <= r.fraction <= 1 for r in reports)
    assert result.epochs_done == 3 and not result.stopped
    assert len(result.history["d_loss"]) == 2 and len(result.history["e_loss"]) == 1
    assert result.device.startswith(("CPU", "GPU"))


def test_steps_run_several_per_compiled_call(tiny_train):
    reports = []
    result = fit_networks(tiny_train[:1024], TrainConfig(**{**CFG, "encoder_epochs": 0}),
                          progress=reports.append)  # 16 steps an epoch: two calls of 8
    steps = {r.step for r in reports if not r.epoch_end}
    assert 16 in steps and steps <= {train.STEPS_PER_CALL, 16}
    assert result.images_per_s > 0


def test_stop_event_stops_between_steps(tiny_train):
    stop = threading.Event()

    def progress(p):
        if p.step >= 1:
            stop.set()

    result = fit_networks(tiny_train[:512], TrainConfig(**{**CFG, "epochs": 50}),
                          progress=progress, stop_event=stop)
    assert result.stopped and result.epochs_done < 50


def test_checkpoint_each_epoch_and_resume(tiny_train, tmp_path):
    ckpt = checkpoint_dir(tmp_path / "model")
    assert ckpt.name == ".model.ckpt"  # hidden: no model name can reach it
    fit_networks(tiny_train[:256], TrainConfig(**{**CFG, "encoder_epochs": 0}), checkpoint=ckpt)
    state = read_checkpoint(ckpt)
    assert state["phase"] == "gan" and state["epoch"] == 2
    assert (ckpt / "generator.weights.h5").exists()
    reports = []
    more = TrainConfig(**{**CFG, "epochs": 3, "encoder_epochs": 1})
    fit_networks(tiny_train[:256], more, checkpoint=ckpt, resume=True, progress=reports.append)
    done = [(r.phase, r.epoch) for r in reports if r.epoch_end]
    assert done == [("gan", 3), ("encoder", 1)]  # epochs 1-2 were not redone
    assert read_checkpoint(ckpt)["phase"] == "encoder"


def test_resume_refuses_another_architecture(tiny_train, tmp_path):
    ckpt = tmp_path / "m.ckpt"
    fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "epochs": 1, "encoder_epochs": 0}),
                 checkpoint=ckpt)
    with pytest.raises(TrainingError, match="latent_dim"):
        fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "latent_dim": 8}), checkpoint=ckpt,
                     resume=True)


def test_nan_losses_stop_with_a_clear_error(tiny_train, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "to_model_input",
                        lambda x: np.full((len(x), 28, 28, 1), np.nan, np.float32))
    with pytest.raises(TrainingError, match="NaN"):
        fit_networks(tiny_train[:128], TrainConfig(**CFG), checkpoint=tmp_path / "c")
    assert read_checkpoint(tmp_path / "c") is None  # no bad checkpoint was written


def test_bfloat16_training_gives_a_float32_model(tiny_train):
    result = fit_networks(tiny_train[:256], TrainConfig(**{**CFG, "precision": "bfloat16"}))
    assert all(np.isfinite(v).all() for v in result.history.values())
    for net in (result.generator, result.discriminator, result.encoder):
        assert all(layer.dtype_policy.name == "float32" for layer in net.layers)
    out = result.generator(np.zeros((2, 16), np.float32))
    assert out.dtype == "float32" and out.shape == (2, 28, 28, 1)


def test_xla_can_be_forced_either_way(tiny_train):
    for jit in (True, False):
        result = fit_networks(tiny_train[:128],
                              TrainConfig(**{**CFG, "epochs": 1, "encoder_epochs": 0,
                                             "jit_compile": jit}))
        assert np.isfinite(result.history["d_loss"][0])


def test_a_run_of_one_compiled_call_still_reports_its_speed(tiny_train):
    """One epoch of one compiled call is all tracing: its speed is timed with the tracing
    instead of being reported as 0 images/s."""
    result = fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "epochs": 1,
                                                           "encoder_epochs": 0}))
    assert result.images_per_s > 0


def test_resume_refuses_another_split_or_a_damaged_checkpoint(tiny_train, tmp_path):
    """The seed and the hold-out share decide the split: resuming with others would train on
    held-out images. A damaged state file is refused, not taken for no checkpoint."""
    ckpt = checkpoint_dir(tmp_path / "model")
    cfg = TrainConfig(**{**CFG, "epochs": 1, "encoder_epochs": 0})
    fit_networks(tiny_train[:128], cfg, checkpoint=ckpt)
    with pytest.raises(TrainingError, match="seed"):
        fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "epochs": 2, "encoder_epochs": 0,
                                                      "seed": 1}),
                     checkpoint=ckpt, resume=True)
    (ckpt / "state.json").write_text("{not json")
    with pytest.raises(TrainingError, match="unreadable"):
        read_checkpoint(ckpt)
