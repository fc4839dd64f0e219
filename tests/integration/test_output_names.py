"""Issue 34, items 11, 14 and 16: what is judged and how it is named. File names that are not
UTF-8 or hold control characters are escaped in every output line, table and report (they
lost every good row, or forged lines); images holding no digit (blank, a dot, one faint
pixel) are never judged, by the CLI or the API."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganmc import cli, load_model
from ganmc.core.errors import ImageError
from ganmc.images.inputs import read_inputs
from ganmc.images.preprocess import load_image
from tests.conftest import digit_png

FORGED = "x\nganmc score: error: everything is fine.png"


@pytest.fixture
def folder(tmp_path, mnist):
    """A digit, a digit whose name is not UTF-8, and a text file whose name holds a new line
    and a forged error line."""
    d = tmp_path / "in"
    d.mkdir()
    digit_png(d / "good.png", mnist.x_test[0])
    digit_png(d / os.fsdecode(b"bad\xff\xfe.png"), mnist.x_test[1])
    (d / FORGED).write_text("not an image")
    return d


def test_odd_names_are_escaped_in_tables_and_lines(tiny_model, folder, tmp_path, capsys):
    _, model = tiny_model
    out, errors = tmp_path / "s.csv", tmp_path / "e.csv"
    rc = cli.main(["score", "--model", str(model), str(folder), "--out", str(out),
                   "--errors", str(errors)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2  # one file refused; the good rows are written all the same
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [os.path.basename(r["source"]) for r in rows] == ["bad\\xff\\xfe.png", "good.png"]
    assert all(line.startswith(("ganmc score: skipped: ", "Scored ", "note: ", "drift check: "))
               for line in err), err
    skipped = [line for line in err if line.startswith("ganmc score: skipped: ")]
    assert len(skipped) == 1 and "x\\nganmc score: error: everything is fine.png" in skipped[0]
    [refused] = list(csv.DictReader(errors.open(encoding="utf-8")))
    assert "\n" not in refused["source"] and refused["source"].endswith(
        "x\\nganmc score: error: everything is fine.png")


@pytest.mark.slow
def test_odd_names_on_standard_output(tiny_model, folder):
    """As a user runs it: standard output is encoded strictly, and a name that is not UTF-8
    failed it with UnicodeEncodeError, losing every row."""
    _, model = tiny_model
    r = subprocess.run([sys.executable, "-m", "ganmc.cli", "score", "--model", str(model),
                        str(folder)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "GANMC_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"})
    assert r.returncode == 2, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and "bad\\xff\\xfe.png" in lines[1]
    assert not [line for line in r.stderr.splitlines() if line.startswith("ganmc score: error")]


def test_odd_names_in_the_report(tiny_model, folder, tmp_path, capsys):
    _, model = tiny_model
    out = tmp_path / "r.png"
    rc = cli.main(["report", "--model", str(model), "--samples", "0", str(folder),
                   "--out", str(out)])
    assert rc == 2, capsys.readouterr().err  # the text file is refused, the rest reported
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "bad\\\\xff\\\\xfe.png" in out.with_suffix(".json").read_text()


# ------------------------------------------------------------------- item 14
def test_near_blank_arrays_are_refused_not_judged(tmp_path, mnist):
    faint = np.zeros((28, 28), np.uint8)
    faint[3, 5] = 39  # one faint pixel passed the contrast test (38.25)
    dot = np.zeros((28, 28), np.uint8)
    dot[0, 27] = 255
    np.savez(tmp_path / "x.npz", x=np.stack([faint, mnist.x_test[0], dot]))
    images = read_inputs([tmp_path / "x.npz"], strict=False)
    assert images.indices == [1]
    assert [source for source, _ in images.problems] == [f"{tmp_path / 'x.npz'}[{i}]"
                                                         for i in (0, 2)]
    assert all("no digit found" in reason for _, reason in images.problems)


def test_a_picture_of_one_pixel_in_a_corner_is_no_digit(tmp_path):
    img = np.full((280, 280), 0, np.uint8)
    img[0, 279] = 255
    Image.fromarray(img).save(tmp_path / "dot.png")
    with pytest.raises(ImageError, match="no digit found"):
        load_image(tmp_path / "dot.png")


def test_the_api_never_judges_an_image_without_a_digit(tiny_model, mnist):
    """``det.verdicts(np.zeros((1, 28, 28)))`` said normal, taken for a 7, p 0.088."""
    det, _ = tiny_model
    with pytest.raises(ImageError, match=r"1 of 1 images hold no digit and are not judged "
                                         r"\(image 0\): no digit found"):
        det.verdicts(np.zeros((1, 28, 28)))
    x = np.concatenate([mnist.x_test[:3], np.zeros((1, 28, 28), np.uint8)])
    with pytest.raises(ImageError, match=r"\(image 3\)"):
        det.predict(x)
    assert len(det.verdicts(mnist.x_test[:3])) == 3


def test_no_mnist_digit_counts_as_no_digit(mnist):
    from ganmc.images.preprocess import MIN_INK, no_digit

    assert not no_digit(mnist.x_train).any() and not no_digit(mnist.x_test).any()
    least = min(x.reshape(len(x), -1).sum(axis=1).min() for x in (mnist.x_train, mnist.x_test))
    assert least / 255 > 4 * MIN_INK  # as the rule's words say


def test_a_loaded_model_judges_as_before(tiny_model, mnist):
    _, path = tiny_model
    assert load_model(path).predict(mnist.x_test[:10]).shape == (10,)
