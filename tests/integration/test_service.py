"""The service layer's guards around training: one writer per folder, storage checked first,
names checked before any work."""

from __future__ import annotations

import os
import threading

import pytest

from ganmc.app import service
from ganmc.core.errors import FolderBusyError, GanmcError, ModelError, StorageError

TINY = dict(arch="mlp", epochs=1, encoder_epochs=0, batch_size=256, mc_samples=0,
            jit_compile=False)


def test_a_second_training_into_the_same_folder_is_refused(tmp_path):
    """While one run trains into a folder (it holds the folder's lock), a second is refused
    at once with one line, and the first one's model is saved whole."""
    out = tmp_path / "same"
    started, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def progress(p):
        started.set()
        release.wait(60)

    def first():
        try:
            service.train(out, data="bundled", digits=(1,), progress=progress, **TINY)
        except Exception as exc:  # reported below
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    assert started.wait(120)
    with pytest.raises(FolderBusyError) as info:
        service.train(out, data="bundled", digits=(1,), **TINY)
    assert "\n" not in str(info.value)
    with pytest.raises(ModelError, match="writing this model now"):
        service.model_folder(tmp_path, "same")
    release.set()
    worker.join(300)
    assert not errors and (out / "ganmc.json").is_file()
    assert not (tmp_path / ".same.ckpt").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_models_folder_is_refused_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(StorageError):
            service.train(ro / "m", data="bundled", digits=(1,), **TINY)
    finally:
        ro.chmod(0o755)


def test_a_missing_parent_that_cannot_be_made_is_refused_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(GanmcError) as info:
        service.train(blocker / "models" / "m", data="bundled", digits=(1,), **TINY)
    assert "\n" not in str(info.value)


def test_names_are_checked_before_work(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "ganmc.json").write_text("{}")
    with pytest.raises(ModelError, match="saved model has this name"):
        service.model_folder(tmp_path, "taken")
    assert service.model_folder(tmp_path, "taken", replace=True) == tmp_path / "taken"
    with pytest.raises(ModelError, match="no interrupted run"):
        service.model_folder(tmp_path, "fresh", resume=True)
    (tmp_path / ".fresh.ckpt").mkdir()
    with pytest.raises(ModelError, match="checkpoint"):
        service.model_folder(tmp_path, "fresh")
    assert service.model_folder(tmp_path, "fresh", resume=True).name == "fresh"


@pytest.mark.slow
def test_the_speed_estimate_warms_the_batch_size_it_times(tiny_model, monkeypatch):
    """The estimate before a Monte Carlo run times one batch of a run's size after a warm-up
    of that same size: XLA compiles the bfloat16 copies' dense layers once per batch shape,
    so a warm-up of another size would leave the compiling inside the timed batch."""
    from ganmc.scores import scoring

    det, _ = tiny_model
    sizes = []
    sample = det.sample_scores
    monkeypatch.setattr(det, "sample_scores", lambda n, *a: sizes.append(n) or sample(n, *a))
    assert service.measure_simulation_speed(det, scorer="discriminator",
                                            precision="bfloat16") > 0
    assert sizes == [scoring.default_batch_size("discriminator")] * 2
