"""Your own pictures (issue #33, part 1): the two framings, reading a folder, a zip or
uploads, what is said about them, and the preview grid. No model: small PNGs in tmp_path."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from ganmc.core.config import TrainConfig
from ganmc.core.errors import ConfigError, DataError
from ganmc.images import folders
from ganmc.images.folders import read_folder, read_uploads, read_zip
from ganmc.images.inputs import read_inputs
from ganmc.images.preprocess import frame, load_image, to_whole


def png(img: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt)
    return buf.getvalue()


def picture(seed: int, shape=(36, 24, 3)) -> np.ndarray:
    """A colour picture whose every part counts: a gradient with a bright square."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, shape).astype(np.uint8)
    img[4:14, 4:14] = 230
    return img


def classes_folder(root, per_class: int = 12, anomalies: int = 3):
    """root/normal/{bag,shoe}/ and root/anomaly/, colour PNGs and JPEGs of two sizes."""
    for c, name in enumerate(("shoe", "bag")):
        d = root / "normal" / name
        d.mkdir(parents=True)
        for i in range(per_class):
            (d / f"{i}.png").write_bytes(png(picture(100 * c + i)))
    a = root / "anomaly"
    a.mkdir()
    for i in range(anomalies):
        (a / f"{i}.jpg").write_bytes(png(picture(999 + i, (50, 50, 3)), "JPEG"))
    return root


# ------------------------------------------------------------------ framings
def test_whole_framing_keeps_a_28x28_grey_picture_as_it_is():
    x = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    np.testing.assert_array_equal(to_whole(x), x)
    np.testing.assert_array_equal(frame(x, "whole"), x)
    assert not np.array_equal(frame(x, "digits"), x)  # the digits framing refits the ink


def test_whole_framing_keeps_the_aspect_by_padding_with_the_edge_colour():
    img = np.full((100, 50), 200, np.uint8)  # tall, light grey
    img[40:60, 10:40] = 20  # a dark bar across the middle
    out = to_whole(img)
    assert out.shape == (28, 28)
    # 50 wide -> 14 columns in the middle; the rest is the edge's grey, not black
    assert (out[:, :7] == 200).all() and (out[:, -7:] == 200).all()
    assert out[14, 14] < 60  # the bar is still there, not inverted
    assert to_mnist_like_differs(img)


def to_mnist_like_differs(img: np.ndarray) -> bool:
    """The digits framing of the same picture inverts it and fits the ink: not the same."""
    return not np.array_equal(frame(img, "digits"), to_whole(img))


def test_whole_framing_keeps_a_picture_of_one_colour():
    out = frame(np.full((40, 40, 3), 90, np.uint8), "whole")
    assert (out == 90).all()
    with pytest.raises(Exception, match="no digit found"):
        frame(np.full((40, 40, 3), 90, np.uint8), "digits")


def test_load_image_and_read_inputs_frame_by_the_framing_given(tmp_path):
    img = picture(1)
    (tmp_path / "p.png").write_bytes(png(img))
    grey = np.asarray(Image.fromarray(img).convert("L"))
    whole = load_image(tmp_path / "p.png", framing="whole")
    np.testing.assert_array_equal(whole, to_whole(grey))
    batch = read_inputs([tmp_path], framing="whole")
    np.testing.assert_array_equal(batch.x[0], whole)
    assert not np.array_equal(read_inputs([tmp_path]).x[0], whole)  # digits by default
    with pytest.raises(ConfigError, match="framing"):
        frame(img, "sideways")


# ------------------------------------------------------------------ a folder of classes
def test_a_folder_of_classes_is_read_with_its_names_labels_and_anomalies(tmp_path):
    found = read_folder(classes_folder(tmp_path / "data"), "whole")
    assert found.layout == "classes" and found.classes == ("bag", "shoe")  # sorted
    assert found.x.shape == (24, 28, 28) and found.anomalies.shape == (3, 28, 28)
    assert found.class_counts() == {"bag": 12, "shoe": 12}
    assert sorted(set(found.labels.tolist())) == [0, 1]
    assert all(s.startswith("normal/bag/") for s in np.array(found.sources)[found.labels == 0])
    assert found.colour == 27 and found.sizes == {(24, 36): 24, (50, 50): 3}
    assert found.path == str((tmp_path / "data").resolve())
    text = "\n".join(found.lines())
    assert "24 pictures in 2 classes" in text and "bag 12, shoe 12" in text
    assert "anomaly (only to measure the model, never trained on): 3 pictures" in text
    assert "27 in colour, 0 grey" in text and "whole image framing" in text
    assert not found.problems()


def test_a_plain_folder_is_one_class_with_its_sub_folders(tmp_path):
    d = tmp_path / "pics"
    (d / "more").mkdir(parents=True)
    for i in range(5):
        (d / f"{i}.png").write_bytes(png(picture(i)))
        (d / "more" / f"{i}.bmp").write_bytes(png(picture(50 + i), "BMP"))
    (d / "w.webp").write_bytes(png(picture(77), "WEBP"))
    found = read_folder(d, "whole")
    assert found.layout == "plain" and found.classes is None and found.labels is None
    assert len(found) == 11 and len(found.anomalies) == 0
    assert "one class" in "\n".join(found.lines())


def test_bad_files_cost_only_themselves_and_are_named(tmp_path):
    d = classes_folder(tmp_path / "data")
    (d / "normal" / "bag" / "broken.png").write_bytes(png(picture(5))[:60])
    (d / "normal" / "bag" / "text.png").write_text("not a picture")
    (d / "normal" / "bag" / "empty.jpg").write_bytes(b"")
    (d / "normal" / "bag" / "notes.txt").write_text("hello")
    (d / "normal" / "bag" / "copy.png").write_bytes((d / "normal" / "bag" / "3.png").read_bytes())
    (d / "normal" / "loose.png").write_bytes(png(picture(7)))  # beside class folders
    (d / "extra").mkdir()
    (d / "extra" / "x.png").write_bytes(png(picture(8)))  # outside normal/ and anomaly/
    (d / ".DS_Store").write_bytes(b"\0")
    (d / "normal" / "bag" / "._0.png").write_bytes(b"\0")
    os.mkfifo(d / "normal" / "bag" / "pipe.png")  # read it and the reader would block
    found = read_folder(d, "whole")
    assert found.class_counts() == {"bag": 12, "shoe": 12}  # every good picture kept
    skipped = dict(found.skipped)
    assert set(skipped) == {"normal/bag/broken.png", "normal/bag/text.png",
                            "normal/bag/empty.jpg", "normal/bag/notes.txt",
                            "normal/loose.png", "extra/x.png", "normal/bag/pipe.png"}
    assert "truncated" in skipped["normal/bag/broken.png"]
    assert "not an image file" in skipped["normal/bag/text.png"]
    assert "not a picture (.txt" in skipped["normal/bag/notes.txt"]
    assert "put it in a class folder" in skipped["normal/loose.png"]
    assert "not a regular file" in skipped["normal/bag/pipe.png"]
    assert found.duplicates == [("normal/bag/copy.png", "normal/bag/3.png")]
    assert found.hidden == 2
    text = "\n".join(found.lines())
    assert "normal/bag/broken.png (corrupt or truncated" in text
    assert "identical files left out: 1: normal/bag/copy.png (same as normal/bag/3.png)" in text


def test_a_picture_in_normal_and_anomaly_is_kept_as_normal_only(tmp_path):
    d = classes_folder(tmp_path / "data")
    (d / "anomaly" / "again.png").write_bytes((d / "normal" / "shoe" / "0.png").read_bytes())
    found = read_folder(d, "whole")
    assert len(found.anomalies) == 3
    assert found.duplicates == [("anomaly/again.png", "normal/shoe/0.png")]


def test_too_few_pictures_in_a_class_are_said_and_refused_for_training(tmp_path):
    d = classes_folder(tmp_path / "data")
    (d / "normal" / "hat").mkdir()
    for i in range(3):
        (d / "normal" / "hat" / f"{i}.png").write_bytes(png(picture(300 + i)))
    found = read_folder(d, "whole")
    assert found.class_counts()["hat"] == 3
    assert any("'hat' (3)" in p for p in found.problems())
    assert any("cannot train" in line for line in found.lines())
    with pytest.raises(DataError, match="too few pictures in class 'hat'"):
        found.check_trainable()


def test_a_missing_folder_and_too_many_files_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no such folder"):
        read_folder(tmp_path / "nowhere")
    d = tmp_path / "many"
    d.mkdir()
    for i in range(6):
        (d / f"{i}.png").write_bytes(png(picture(i)))
    monkeypatch.setattr(folders, "MAX_FILES", 5)
    with pytest.raises(DataError, match="more than 5 files"):
        read_folder(d)


def test_the_digits_framing_reads_drawings_like_mnist(tmp_path, mnist):
    d = tmp_path / "drawn"
    d.mkdir()
    for i in range(4):  # dark ink on white paper, large
        (d / f"{i}.png").write_bytes(png(255 - np.kron(mnist.x_test[i], np.ones((5, 5),
                                                                             np.uint8))))
    found = read_folder(d, "digits")
    for got, want in zip(found.x, mnist.x_test[:4]):
        assert np.corrcoef(got.ravel().astype(float), want.ravel().astype(float))[0, 1] > 0.9


# ------------------------------------------------------------------ zips and uploads
def zipped(members: dict[str, bytes], extra=()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for info, data in extra:
            z.writestr(info, data)
    return buf.getvalue()


def test_a_zip_of_a_folder_is_read_like_the_folder(tmp_path):
    d = classes_folder(tmp_path / "data")
    members = {"data/" + str(p.relative_to(d)): p.read_bytes()
               for p in sorted(d.rglob("*")) if p.is_file()}
    from_zip = read_zip(zipped(members), "whole", name="data.zip")
    from_folder = read_folder(d, "whole")
    assert from_zip.classes == from_folder.classes and from_zip.source == "data.zip"
    np.testing.assert_array_equal(from_zip.x, from_folder.x)
    np.testing.assert_array_equal(from_zip.labels, from_folder.labels)
    np.testing.assert_array_equal(from_zip.anomalies, from_folder.anomalies)


def test_a_zips_unsafe_members_are_skipped_and_the_others_read():
    good = png(picture(1))
    link = zipfile.ZipInfo("normal/link.png")
    link.external_attr = 0o120777 << 16  # a symbolic link
    data = zipped({"normal/a.png": good, "normal/b.png": png(picture(2)),
                   "../evil.png": good, "/etc/abs.png": good, "normal/../../up.png": good,
                   "C:/win.png": good, "normal/bad.png": b"\x89PNG broken",
                   "__MACOSX/normal/._a.png": b"\0"},
                  extra=[(link, "a.png")])
    found = read_zip(data, "whole", name="up.zip")
    assert found.sources == ["normal/a.png", "normal/b.png"]
    skipped = dict(found.skipped)
    for name in ("../evil.png", "/etc/abs.png", "normal/../../up.png", "C:/win.png"):
        assert "outside the zip's folder" in skipped[name]
    assert "symbolic link" in skipped["normal/link.png"]
    assert "not an image file" in skipped["normal/bad.png"]
    assert found.hidden == 1


def test_a_zip_is_bounded_from_its_directory_before_reading(monkeypatch):
    data = zipped({f"{i}.png": png(picture(i)) for i in range(4)})
    monkeypatch.setattr(folders, "MAX_FILES", 3)
    with pytest.raises(DataError, match="4 members, more than the 3"):
        read_zip(data, name="big.zip")
    monkeypatch.setattr(folders, "MAX_FILES", 100)
    monkeypatch.setattr(folders, "MAX_ZIP_BYTES", 100)
    read = []
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: read.append(1))
    with pytest.raises(DataError, match="uncompressed, more than the 100 allowed"):
        read_zip(data, name="big.zip")
    assert not read  # refused from the directory: no member was unpacked


def test_a_member_whose_header_lies_costs_only_itself():
    good, bomb = png(picture(1)), png(picture(2))
    data = bytearray(zipped({"a.png": good, "b.png": bomb}))
    # the central directory's size of b.png says 10 bytes: zipfile stops there and the CRC
    # check fails, for that member only
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("b.png")
    at = bytes(data).rfind(b"b.png") - 46 + 24  # its central record's uncompressed size
    data[at:at + 4] = (10).to_bytes(4, "little")
    found = read_zip(bytes(data), "whole")
    assert found.sources == ["a.png"] and found.skipped[0][0] == "b.png"
    assert info.file_size == len(bomb)


def test_not_a_zip_and_mixed_uploads_are_one_line():
    with pytest.raises(DataError, match="not a zip file"):
        read_zip(b"hello", name="x.zip")
    with pytest.raises(DataError, match="one zip, or pictures"):
        read_uploads([("a.zip", zipped({"a.png": png(picture(1))})),
                      ("b.png", png(picture(2)))])


def test_uploaded_pictures_are_one_class_whatever_their_names():
    found = read_uploads([("normal/a.png", png(picture(1))), ("b.png", png(picture(2))),
                          ("c.png", b"nope")], "whole")
    assert found.layout == "plain" and len(found) == 2 and found.path is None
    assert found.stored_source == "uploaded pictures" and found.skipped[0][0] == "c.png"


# ------------------------------------------------------------------ the preview grid
def test_the_preview_shows_a_row_per_class_and_the_anomalies(tmp_path):
    found = read_folder(classes_folder(tmp_path / "data"), "whole")
    grid, names = folders.preview(found, per_row=12, scale=1)
    assert [n for _, n in names] == ["bag", "shoe", "anomaly"]
    assert grid.shape == (30 + 30 + 4 + 30, 12 * 30)
    np.testing.assert_array_equal(grid[1:29, 1:29], found.x[found.labels == 0][0])
    image = Image.open(io.BytesIO(folders.preview_png(found)))
    assert image.size[1] == grid.shape[0] * 2 and image.size[0] > grid.shape[1] * 2


# ------------------------------------------------------------------ class names in settings
def test_named_classes_are_the_models_normal_labels():
    c = TrainConfig.of({"classes": ["bag", "shoe"]})
    assert c.digits == (0, 1) and TrainConfig.from_dict(c.to_dict()).classes == ("bag", "shoe")
    with pytest.raises(ConfigError, match="every class normal"):
        TrainConfig(classes=("bag", "shoe"), digits=(0,))
    with pytest.raises(ConfigError, match="differ"):
        TrainConfig.of({"classes": ["a", "a"]})
    with pytest.raises(ConfigError, match="1 to 20"):
        TrainConfig.of({"classes": [str(i) for i in range(21)]})
    with pytest.raises(ConfigError, match="0-9"):
        TrainConfig(digits=(12,))  # without classes, digits stay MNIST's


def test_a_card_with_a_bad_framing_or_classes_and_bad_examples_are_refused():
    from ganmc.core.errors import ModelError
    from ganmc.storage.cardcheck import check_arrays, check_card

    card = {"format_version": 1, "config": {"arch": "mlp", "preset": "quick"}}
    check_card(card)  # no framing: digits
    check_card({**card, "framing": "whole"})
    with pytest.raises(ModelError, match="framing must be one of digits, whole"):
        check_card({**card, "framing": "sideways"})
    named = {**card, "config": {**card["config"], "classes": ["a", "b"], "digits": [0, 1]}}
    check_card(named)
    with pytest.raises(ModelError, match="config is out of range.*differ"):
        check_card({**card, "config": {**named["config"], "classes": ["a", "a"]}})
    with pytest.raises(ModelError, match="config is out of range.*0-1"):
        check_card({**card, "config": {**named["config"], "digits": [0, 1, 2]}})
    check_arrays({"examples/normal": np.zeros((3, 28, 28), np.uint8)})
    with pytest.raises(ModelError, match="examples/normal.*uint8 images"):
        check_arrays({"examples/normal": np.zeros((3, 28, 28), np.float32)})


def test_a_missing_source_and_a_dangling_link_are_named_as_such(tmp_path):
    with pytest.raises(DataError, match="no such folder or .zip file"):
        folders.read_source(tmp_path / "nowhere")
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(DataError, match="a link to nothing"):
        folders.read_source(tmp_path / "link")
