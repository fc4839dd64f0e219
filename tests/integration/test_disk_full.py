"""Issue 28: a full disk while training, checkpointing, saving or calibrating is one line
(``ganmc COMMAND: error: ...``, status 2), never a traceback, and leaves no temporaries."""

from __future__ import annotations

import errno
import shutil

import keras
import numpy as np
import pytest

from ganmc import cli, load_model
from ganmc.storage import bundle

TRAIN = ["train", "--data", "bundled", "--digits", "1", "--arch", "mlp", "--steps", "16",
         "--encoder-steps", "0", "--mc-samples", "0", "--batch-size", "16"]


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"ganmc {command}: error: ")
    return line


def temporaries(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp-" in p.name or ".new" in p.name)


@pytest.mark.slow
@pytest.mark.parametrize("write", ["save_weights", "save"])  # the checkpoint, the model
def test_disk_full_while_training(tmp_path, capsys, monkeypatch, write):
    monkeypatch.setattr(keras.Model, write, disk_full)
    rc = cli.main([*TRAIN, "--out", str(tmp_path / "m")])
    line = one_error_line(capsys, "train")
    assert rc == 2
    assert "cannot write (No space left on device); what was there before is kept" in line
    assert temporaries(tmp_path) == []
    assert not (tmp_path / "m").exists()


def test_disk_full_while_calibrating_keeps_the_model(tmp_path, capsys, monkeypatch,
                                                      tiny_model, mnist):
    _, path = tiny_model
    model = tmp_path / "model"
    shutil.copytree(path, model)
    card = (model / bundle.CARD).read_text()
    images = tmp_path / "mine.npz"
    np.savez(images, x=mnist.x_test[:40])
    monkeypatch.setattr(bundle.np, "savez", disk_full)
    rc = cli.main(["calibrate", "--model", str(model), str(images)])
    line = one_error_line(capsys, "calibrate")
    assert rc == 2 and "No space left on device" in line
    assert (model / bundle.CARD).read_text() == card
    assert temporaries(tmp_path) == []
    load_model(model)


def test_any_other_os_error_is_one_line(tmp_path, capsys, monkeypatch):
    """An OSError from anywhere (here the data file's read) is the machine's: one line."""
    from ganmc.images import data

    def too_long(*args, **kwargs):
        raise OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300)

    monkeypatch.setattr(data, "load_mnist", too_long)
    rc = cli.main([*TRAIN, "--out", str(tmp_path / "m")])
    assert rc == 2 and "File name too long" in one_error_line(capsys, "train")
