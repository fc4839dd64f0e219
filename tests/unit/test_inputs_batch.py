"""Issue #13 (batch scoring skips bad files) and #17 items 5-6 in the readers and settings."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from ganmc import cli
from ganmc.core.config import TrainConfig, parse_digits
from ganmc.core.errors import ConfigError, DataError, ImageError
from ganmc.images import data
from ganmc.images.arrays import as_images
from ganmc.images.inputs import read_inputs


def digit_array() -> np.ndarray:
    arr = np.zeros((28, 28), np.uint8)
    arr[4:24, 12:16] = 255
    return arr


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(digit_array()).save(d / "a-good.png")
    Image.new("L", (40, 40), 0).save(d / "b-blank.png")
    (d / "c-notanimage.png").write_text("hello")
    Image.fromarray(255 - digit_array()).save(d / "d-good.png")
    return d


# ------------------------------------------------------------------ batch mode (#13)
def test_strict_stops_at_the_first_bad_file(folder):
    with pytest.raises(ImageError, match="b-blank.png: no digit found"):
        read_inputs([folder])


def test_lenient_refuses_each_bad_file_and_keeps_the_good_ones(folder, tmp_path):
    images = read_inputs([folder, tmp_path / "missing.png"], strict=False)
    assert [s.rsplit("/", 1)[-1] for s in images.sources] == ["a-good.png", "d-good.png"]
    assert images.x.shape == (2, 28, 28)
    reasons = {src.rsplit("/", 1)[-1]: why for src, why in images.problems}
    assert sorted(reasons) == ["b-blank.png", "c-notanimage.png", "missing.png"]
    assert "no digit found" in reasons["b-blank.png"]
    assert "not an image file" in reasons["c-notanimage.png"]
    assert "no such file" in reasons["missing.png"]
    assert all("\n" not in why for why in reasons.values())


def test_nothing_readable_is_an_error(folder, tmp_path):
    for f in folder.glob("*good*"):
        f.unlink()
    with pytest.raises(DataError, match="no readable image .* first problem: .*b-blank.png"):
        read_inputs([folder], strict=False)


# ------------------------------------------------------------------ item 5: blank arrays
def test_blank_array_images_are_refused_like_blank_files(tmp_path):
    path = tmp_path / "x.npz"
    x = np.stack([digit_array(), np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])
    np.savez(path, x=x)
    with pytest.raises(ImageError, match=r"x.npz\[1\]: no digit found \(the image is blank"):
        read_inputs([path])
    images = read_inputs([path], strict=False)
    assert images.indices == [0] and len(images.problems) == 2
    assert [s.rsplit("/", 1)[-1] for s, _ in images.problems] == ["x.npz[1]", "x.npz[2]"]


def test_binary_arrays_are_scaled_as_ink(caplog):
    binary = (digit_array() > 0).astype(np.int64)
    with caplog.at_level(logging.WARNING, logger="ganmc.images.data"):
        out = as_images(binary[None], "binary.npz:x")
    assert out.max() == 255 and out.dtype == np.uint8
    assert "taken as binary ink" in caplog.text
    assert as_images((digit_array() > 0)[None]).max() == 255  # booleans, silently
    assert as_images(np.array([[[0, 2]] * 28] * 1).repeat(14, 2)).max() == 2  # 0-255 grey


# ------------------------------------------------------------------ item 6: settings
@pytest.mark.parametrize("text,match", [("", "empty"), ("  ", "empty"), ("3-1", "reversed"),
                                         ("9-0", "write 0-9")])
def test_digits_empty_or_reversed(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_digits(text)


@pytest.mark.parametrize("kappa", [float("nan"), float("inf"), -1.0, "abc"])
def test_kappa_must_be_finite(kappa):
    with pytest.raises(ConfigError, match="kappa"):
        TrainConfig(kappa=kappa)


@pytest.mark.parametrize("argv,match", [
    (["simulate", "--seed", "-1"], "--seed"), (["simulate", "--seed", "99999999999"], "--seed"),
    (["train", "--seed", "-1"], "--seed"), (["train", "--mc-samples", "-5"], "--mc-samples"),
    (["train", "--kappa", "nan"], "--kappa"), (["train", "--kappa", "inf"], "--kappa"),
    (["score", "x.png", "--seed", "4294967296"], "--seed"),
    (["report", "--samples", "-1"], "--samples"), (["simulate", "--percentile", "nan"], "--perc"),
])
def test_bad_numbers_are_refused_before_any_work(argv, match, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and match in err.splitlines()[-1]


def test_seeds_at_the_ends_of_the_range_are_taken():
    parser = cli.build_parser()
    assert parser.parse_args(["simulate", "--seed", "4294967295"]).seed == 2**32 - 1
    assert parser.parse_args(["train", "--seed", "0"]).seed == 0


class ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    rc = cli.main(["info"])
    assert (rc, capsys.readouterr().err) == (141, "")


# ------------------------------------------------------------------ Keras download (#13)
def test_keras_download_is_tried_once_per_process(monkeypatch, caplog):
    import keras

    calls = []

    def offline():
        calls.append(1)
        raise OSError("no network")

    monkeypatch.delenv("GANMC_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_keras_failure", None)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with caplog.at_level(logging.INFO, logger="ganmc.images.data"):
        first = data.load_mnist("auto", (3,))
        second = data.load_mnist("auto", (3,))
    assert calls == [1] and first.source == second.source == "bundled"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not retried" in warnings[0].getMessage()
    with pytest.raises(DataError, match="not retried"):
        data.load_mnist("keras")
