"""Issue #17, item 3, and issue 28: small files that would inflate to huge arrays are refused
from their headers, in one line, before anything is inflated."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganmc.core import limits
from ganmc.core.errors import DataError, GanmcError, ImageError, ModelError
from ganmc.images import arrays, preprocess
from ganmc.images.arrays import as_images, load_images_file, read_idx, read_npz
from ganmc.images.inputs import read_inputs
from ganmc.images.preprocess import MAX_BATCH_PIXELS, MAX_PIXELS, load_image
from ganmc.storage import bundle
from tests.bombs import MAX_PEAK_BYTES, npz_of_zeros, run_child

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


def inflated(*args, **kwargs):
    raise AssertionError("an array was inflated before its size was checked")


# ------------------------------------------------------------------------------- npz
@FAST
@given(n=st.integers(limits.MAX_IMAGES + 1, 10**13), dtype=st.sampled_from(["u1", "<f4", "<f8"]))
def test_npz_input_claiming_too_many_images(tmp_path, n, dtype, monkeypatch):
    path = lying_npz(tmp_path / "bomb.npz", {"x": npy_header((n, 28, 28), dtype) + b"\0" * 64})
    monkeypatch.setattr(np.lib.format, "read_array", inflated)
    with pytest.raises(DataError) as info:
        load_images_file(path)
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
    assert "30.0 MB in memory (as read and converted), more than the 8.0 MB allowed" in \
        one_line_refusal(info)


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
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert f"{n:,} items" in one_line_refusal(info)  # from the header: not "truncated"


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
    with pytest.raises(DataError) as info:
        read_inputs([path])
    assert "1,000,000 items" in one_line_refusal(info)  # from the header: not "truncated"


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
    try:
        load_image(data, name="bomb.png")
        raise AssertionError("a PNG with rows missing was accepted")
    except GanmcError as exc:
        message = str(exc)
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


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(50_000, 200_000), ink=st.booleans())
def test_gif_with_huge_frame_counts_reads_the_first_frame_only(n, ink, monkeypatch):
    from PIL import GifImagePlugin

    frames = []
    seek = GifImagePlugin.GifImageFile.seek
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "seek",
                        lambda self, frame: frames.append(frame) or seek(self, frame))
    data = gif_with_frames(n, ink)
    if ink:
        out = load_image(data, name="many.gif")
        assert out.shape == (28, 28) and out.max() > 0
    else:
        with pytest.raises(ImageError) as info:
            load_image(data, name="many.gif")
        assert "no digit found" in one_line_refusal(info)
    assert set(frames) <= {0}  # no frame after the first was ever decoded


# ------------------------------------------------------------------------------- issue 28
# Each bomb is small on disk; a child under a memory cap shows its peak stays under 2.5 GB.
@pytest.mark.slow
def test_an_npz_of_250000_float_images_stays_within_the_memory_bound(tmp_path):
    """The largest input allowed, as float32 (784 MB, 0.8 MB on disk): a float64 copy of it
    took over 3 GB; it is converted in chunks now."""
    path = npz_of_zeros(tmp_path / "floats.npz", "x", (limits.MAX_IMAGES, 28, 28), "<f4")
    assert path.stat().st_size < 4_000_000
    child = run_child("""
        import sys
        from ganmc.images.arrays import load_images_file
        x = load_images_file(sys.argv[1])
        print(x.shape, x.dtype)
    """, str(path))
    assert child.returncode == 0, child.stderr[-500:]
    assert child.stdout.strip() == "(250000, 28, 28) uint8"
    assert child.peak_bytes < MAX_PEAK_BYTES, f"{child.peak_bytes / 2**30:.2f} GiB"


def test_as_images_converts_in_chunks_as_a_whole_would(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK", 7)
    x = np.random.default_rng(0).random((30, 28, 28)).astype(np.float32)
    x[3, 5, 5] = 1.0
    expected = np.round(x.astype(np.float64) * 255).astype(np.uint8)
    assert np.array_equal(as_images(x), expected)
    x[29, 0, 0] = np.nan  # in the last chunk
    with pytest.raises(DataError, match="NaN"):
        as_images(x)


@pytest.mark.parametrize("dims", [(250_000, 64, 64), (10, 28, 29), (5, 4096)])
def test_idx_of_images_not_28x28_is_refused_from_its_header(tmp_path, dims):
    """A 995 kB gzipped IDX of 64x64 images inflated 1 GB before its shape was refused; the
    header alone refuses it now (the data here is cut short: reading on would say so)."""
    path = tmp_path / "big-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08" + bytes([len(dims)])
                                   + struct.pack(f">{len(dims)}I", *dims) + b"\0" * 100))
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert f"IDX dimensions {dims} are not 28x28 images or labels" in one_line_refusal(info)


def test_model_arrays_are_budgeted_as_the_float64_they_become(tmp_path, monkeypatch):
    """200 million uint8 scores (200 MB as stored, under the old 1 GiB) become 1.6 GB as
    float64, then copies: refused from the header now."""
    folder = tmp_path / "m"
    folder.mkdir()
    lying_npz(folder / bundle.ARRAYS, {"montecarlo/fanogan": npy_header((200_000_000,), "u1")})
    monkeypatch.setattr(np.lib.format, "read_array", inflated)
    with pytest.raises(ModelError) as info:
        bundle._load_arrays(folder, folder)
    assert "1,525.9 MB in memory (as read and converted), more than the 256.0 MB allowed" in \
        one_line_refusal(info)


def wide_network(path, width: int = 30_000):
    """An 8-wide Keras model saved, its config then rewritten to declare ``width``-wide
    Dense layers: a few kB whose build would allocate width**2 weights."""
    import json

    import keras

    keras.Sequential([keras.Input((8,)), keras.layers.Dense(8),
                      keras.layers.Dense(8)]).save(path)
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    config = json.dumps(json.loads(parts["config.json"])).replace('"units": 8', f'"units": {width}')
    parts["config.json"] = config.replace("8]", f"{width}]").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def test_a_network_declaring_too_many_weights_is_refused_unbuilt(tmp_path, monkeypatch):
    import keras

    from ganmc.storage.kerasfile import MAX_NETWORK_PARAMS, check_network_file

    path = wide_network(tmp_path / "generator.keras")
    assert path.stat().st_size < 30_000
    monkeypatch.setattr(keras.saving, "load_model", inflated)
    with pytest.raises(ModelError) as info:
        bundle._load_networks(tmp_path, tmp_path)
    assert (f"generator.keras: its layers declare about 1,800,060,000 weights, more than the "
            f"{MAX_NETWORK_PARAMS:,} a network may have") in one_line_refusal(info)
    for name in ("generator", "discriminator", "encoder"):  # the shipped model passes
        assert check_network_file(bundle.DEFAULT_MODEL / f"{name}.keras", name) < 300_000


@pytest.mark.slow
def test_loading_a_wide_network_stays_within_the_memory_bound(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    wide_network(folder / "generator.keras")
    child = run_child("""
        import sys
        from pathlib import Path
        from ganmc.storage import bundle
        from ganmc.core.errors import ModelError
        try:
            bundle._load_networks(Path(sys.argv[1]), Path(sys.argv[1]))
        except ModelError as exc:
            print(exc)
    """, str(folder))
    assert "weights, more than the" in child.stdout, child.stderr[-500:]
    assert child.peak_bytes < MAX_PEAK_BYTES, f"{child.peak_bytes / 2**30:.2f} GiB"


def test_a_batch_of_huge_pictures_is_bounded_in_pixels_and_memory(tmp_path):
    """24 uploads of 40-million-pixel PNGs (160 kB each) took over 3 GB on the Detect page:
    a batch holds at most MAX_BATCH_PIXELS (from the headers), and a big picture is shrunk
    in its own mode before it becomes floats."""
    img = Image.new("RGBA", (8000, 5000), (0, 0, 0, 0))
    img.paste((255, 255, 255, 255), (3000, 1000, 3500, 4000))
    img.save(tmp_path / "huge.png")
    child = run_child("""
        import sys
        from ganmc.images.preprocess import load_batch
        data = open(sys.argv[1], "rb").read()
        images, problems = load_batch([(f"u{i}.png", data) for i in range(24)])
        print(len(images), len(problems), int(images[0][1].max()))
        print(problems[0])
    """, str(tmp_path / "huge.png"))
    assert child.returncode == 0, child.stderr[-500:]
    counts, first = child.stdout.strip().splitlines()
    assert counts == f"{MAX_BATCH_PIXELS // 40_000_000} {24 - MAX_BATCH_PIXELS // 40_000_000} 255"
    assert first.startswith("u5.png: refused unread, 40,000,000 pixels more than the "
                            "200,000,000 one batch may hold (200,000,000 so far)")
    assert child.peak_bytes < MAX_PEAK_BYTES, f"{child.peak_bytes / 2**30:.2f} GiB"


def test_the_batch_budget_is_counted_from_headers_before_decoding(monkeypatch):
    decoded = []
    monkeypatch.setattr(preprocess, "load_image",
                        lambda data, name, framing="digits": decoded.append(name))
    big = png_claiming(10_000, 4_000)
    images, problems = preprocess.load_batch([(f"{i}.png", big) for i in range(7)])
    assert decoded == ["0.png", "1.png", "2.png", "3.png", "4.png"]
    assert [p.split(":")[0] for p in problems] == ["5.png", "6.png"]


# ------------------------------------------------------------------- issue 34, item 8
def rewritten_network(path, build, edit):
    """A small Keras model saved by ``build()``, its config then changed by ``edit`` (a
    function of the parsed config): a few kB that claim something else."""
    import json

    build().save(path)
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    config = json.loads(parts["config.json"])
    edit(config)
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def einsum_network(path):
    """An ``EinsumDense`` whose output (22,000) is no ``units``: 2.54 GiB in the issue."""
    import keras

    def build():
        x = keras.Input((8,))
        return keras.Model(x, keras.layers.EinsumDense("ab,bc->ac", output_shape=8)(x))

    def edit(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "EinsumDense":
                layer["config"]["output_shape"] = [22_000]
                layer.pop("build_config", None)
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "InputLayer":
                layer["config"]["batch_shape"] = [None, 22_000]

    return rewritten_network(path, build, edit)


def repeat_network(path):
    """``RepeatVector(100000000) -> Flatten -> Dense(8)`` with no ``build_config``: the Dense's
    input is nowhere written (3.75 GiB in the issue)."""
    import keras

    def build():
        x = keras.Input((4,))
        h = keras.layers.Flatten()(keras.layers.RepeatVector(2)(x))
        return keras.Model(x, keras.layers.Dense(8)(h))

    def edit(config):
        for layer in config["config"]["layers"]:
            layer.pop("build_config", None)
            if layer["class_name"] == "RepeatVector":
                layer["config"]["n"] = 100_000_000

    return rewritten_network(path, build, edit)


def strided_network(path):
    """Only the kinds of layer ganmc's networks use, but a transposed convolution of
    stride 3,000: a Dense after it would have billions of inputs, written nowhere."""
    import keras

    def build():
        x = keras.Input((7, 7, 4))
        h = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
        return keras.Model(x, keras.layers.Dense(8)(keras.layers.Flatten()(h)))

    def edit(config):
        for layer in config["config"]["layers"]:
            layer.pop("build_config", None)
            if layer["class_name"] == "Conv2DTranspose":
                layer["config"]["strides"] = [3000, 3000]

    return rewritten_network(path, build, edit)


@pytest.mark.parametrize("make, why", [
    (einsum_network, "is a EinsumDense, a kind of layer ganmc's networks are not made of"),
    (repeat_network, "is a RepeatVector, a kind of layer ganmc's networks are not made of"),
    # (21,000 x 21,000 x 4 + 1) x 8 + 148
    (strided_network, "its layers declare about 14,112,000,156 weights"),
])
def test_layers_whose_size_is_no_units_are_counted_or_refused(tmp_path, monkeypatch, make,
                                                              why):
    import keras

    path = make(tmp_path / "generator.keras")
    assert path.stat().st_size < 30_000
    monkeypatch.setattr(keras.saving, "load_model", inflated)
    with pytest.raises(ModelError) as info:
        bundle._load_networks(tmp_path, tmp_path)
    assert why in one_line_refusal(info)


def test_outputs_too_large_per_image_are_refused(tmp_path):
    """A transposed convolution that makes 1,400 x 1,400 x 4 values of every image: few
    weights, but a scoring batch of them would not fit in memory."""
    import json

    import keras

    from ganmc.storage.kerasfile import MAX_NETWORK_ACTIVATIONS, check_network_file

    def build():
        x = keras.Input((7, 7, 4))
        return keras.Model(x, keras.layers.Conv2DTranspose(4, 3, strides=2)(x))

    def edit(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Conv2DTranspose":
                layer["config"]["strides"] = [200, 200]

    path = rewritten_network(tmp_path / "g.keras", build, edit)
    with pytest.raises(ModelError) as info:
        check_network_file(path, "g.keras")
    assert (f"values per image, more than the {MAX_NETWORK_ACTIVATIONS:,} a network may"
            in one_line_refusal(info))
    assert json.loads(zipfile.ZipFile(path).read("config.json"))  # a readable config


def test_every_network_ganmc_builds_passes_and_is_counted_exactly(tmp_path):
    import json

    import keras

    from ganmc.nets import networks
    from ganmc.storage.kerasfile import MAX_NETWORK_ACTIVATIONS, check_network_file, network_cost

    for arch in ("mlp", "dcgan", "dcgan-deep"):
        for model in (networks.build_generator(arch, 64, None),
                      networks.build_discriminator(arch, None),
                      networks.build_encoder(arch, 64, None)):
            model.save(tmp_path / "n.keras")
            assert check_network_file(tmp_path / "n.keras", "n") == model.count_params()
            config = json.loads(zipfile.ZipFile(tmp_path / "n.keras").read("config.json"))
            assert network_cost(config)[1] < MAX_NETWORK_ACTIVATIONS / 3  # as its words say
    keras.backend.clear_session()


@pytest.mark.slow
def test_loading_the_issues_einsum_network_stays_within_the_memory_bound(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    einsum_network(folder / "generator.keras")
    child = run_child("""
        import sys
        from pathlib import Path
        from ganmc.storage import bundle
        from ganmc.core.errors import ModelError
        try:
            bundle._load_networks(Path(sys.argv[1]), Path(sys.argv[1]))
        except ModelError as exc:
            print(exc)
    """, str(folder))
    assert "EinsumDense, a kind of layer" in child.stdout, child.stderr[-500:]
    assert child.peak_bytes < MAX_PEAK_BYTES, f"{child.peak_bytes / 2**30:.2f} GiB"
