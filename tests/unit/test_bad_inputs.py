"""Every kind of bad input gets a clear ganmc error, never an unhandled exception.

Property-based tests (Hypothesis) feed random bytes and arrays to the image and data readers.
"""

from __future__ import annotations

import contextlib
import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from ganmc.core.errors import DataError, GanmcError, ImageError
from ganmc.images import preprocess
from ganmc.images.arrays import as_images, load_images_file, read_idx
from ganmc.images.inputs import read_inputs
from ganmc.images.preprocess import load_image, to_mnist


def png_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def digit(mode="L") -> Image.Image:
    arr = np.full((60, 60), 255, np.uint8)
    arr[10:50, 27:33] = 0  # a dark "1" on white
    return Image.fromarray(arr).convert(mode)


# --------------------------------------------------------------------- files that must fail
@pytest.mark.parametrize("data,match", [
    (b"", "the file is empty"),
    (b"hello, this is text", "not an image"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "not an image"),  # an executable
    (png_bytes(digit())[:80], "corrupt or truncated"),
    (png_bytes(digit(), "JPEG")[:120], "corrupt or truncated"),
])
def test_unreadable_files(data, match, tmp_path):
    path = tmp_path / "input.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match=match):
        load_image(path)


@pytest.mark.parametrize("fill", [0, 255])
def test_all_white_and_all_black(fill):
    with pytest.raises(ImageError, match="no digit"):
        load_image(png_bytes(Image.new("L", (64, 64), fill)))


def test_blank_canvas():
    with pytest.raises(ImageError, match="no digit"):
        to_mnist(np.zeros((280, 280, 4), np.uint8), name="drawing")


def test_ten_thousand_square_is_refused_unread(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (10_000, 10_000), 1).save(path)
    with pytest.raises(ImageError, match="10000x10000 pixels is more than"):
        load_image(path)


def test_decompression_bomb_is_caught(monkeypatch):
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 10**12)  # let Pillow's own guard act
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(png_bytes(Image.new("L", (200, 200), 255)))


# --------------------------------------------------------------------- odd but valid files
@pytest.mark.parametrize("make", [
    lambda: png_bytes(digit("P")),  # palette
    lambda: png_bytes(Image.fromarray(np.asarray(digit()).astype(np.uint16) * 257)),  # 16-bit
    lambda: png_bytes(digit("RGB"), "JPEG", quality=85),
    lambda: png_bytes(digit(), "BMP"),
    lambda: png_bytes(digit("RGB"), "WEBP"),
])
def test_odd_formats_are_read(make):
    out = load_image(make())
    assert out.shape == (28, 28) and out.dtype == np.uint8 and out.max() > 100


def test_rgba_transparent_background():
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[10:50, 27:33] = (20, 20, 20, 255)
    assert load_image(png_bytes(Image.fromarray(rgba, "RGBA"))).max() > 100


def test_animated_gif_uses_the_first_frame():
    frames = [digit(), Image.new("L", (60, 60), 255)]  # the second frame is blank
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    assert load_image(buf.getvalue()).max() > 100


@pytest.mark.parametrize("fill", [0, 255])
def test_one_pixel_image_has_no_background_to_tell_ink_from(fill):
    with pytest.raises(ImageError, match="no digit"):
        load_image(png_bytes(Image.new("L", (1, 1), fill)))


def test_two_pixel_image_is_a_dot_not_a_digit():
    """A dot would be blown up to a 20x20 blob and judged (issue 34, item 14): refused."""
    with pytest.raises(ImageError, match="no digit found"):
        load_image(png_bytes(Image.fromarray(np.array([[0, 255]], np.uint8))))


# --------------------------------------------------------------------- arrays and data files
@pytest.mark.parametrize("arr,match", [
    (np.zeros((3, 32, 32), np.uint8), "shape"),
    (np.zeros((3, 28), np.uint8), "shape"),
    (np.full((2, 28, 28), np.nan, np.float32), "NaN"),
    (np.full((2, 28, 28), np.inf), "NaN"),
    (np.zeros((2, 28, 28), np.complex64), "numbers"),
    (np.array([["x"] * 28] * 28), "numbers"),
])
def test_bad_npz_arrays(arr, match, tmp_path):
    np.savez(tmp_path / "bad.npz", x=arr)
    with pytest.raises(DataError, match=match):
        load_images_file(tmp_path / "bad.npz")


def test_idx_bad_magic_through_the_inputs(tmp_path):
    path = tmp_path / "data-idx3-ubyte"
    path.write_bytes(b"\x01\x02\x03\x04" + b"\x00" * 64)
    with pytest.raises(DataError, match="magic"):
        read_inputs([path])


def test_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="no image files"):
        read_inputs([tmp_path])
    with pytest.raises(DataError, match="no such"):
        read_inputs([tmp_path / "nope.png"])


# --------------------------------------------------------------------- properties
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=4096))
def test_random_bytes_never_escape_load_image(data):
    try:
        out = load_image(data)
    except ImageError:
        return
    assert out.shape == (28, 28) and out.dtype == np.uint8


@FAST
@given(st.binary(min_size=8, max_size=512))
def test_random_bytes_behind_a_png_signature(data):
    with contextlib.suppress(ImageError):
        load_image(b"\x89PNG\r\n\x1a\n" + data)


FLOATS = hnp.arrays(dtype=st.sampled_from([np.float32, np.float64]),
                    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=32),
                    elements=st.floats(-10, 300, width=32)
                    | st.sampled_from([np.nan, np.inf, -np.inf]))
INTEGERS = hnp.arrays(dtype=st.sampled_from([np.uint8, np.int16, np.int64, np.uint16]),
                      shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=32))


@FAST
@given(FLOATS | INTEGERS)
def test_random_arrays_never_escape_to_mnist(arr):
    try:
        out = to_mnist(arr)
    except ImageError:
        return
    assert out.shape == (28, 28) and out.dtype == np.uint8


@FAST
@given(FLOATS | INTEGERS)
def test_random_arrays_never_escape_as_images(arr):
    try:
        out = as_images(arr)
    except DataError:
        return
    assert out.dtype == np.uint8 and out.shape[1:] == (28, 28)


@FAST
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape_the_idx_and_npz_readers(data):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        for name in ("x-idx3-ubyte", "x.npz", "x-idx3-ubyte.gz"):
            path = Path(d) / name
            path.write_bytes(data)
            with contextlib.suppress(GanmcError):
                load_images_file(path)


@FAST
@given(st.integers(0, 3), st.lists(st.integers(0, 70_000), min_size=1, max_size=3),
       st.binary(max_size=256))
def test_random_idx_headers(kind, dims, payload):
    import tempfile
    from pathlib import Path

    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h-idx3-ubyte"
        path.write_bytes(header + payload)
        with contextlib.suppress(DataError):
            read_idx(path)
