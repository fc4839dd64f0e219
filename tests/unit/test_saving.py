"""Issue 34, items 2-4, 13 and 19: what a save may replace. Tables and reports are never
renamed over a device, a pipe or a link; a model saved again keeps its folder's other files,
subfolders and links; only a ganmc model is ever replaced, checked again under the lock at
save time; a model folder reached through a link stays a link; a run that wrote nothing leaves
no lock file. Every path here is under the test's temporary folder."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from ganmc.core import files, locks
from ganmc.core.errors import ModelError, StorageError
from ganmc.storage import bundle


class FakeNetwork:
    """Stands for a Keras model: ``save`` writes a few bytes (and may do something else)."""

    def __init__(self, during=None):
        self.during = during

    def save(self, path):
        Path(path).write_bytes(b"weights")
        if self.during is not None:
            self.during()


def save(path, during=None, encoder=True) -> Path:
    nets = {"generator": FakeNetwork(during), "discriminator": FakeNetwork()}
    if encoder:
        nets["encoder"] = FakeNetwork()
    return bundle.save_bundle(path, card={"config": {}}, networks=nets,
                              arrays={"holdout/x": np.arange(3.0)})


# ----------------------------------------------------------------- item 2: --out, --errors
def test_a_pipe_is_written_into_and_stays_a_pipe(tmp_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    files.write_table(fifo, [{"source": "a.png", "reason": "blank"}])
    reader.join(20)
    assert got == [b"source,reason\r\na.png,blank\r\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # not replaced by a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary left


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    files.write_table(link, [{"a": 1}])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"a\r\n1\r\n"


def test_a_device_node_is_refused_and_kept(tmp_path):
    """A character device made in the temporary folder (the numbers of /dev/full): the
    atomic rename used to replace such a node with a regular file."""
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 7))
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here")
    with pytest.raises(StorageError, match="a device or socket, not a file.*nothing written"):
        files.atomic_write_bytes(node, b"data")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_the_rule_for_the_machines_devices_by_stat_only():
    """Read from the nodes' status alone: nothing is opened or written."""
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("no /dev/null device here")
    assert files.output_target("/dev/null") == ("stream", Path("/dev/null"))
    for device in ("/dev/full", "/dev/zero"):
        if os.path.exists(device) and stat.S_ISCHR(os.stat(device).st_mode):
            with pytest.raises(StorageError, match="a device or socket"):
                files.output_target(device)


def test_a_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "s.csv"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(StorageError, match="a device or socket"):
            files.write_table(path, [{"a": 1}])
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


# ----------------------------------------------------------------- item 3: other files kept
def test_saving_again_keeps_subfolders_links_and_files(tmp_path):
    model = save(tmp_path / "m")
    (model / "mynotes").mkdir()
    (model / "mynotes" / "notes.txt").write_text("keep me")
    (model / "mynotes" / "deep").mkdir()
    (model / "mynotes" / "deep" / "more.txt").write_text("me too")
    (model / "README").write_text("mine")
    (model / "data").symlink_to(tmp_path)
    (model / "dangling").symlink_to(tmp_path / "nowhere")
    save(model, encoder=False)
    assert (model / "mynotes" / "notes.txt").read_text() == "keep me"
    assert (model / "mynotes" / "deep" / "more.txt").read_text() == "me too"
    assert (model / "README").read_text() == "mine"
    assert (model / "data").is_symlink() and os.readlink(model / "data") == str(tmp_path)
    assert (model / "dangling").is_symlink()
    assert not (model / "encoder.keras").exists()  # ours, and no longer in the model
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", ".m.swap", "m"]


# ----------------------------------------------------------------- item 4: never what is not ours
def test_a_folder_of_other_files_is_never_replaced(tmp_path):
    user = tmp_path / "m"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    with pytest.raises(ModelError, match="not a ganmc model is there"):
        save(user)
    assert [p.name for p in user.iterdir()] == ["thesis.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]


def test_files_put_at_the_name_during_the_save_are_kept(tmp_path):
    """The name was free when the save began; a user's files appear at it before the swap:
    checked again under the lock, refused, kept."""
    target = tmp_path / "m"

    def user_writes():
        target.mkdir()
        (target / "thesis.tex").write_text("years of work")

    with pytest.raises(ModelError, match="not a ganmc model is there"):
        save(target, during=user_writes)
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_a_file_at_the_name_is_never_replaced(tmp_path):
    (tmp_path / "m").write_text("a file")
    with pytest.raises(ModelError, match="never replaces it"):
        save(tmp_path / "m")
    assert (tmp_path / "m").read_text() == "a file"


def test_an_empty_folder_may_be_written(tmp_path):
    (tmp_path / "m").mkdir()
    assert (save(tmp_path / "m") / bundle.CARD).is_file()


# ----------------------------------------------------------------- item 13: through a link
def test_a_model_folder_through_a_link_is_saved_where_it_is(tmp_path):
    real = save(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    for _ in range(2):  # the second save failed ("Cannot call rmtree on a symbolic link")
        save(link)
        assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / bundle.CARD).is_file()
    assert not (tmp_path / ".link.old").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".real.lock", ".real.swap", "link",
                                                          "real"]
    assert bundle.read_card(link)["config"] == {}


# ----------------------------------------------------------------- item 19: no stray lock file
def test_a_writer_that_wrote_nothing_leaves_no_lock_file(tmp_path):
    with pytest.raises(RuntimeError), locks.folder_lock(tmp_path / "m"):
        raise RuntimeError("refused")
    assert list(tmp_path.iterdir()) == []


def test_a_lock_whose_file_went_is_taken_again_on_the_new_one(tmp_path):
    """The first holder wrote nothing and removes the lock file as it lets go; a second
    writer waiting on the old file must not believe it holds the lock."""
    target = tmp_path / "m"
    first_in, second_done = threading.Event(), []

    def second():
        with locks.folder_lock(target, wait=10):
            second_done.append(locks.lock_path(target).exists())

    with locks.folder_lock(target):
        first_in.set()
        worker = threading.Thread(target=second)
        worker.start()
        worker.join(0.3)  # waiting on the first holder's file
    worker.join(10)
    assert second_done == [True]  # it held a lock on the file at the path


def test_infinity_is_never_written_into_json(tmp_path):
    path = tmp_path / "c.json"
    with pytest.raises(StorageError, match="a number JSON cannot"):
        files.write_json_file(path, {"threshold": float("inf")})
    assert not path.exists()
    files.write_json_file(path, {"threshold": None})
    assert json.loads(path.read_text()) == {"threshold": None}
