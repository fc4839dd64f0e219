import numpy as np
import pytest
from PIL import Image

from ganmc.core.errors import ImageError
from ganmc.images import preprocess
from ganmc.images.preprocess import from_model_output, load_image, to_mnist, to_model_input


def centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    w = img.astype(np.float64)
    return (ys * w).sum() / w.sum(), (xs * w).sum() / w.sum()


def test_mnist_digit_survives_a_round_trip(mnist):
    digit = mnist.x_test[0]
    big_paper = 255 - np.kron(digit, np.ones((7, 7), np.uint8))  # dark ink on white, 196 px
    out = to_mnist(big_paper)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - digit.astype(int)).mean() < 12
    assert np.corrcoef(out.ravel(), digit.ravel())[0, 1] > 0.9


def test_off_centre_small_digit_is_fitted_and_centred():
    canvas = np.zeros((300, 400), np.uint8)
    canvas[20:80, 300:330] = 255  # a thick bar in a corner
    out = to_mnist(canvas)
    rows = np.flatnonzero(out.max(axis=1) > 50)
    assert 18 <= rows[-1] - rows[0] + 1 <= 21  # fitted to 20 px
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1


def test_transparent_background_uses_alpha_as_ink():
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[40:160, 90:110] = (255, 255, 255, 255)  # white stroke on transparent
    white_ink = to_mnist(rgba)
    rgba[40:160, 90:110] = (0, 0, 0, 255)  # black stroke on transparent
    black_ink = to_mnist(rgba)
    assert white_ink.max() > 200
    np.testing.assert_array_equal(white_ink, black_ink)


@pytest.mark.parametrize("mode", ["L", "RGB", "P", "I;16", "LA", "CMYK", "1"])
def test_every_image_mode(mode, tmp_path, mnist):
    digit = 255 - np.kron(mnist.x_test[1], np.ones((4, 4), np.uint8))
    img = Image.fromarray(digit)
    if mode == "I;16":
        img = Image.fromarray(digit.astype(np.uint16) * 257)
        assert img.mode == "I;16"
    else:
        img = img.convert(mode)
    suffix = ".tif" if mode == "CMYK" else ".png"
    img.save(tmp_path / f"d{suffix}")
    out = load_image(tmp_path / f"d{suffix}")
    assert np.corrcoef(out.ravel(), mnist.x_test[1].ravel())[0, 1] > 0.8


def test_jpeg_and_gif_first_frame(tmp_path, mnist):
    digit = 255 - np.kron(mnist.x_test[2], np.ones((5, 5), np.uint8))
    Image.fromarray(digit).convert("RGB").save(tmp_path / "d.jpg", quality=90)
    frames = [Image.fromarray(digit), Image.fromarray(np.full_like(digit, 255))]
    frames[0].save(tmp_path / "d.gif", save_all=True, append_images=frames[1:])
    for name in ("d.jpg", "d.gif"):
        out = load_image(tmp_path / name)
        assert np.corrcoef(out.ravel(), mnist.x_test[2].ravel())[0, 1] > 0.8


@pytest.mark.parametrize("fill", [0, 255, 128])
def test_blank_images_are_refused(fill):
    with pytest.raises(ImageError, match="no digit"):
        to_mnist(np.full((50, 50), fill, np.uint8))


def test_unreadable_files(tmp_path):
    (tmp_path / "text.png").write_text("this is not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "text.png")
    with pytest.raises(ImageError, match="empty.png: the file is empty"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(ImageError, match="upload.png: the file is empty"):
        load_image(b"", name="upload.png")
    with pytest.raises(ImageError, match="cannot open"):
        load_image(tmp_path / "missing.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.eye(64, dtype=np.uint8) * 255).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(ImageError):
        load_image(tmp_path / "cut.png")


def test_too_many_pixels_is_refused_unread(tmp_path, monkeypatch):
    Image.new("L", (300, 300), 255).save(tmp_path / "big.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 10_000)
    with pytest.raises(ImageError, match="more than"):
        load_image(tmp_path / "big.png")


def test_bytes_input_and_tiny_image():
    import io

    buf = io.BytesIO()  # a 6x6 picture of one stroke: tiny, but ink enough for a digit
    Image.fromarray((255 * np.eye(6)).astype(np.uint8)).save(buf, format="PNG")
    out = load_image(buf.getvalue(), name="upload")
    assert out.shape == (28, 28) and out.max() > 0


def test_model_range_round_trip():
    x = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    m = to_model_input(x)
    assert m.shape == (5, 28, 28, 1) and m.min() >= -1 and m.max() <= 1
    np.testing.assert_array_equal(from_model_output(m), x)


def test_oversized_file_is_refused_unread(tmp_path, monkeypatch):
    Image.new("L", (100, 100), 255).save(tmp_path / "f.png")
    monkeypatch.setattr(preprocess, "MAX_FILE_BYTES", 10)
    with pytest.raises(ImageError, match="bytes is more than"):
        load_image(tmp_path / "f.png")


def test_a_float_tiff_in_0_to_1_is_read_as_0_to_1(tmp_path, mnist):
    """Issue 34, item 18: a float TIFF of 0-1 values (as numpy code writes one) was divided
    by 255 and found blank."""
    digit = mnist.x_test[0]
    Image.fromarray(digit.astype(np.float32) / 255.0, "F").save(tmp_path / "d.tif")
    Image.fromarray(digit).save(tmp_path / "d.png")
    np.testing.assert_array_equal(load_image(tmp_path / "d.tif"), load_image(tmp_path / "d.png"))
    Image.fromarray(digit.astype(np.float32), "F").save(tmp_path / "d255.tif")  # 0-255 floats
    np.testing.assert_array_equal(load_image(tmp_path / "d255.tif"),
                                  load_image(tmp_path / "d.png"))


def test_a_huge_noise_picture_is_judged_not_refused_as_blank(tmp_path):
    """Issue 35, item 9: a 6000x6000 picture of uniform noise has contrast and ink; shrinking
    it averaged the noise to an even grey and it was refused as "no digit found". It is now
    framed with contrast (the model judges it), and a huge blank picture is still refused."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (6000, 6000), dtype=np.uint8)).save(tmp_path / "n.png")
    x = load_image(tmp_path / "n.png")
    assert x.shape == (28, 28) and not preprocess.no_digit(x[None])[0]
    assert x.max() - x.min() > 200
    Image.new("L", (6000, 6000), 128).save(tmp_path / "grey.png")
    with pytest.raises(ImageError, match="no digit found"):
        load_image(tmp_path / "grey.png")
