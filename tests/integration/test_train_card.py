"""Issue 28: what ``ganmc train`` says of a run resumed with nothing left to train, and of a
run that held no images out."""

from __future__ import annotations

import errno
import re

import keras
import pytest

from ganmc import cli
from ganmc.nets.train import checkpoint_dir, read_checkpoint
from ganmc.thresholds.quality import NO_CARD, NO_HOLDOUT

TRAIN = ["train", "--data", "bundled", "--digits", "1", "--arch", "mlp", "--steps", "32",
         "--encoder-steps", "0", "--mc-samples", "0", "--batch-size", "16"]


def saved_line(out: str) -> tuple[float, float, float]:
    """The training's seconds and images/s, and the whole command's seconds."""
    m = re.search(r"^Saved .* \(.*; training ([\d.]+) s at ([\d,]+) images/s; the whole "
                  r"command took ([\d.]+) s\)$", out, re.M)
    assert m, out
    return float(m[1]), float(m[2].replace(",", "")), float(m[3])


@pytest.mark.slow
def test_a_resumed_finished_run_keeps_its_training_time(tmp_path, capsys, monkeypatch):
    """Killed after its last checkpoint, before the save (here: the save fails): resuming
    trains nothing, and the card keeps the time and speed of the training that was done."""
    out = tmp_path / "m"

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(keras.Model, "save", disk_full)
        assert cli.main([*TRAIN, "--out", str(out)]) == 2
    timing = read_checkpoint(checkpoint_dir(out))["timing"]
    assert timing["seconds"] > 0 and timing["traced_images"] == 32 * 16  # every step
    capsys.readouterr()
    assert cli.main([*TRAIN, "--out", str(out), "--resume"]) == 0
    seconds, speed, whole = saved_line(capsys.readouterr().out)
    assert seconds >= round(timing["seconds"], 1) > 0 and speed > 0 and whole > 0


@pytest.mark.slow
def test_no_held_out_images_is_said_so_not_that_training_stopped(tmp_path, capsys):
    out = tmp_path / "m"
    assert cli.main([*TRAIN, "--calibration-fraction", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert NO_HOLDOUT in printed and NO_CARD not in printed and "stopped" not in printed
    seconds, _, whole = saved_line(printed)  # issue 35, item 2: the job's time is said too
    assert whole >= seconds > 0
    assert cli.main(["info", "--model", str(out)]) == 0
    assert NO_HOLDOUT in capsys.readouterr().out


@pytest.mark.parametrize("held_out, line", [(0, NO_HOLDOUT), (None, NO_CARD), (120, NO_CARD)])
def test_card_lines_say_why_a_card_is_missing(held_out, line):
    from ganmc.thresholds.quality import card_lines

    assert card_lines(None, held_out) == [line]
