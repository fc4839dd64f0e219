"""Issue 28: pipes, devices and sockets given as inputs are refused unread, in one line; a
pipe in a folder costs only itself."""

from __future__ import annotations

import os
import re
import signal
import socket

import numpy as np
import pytest
from PIL import Image

from ganmc.core.errors import GanmcError
from ganmc.images.arrays import load_images_file, read_idx, read_npz
from ganmc.images.inputs import read_inputs
from ganmc.images.preprocess import load_image
from tests.bombs import MAX_PEAK_BYTES, run_child

REFUSED = "not a regular file (a pipe, device or socket); refused unread"


@pytest.fixture
def no_hang():
    """A read that blocks on a pipe fails the test after 20 s instead of hanging it."""
    def hung(*_):
        raise AssertionError("blocked reading a pipe")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_a_pipe_named_png_in_a_folder_costs_only_itself(tmp_path, no_hang):
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255
    Image.fromarray(digit).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    images = read_inputs([tmp_path], strict=False)
    assert images.sources == [str(tmp_path / "a.png")]
    assert images.problems == [(str(tmp_path / "b.png"), f"{tmp_path / 'b.png'}: {REFUSED}")]


@pytest.mark.parametrize("name, read", [("x.npz", load_images_file), ("x.npz", read_npz),
                                        ("t-idx3-ubyte.gz", read_idx), ("p.png", load_image)])
def test_pipes_are_refused_by_every_reader(tmp_path, no_hang, name, read):
    os.mkfifo(tmp_path / name)
    with pytest.raises(GanmcError, match=re.escape(REFUSED)):
        read(tmp_path / name)


def test_a_socket_is_refused(tmp_path, no_hang):
    path = tmp_path / "s.png"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(GanmcError, match=re.escape(f"s.png: {REFUSED}")):
            read_inputs([path])


def test_dev_zero_is_refused_unread():
    """It used to be read until memory ran out; a child under a memory cap shows it is not."""
    child = run_child("""
        from ganmc.core.errors import GanmcError
        from ganmc.images.inputs import read_inputs
        try:
            read_inputs(["/dev/zero"], strict=False)
        except GanmcError as exc:
            print(exc)
    """, timeout=120)
    assert child.returncode == 0, child.stderr[-500:]
    assert child.stdout.strip().endswith(f"first problem: /dev/zero: {REFUSED}")
    assert child.peak_bytes < MAX_PEAK_BYTES
