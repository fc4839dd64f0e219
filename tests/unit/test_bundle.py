import json

import pytest

from ganmc.core import files
from ganmc.core.errors import ModelError
from ganmc.storage import bundle


def test_atomic_dir_replaces_only_on_success(tmp_path):
    target = tmp_path / "model"
    with files.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), files.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("crash while writing")
    assert (target / "a.txt").read_text() == "first"
    # no temporary left behind; only the (empty) lock files of the writer and swap locks
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", ".model.swap", "model"]


def test_recover_after_a_crash_between_renames(tmp_path):
    old = tmp_path / ".model.old"
    old.mkdir()
    (old / "ganmc.json").write_text("{}")
    files.recover(tmp_path / "model")
    assert (tmp_path / "model" / "ganmc.json").exists() and not old.exists()


def test_read_card_refuses_foreign_and_future(tmp_path):
    with pytest.raises(ModelError, match="no such"):
        bundle.read_card(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a ganmc model folder"):
        bundle.read_card(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / bundle.CARD).write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        bundle.read_card(bad)
    (bad / bundle.CARD).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ModelError, match="not a ganmc model card"):
        bundle.read_card(bad)
    (bad / bundle.CARD).write_text(json.dumps({"format": bundle.FORMAT, "format_version": 99}))
    with pytest.raises(ModelError, match="upgrade"):
        bundle.read_card(bad)


@pytest.mark.parametrize("name,expected", [
    ("my model", "my-model"), ("../../etc/passwd", "etc-passwd"), ("a/b\\c", "a-b-c"),
    ("ok_name-1.2", "ok_name-1.2"),
])
def test_safe_name(name, expected):
    assert bundle.safe_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", "/", "***"])
def test_safe_name_refuses_nothing_left(name):
    with pytest.raises(ModelError):
        bundle.safe_name(name)


def test_saving_a_model_again_keeps_its_other_files(tmp_path):
    """A model folder saved again (refresh, add-digits, calibrate) keeps the files the save
    does not write, such as its README; the parts the save writes are replaced."""
    target = tmp_path / "model"
    bundle.save_bundle(target, card={"v": 1}, networks={})
    (target / "README.md").write_text("how this model was made")
    bundle.save_bundle(target, card={"v": 2}, networks={})
    assert (target / "README.md").read_text() == "how this model was made"
    assert json.loads((target / bundle.CARD).read_text())["v"] == 2
