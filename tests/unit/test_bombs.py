"""Issue #17, item 3: small files that would inflate to huge arrays are refused from their
headers, in one line, fast, before anything is inflated."""

from __future__ import annotations

import gzip
import io
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganmc import bundle, limits
from ganmc.arrays import load_images_file, read_idx, read_npz
from ganmc.errors import DataError, GanmcError, ImageError, ModelError
from ganmc.inputs import read_inputs
from ganmc.preprocess import MAX_PIXELS, load_image

FAST = settings(max_examples=15, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def one_line_refusal(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert isinstance(exc.value, GanmcError) and message and "\n" not in message
    return message


def npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    """An .npy header (format 1.0) claiming ``shape``; no data follows."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return buf.getvalue()  # the magic string is written with the header


def lying_npz(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return path


# ------------------------------------------------------------------------------- npz
@FAST
@given(n=st.integers(limits.MAX_IMAGES + 1, 10**13), dtype=st.sampled_from(["u1", "<f4", "<f8"]))
def test_npz_input_claiming_too_many_images(tmp_path, n, dtype):
    path = lying_npz(tmp_path / "bomb.npz", {"x": npy_header((n, 28, 28), dtype) + b"\0" * 64})
    t = time.monotonic()
    with pytest.raises(DataError) as info:
        load_images_file(path)
    assert time.monotonic() - t < 1.0
    assert "more than the 250,000 images one file may hold" in one_line_refusal(info)


@FAST
@given(shape=st.lists(st.integers(1, 10**5), min_size=2, max_size=4).map(tuple)
       .filter(lambda s: np.prod(s, dtype=float) * 8 > limits.MAX_MODEL_ARRAY_BYTES))
def test_model_arrays_claiming_more_than_the_budget(tmp_path, shape):
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    lying_npz(folder / bundle.ARRAYS, {"holdout/fanogan": npy_header(shape, "<f8")})
    with pytest.raises(ModelError) as info:
        bundle._load_arrays(folder, folder)
    assert "MB allowed" in one_line_refusal(info)


def test_a_real_deflate_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    """3 MB that inflate to 3 GB in the issue; here 30 kB that inflate to 30 MB, budget 8 MB."""
    monkeypatch.setattr(limits, "MAX_MODEL_ARRAY_BYTES", 8 * 2**20)
    path = tmp_path / bundle.ARRAYS
    np.savez_compressed(path, **{"montecarlo/fanogan": np.zeros(30 * 2**20 // 8)})
    assert path.stat().st_size < 100_000
    with pytest.raises(ModelError) as info:
        read_npz(path, max_bytes=limits.MAX_MODEL_ARRAY_BYTES, error=ModelError)
    assert "30.0 MB in memory, more than the 8.0 MB allowed" in one_line_refusal(info)


@pytest.mark.parametrize("as_model", [True, False])
def test_npy_named_npz(tmp_path, as_model):
    path = tmp_path / ("arrays.npz" if as_model else "x.npz")
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ModelError if as_model else DataError) as info:
        if as_model:
            bundle._load_arrays(tmp_path, tmp_path)
        else:
            read_inputs([path])
    assert "not a readable .npz" in one_line_refusal(info)


def test_pickled_object_arrays_are_refused_unread(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError) as info:
        load_images_file(path)
    assert "pickle" in one_line_refusal(info)


# ------------------------------------------------------------------------------- IDX
def idx_header(n: int) -> bytes:
    return b"\x00\x00\x08\x03" + struct.pack(">3I", n, 28, 28)


@FAST
@given(n=st.integers(limits.MAX_IMAGES + 1, 2**32 - 1))
def test_gzipped_idx_claiming_too_many_images(tmp_path, n):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(n) + b"\0" * 10_000))
    t = time.monotonic()
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert time.monotonic() - t < 1.0
    assert f"{n:,} items" in one_line_refusal(info)


@FAST
@given(n=st.integers(1, 50), extra=st.integers(1, 10**6))
def test_gzipped_idx_inflating_past_its_header(tmp_path, n, extra):
    """The header is small, the stream goes on: only the header's bytes (+1) are inflated."""
    path = tmp_path / "long-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(n) + b"\x80" * (n * 784 + extra), 1))
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert "more data than the header" in one_line_refusal(info)


def test_the_issues_million_blank_images(tmp_path):
    """762 kB gzipped, 1,000,000 blank images: refused from its 16-byte header."""
    path = tmp_path / "blank-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(idx_header(1_000_000))
        f.write(b"\0" * (784 * 20_000))  # enough to look real; the reader stops at the header
    t = time.monotonic()
    with pytest.raises(DataError) as info:
        read_inputs([path])
    assert time.monotonic() - t < 1.0
    assert "1,000,000 items" in one_line_refusal(info)


# ------------------------------------------------------------------------------- PNG, GIF
def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)  # far fewer rows than claimed: never decoded
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@FAST
@given(w=st.integers(1, 2**31 - 1), h=st.integers(1, 2**31 - 1))
def test_png_bomb_refused_from_its_header(w, h):
    data = png_claiming(w, h)
    t = time.monotonic()
    try:
        load_image(data, name="bomb.png")
        raise AssertionError("a PNG with rows missing was accepted")
    except GanmcError as exc:
        message = str(exc)
    assert time.monotonic() - t < 2.0
    assert "\n" not in message and message.startswith("bomb.png: ")
    if w * h > MAX_PIXELS:  # ours, or Pillow's own at twice its limit (found on opening)
        assert "pixels is more than" in message or "too many pixels" in message


def gif_with_frames(n_frames: int, first_has_ink: bool) -> bytes:
    """A 16x16 GIF of ``n_frames`` frames, each a few bytes (built by hand: Pillow would take
    seconds to write 100,000 frames): the first frame, then copies of a blank one."""
    def single(img: Image.Image) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "GIF")
        return buf.getvalue()

    first = Image.new("L", (16, 16), 0)
    if first_has_ink:
        first.paste(255, (6, 2, 10, 14))
    head_and_first = single(first)[:-1]  # without the trailer
    blank = single(Image.new("L", (16, 16), 0))
    blank_frame = blank[blank.index(b"\x2c\x00\x00\x00\x00\x10\x00\x10\x00"):-1]
    return head_and_first + blank_frame * (n_frames - 1) + b"\x3b"


@settings(max_examples=5, deadline=None)
@given(n=st.integers(50_000, 200_000), ink=st.booleans())
def test_gif_with_huge_frame_counts_reads_the_first_frame_only(n, ink):
    data = gif_with_frames(n, ink)
    t = time.monotonic()
    if ink:
        out = load_image(data, name="many.gif")
        assert out.shape == (28, 28) and out.max() > 0
    else:
        with pytest.raises(ImageError) as info:
            load_image(data, name="many.gif")
        assert "no digit found" in one_line_refusal(info)
    assert time.monotonic() - t < 1.0
