import gzip
import logging
import struct

import numpy as np
import pytest

from ganmc.core.errors import DataError
from ganmc.images import data
from ganmc.images.arrays import as_images, load_images_file, read_idx
from ganmc.images.data import load_mnist


def write_idx(path, arr, magic_type=0x08):
    header = bytes([0, 0, magic_type, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = header + arr.astype(np.uint8).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def test_bundled_split_is_fixed_and_filtered(mnist):
    again = load_mnist("bundled", digits=(3,))
    assert mnist.x_train.shape == (8000, 28, 28) and mnist.x_test.shape == (2000, 28, 28)
    assert mnist.x_train.dtype == np.uint8
    assert set(np.unique(again.y_train)) == {3}
    np.testing.assert_array_equal(again.x_test, mnist.x_test)  # same fixed test split
    assert again.test_is_normal.sum() == (mnist.y_test == 3).sum()
    assert again.source == "bundled"


def test_auto_falls_back_to_bundled_offline(monkeypatch, caplog):
    monkeypatch.delenv("GANMC_OFFLINE", raising=False)

    def no_network():
        raise OSError("no network")

    monkeypatch.setattr(data, "_load_keras", no_network)
    with caplog.at_level(logging.WARNING, logger="ganmc.images.data"):
        splits = load_mnist("auto", digits=(0, 1))
    assert splits.source == "bundled"
    assert "bundled" in caplog.text and "unavailable" in caplog.text


def test_auto_uses_keras_when_available(monkeypatch):
    monkeypatch.delenv("GANMC_OFFLINE", raising=False)
    x = np.zeros((20, 28, 28), np.uint8)
    y = np.arange(20, dtype=np.uint8) % 10
    monkeypatch.setattr(data, "_load_keras", lambda: (x, y, x[:5], y[:5]))
    splits = load_mnist("auto")
    assert splits.source == "keras" and len(splits.x_train) == 20


def test_keras_source_failure_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(data, "_load_keras", lambda: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DataError, match="bundled"):
        load_mnist("keras")


def test_a_failed_download_is_one_plain_line(monkeypatch, caplog, capsys):
    """Issue 35, item 9: Keras prints the address it downloads from and reports a failure as
    a bare ``Exception`` naming it; the user gets one line saying what was tried, what is
    used instead and why, with no address and no exception class."""
    import keras

    def offline():  # what keras.utils.get_file does without a network
        url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
        print(f"Downloading data from {url}")
        raise Exception(f"URL fetch failure on {url}: None -- [Errno -3] Temporary failure "
                        f"in name resolution")

    monkeypatch.delenv("GANMC_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_keras_failure", None)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with caplog.at_level(logging.WARNING, logger="ganmc.images.data"):
        splits = load_mnist("auto", digits=(7,))
    assert splits.source == "bundled"
    said = capsys.readouterr()
    lines = [r.getMessage() for r in caplog.records] + said.out.splitlines() + \
        said.err.splitlines()
    assert len(lines) == 1, lines
    assert "no network" in lines[0] and "using the bundled 10,000 digits instead" in lines[0]
    assert "http" not in lines[0] and "Exception" not in lines[0]
    with pytest.raises(DataError) as raised:
        load_mnist("keras")
    assert "http" not in str(raised.value) and "no network" in str(raised.value)


@pytest.mark.slow
def test_tensorflows_own_log_lines_are_off_unless_asked_for():
    """Issue 35, item 9: TensorFlow's C++ error-level lines (grappler's "remapper failed"
    while training, "failed call to cuInit" at start) are not the user's: importing ganmc
    turns them off unless TF_CPP_MIN_LOG_LEVEL or GANMC_TF_VERBOSE says otherwise."""
    import os
    import subprocess
    import sys

    code = ("import os, ganmc, tensorflow as tf; tf.reduce_sum(tf.ones(3)).numpy(); "
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "GANMC_TF_VERBOSE")}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["3"]
    assert not [line for line in run.stderr.splitlines() if line[:1] in ("E", "W")
                and line[1:5].isdigit()], run.stderr


def test_npz_with_x_and_y(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    y = (np.arange(50) % 10).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    splits = load_mnist(str(tmp_path / "d.npz"), digits=(2,), test_size=10)
    assert len(splits.x_test) == 10 and set(splits.y_train) == {2}


def test_npz_with_keras_keys(tmp_path):
    x = np.ones((30, 28, 28), np.uint8)
    y = (np.arange(30) % 10).astype(np.uint8)
    np.savez(tmp_path / "k.npz", x_train=x, y_train=y, x_test=x[:7], y_test=y[:7])
    splits = load_mnist(str(tmp_path / "k.npz"))
    assert len(splits.x_train) == 30 and len(splits.x_test) == 7


def test_idx_folder_and_files(tmp_path):
    x = np.random.default_rng(2).integers(0, 256, (12, 28, 28)).astype(np.uint8)
    y = (np.arange(12) % 10).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x[:4])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y[:4])
    splits = load_mnist(str(tmp_path))
    np.testing.assert_array_equal(splits.x_train, x)
    np.testing.assert_array_equal(splits.x_test, x[:4])
    np.testing.assert_array_equal(read_idx(tmp_path / "train-labels-idx1-ubyte.gz"), y)
    np.testing.assert_array_equal(load_images_file(tmp_path / "t10k-images-idx3-ubyte"), x[:4])


def test_idx_bad_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    with pytest.raises(DataError, match="magic"):
        read_idx(bad)
    good = write_idx(tmp_path / "t-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    short = tmp_path / "short-idx3-ubyte"
    short.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        read_idx(short)
    floats = tmp_path / "f-idx3-ubyte"
    floats.write_bytes(b"\x00\x00\x0d\x03" + struct.pack(">3I", 1, 28, 28))
    with pytest.raises(DataError, match="unsigned bytes"):
        read_idx(floats)


def test_npz_problems_are_clear(tmp_path):
    np.savez(tmp_path / "nox.npz", images=np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="no array named 'x'"):
        load_images_file(tmp_path / "nox.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        load_images_file(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", x=np.array([None, 1], dtype=object))
    with pytest.raises(DataError):
        load_images_file(tmp_path / "obj.npz")
    with pytest.raises(DataError, match="no such"):
        load_mnist(str(tmp_path / "missing.npz"))


def test_as_images_conversions():
    assert as_images(np.zeros((28, 28))).shape == (1, 28, 28)
    assert as_images(np.zeros((3, 784), np.uint8)).shape == (3, 28, 28)
    assert as_images(np.zeros((3, 28, 28, 1), np.uint8)).shape == (3, 28, 28)
    scaled = as_images(np.full((1, 28, 28), 1.0, np.float32))
    assert scaled.dtype == np.uint8 and scaled.max() == 255
    assert as_images(np.full((1, 28, 28), 200.0)).max() == 200


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 27, 28)), "shape"),
    (np.full((1, 28, 28), np.nan), "NaN"),
    (np.full((1, 28, 28), -3.0), "pixel values"),
    (np.full((1, 28, 28), 300), "pixel values"),
    (np.zeros((0, 28, 28)), "no images"),
    (np.array(["a"] * 784).reshape(1, 28, 28), "numbers"),
])
def test_as_images_rejects(bad, match):
    with pytest.raises(DataError, match=match):
        as_images(bad)
