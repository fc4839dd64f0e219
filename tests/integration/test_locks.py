"""Issue #17, items 1-2: checkpoints out of reach of model names, writer locks, safe swaps."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ganmc.core import files, locks
from ganmc.core.errors import FolderBusyError, ModelError, StorageError
from ganmc.nets.train import checkpoint_dir
from ganmc.storage import bundle

SHIPPED_CARD = bundle.DEFAULT_MODEL / bundle.CARD


def _model(folder: Path) -> Path:
    """A folder that reads as a model card (no networks: read_card only)."""
    folder.mkdir(parents=True)
    shutil.copy(SHIPPED_CARD, folder / bundle.CARD)
    return folder


# ------------------------------------------------------------------ item 1: names
def test_checkpoints_live_where_no_model_name_reaches(tmp_path):
    ckpt = checkpoint_dir(tmp_path / "X")
    assert ckpt == tmp_path / ".X.ckpt"
    # a model *called* X.ckpt is not the checkpoint of X, and model names never start with "."
    assert ckpt != tmp_path / bundle.safe_name("X.ckpt")
    assert not bundle.safe_name(".X.ckpt").startswith(".")
    # the checkpoint's own temporaries and locks do not reach a model named X.ckpt either
    with files.atomic_dir(ckpt) as tmp:
        (tmp / "state.json").write_text("{}")
    saved = _model(tmp_path / "X.ckpt")
    assert bundle.read_card(saved)["format"] == bundle.FORMAT
    assert (ckpt / "state.json").exists()


def test_folder_use_says_what_holds_a_name(tmp_path):
    assert bundle.folder_use(tmp_path / "free") is None
    bundle.check_free(tmp_path / "free")
    _model(tmp_path / "saved")
    assert "saved model" in bundle.folder_use(tmp_path / "saved")
    with pytest.raises(FolderBusyError, match="saved model"):
        bundle.check_free(tmp_path / "saved")
    _model(tmp_path / ".crashed.old")  # a crash between the two renames of a save
    assert "saved model" in bundle.folder_use(tmp_path / "crashed")
    (tmp_path / "foreign").mkdir()
    assert "not a ganmc model" in bundle.folder_use(tmp_path / "foreign")
    checkpoint_dir(tmp_path / "interrupted").mkdir()
    assert "checkpoint" in bundle.folder_use(tmp_path / "interrupted")
    with locks.folder_lock(tmp_path / "running"):
        assert "writing this model now" in bundle.folder_use(tmp_path / "running")
    assert bundle.folder_use(tmp_path / "running") is None
    # a writer that wrote nothing leaves no lock file (issue 34, item 19)
    assert sorted(p.name for p in tmp_path.iterdir() if "running" in p.name) == []


# ------------------------------------------------------------------ item 2: locks
HOLD = textwrap.dedent("""
    import sys, time
    from ganmc.core import files, locks
    with locks.folder_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()
""")


def test_a_second_writer_is_refused_in_one_line(tmp_path):
    target = tmp_path / "m"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError) as info, locks.folder_lock(target):
            pass
        assert "\n" not in str(info.value) and "another training run or save" in str(info.value)
        with pytest.raises(FolderBusyError), files.atomic_dir(target, wait=0.2):
            pass
        assert locks.is_locked(target)
    finally:
        holder.communicate("", timeout=30)
    assert not locks.is_locked(target)
    with files.atomic_dir(target, wait=0) as tmp:  # free again once the holder is gone
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1"


def test_the_lock_is_reentrant_for_its_thread_only(tmp_path):
    target = tmp_path / "m"
    outcome = []

    def other():
        try:
            with locks.folder_lock(target):
                outcome.append("entered")
        except FolderBusyError:
            outcome.append("refused")

    with locks.folder_lock(target):  # a training run holds the folder ...
        with files.atomic_dir(target, wait=0) as tmp:  # ... and saves into it at the end
            (tmp / "a").write_text("1")
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert outcome == ["refused"] and (target / "a").read_text() == "1"


HAMMER = textwrap.dedent("""
    import sys
    from ganmc.core import files, locks
    from ganmc.core.errors import FolderBusyError
    target, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(n):
        with files.atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text(f"{tag}{i}")
            (tmp / "b.txt").write_text(f"{tag}{i}")
    print("ok")
""")

READ = textwrap.dedent("""
    import sys
    from ganmc.core import files, locks
    target, n = sys.argv[1], int(sys.argv[2])
    bad = 0
    for _ in range(n):
        with locks.reading(target) as folder:
            try:
                a = (folder / "a.txt").read_text()
                b = (folder / "b.txt").read_text()
                bad += a != b
            except (OSError, TypeError) as exc:
                bad += 1
                print(type(exc).__name__, exc, file=sys.stderr)
    print(bad)
""")


def test_two_writers_and_a_reader_lose_nothing(tmp_path):
    target = tmp_path / "m"
    with files.atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("start")
        (tmp / "b.txt").write_text("start")
    writers = [subprocess.Popen([sys.executable, "-c", HAMMER, str(target), tag, "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for tag in "pq"]
    reader = subprocess.Popen([sys.executable, "-c", READ, str(target), "1500"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [p.communicate(timeout=120) for p in (*writers, reader)]
    for (out, err), p in zip(results[:2], writers):
        assert (p.returncode, out.strip(), err) == (0, "ok", "")
    assert (reader.returncode, results[2][0].strip(), results[2][1]) == (0, "0", "")
    last = (target / "a.txt").read_text()
    assert last in ("p59", "q59") and (target / "b.txt").read_text() == last
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", ".m.swap", "m"]


def test_stale_temporaries_of_killed_saves_are_cleaned_at_the_next_save(tmp_path):
    target = tmp_path / "X"
    for name in (".X.tmp-k1ll3d0a", ".X.tmp-k1ll3d0b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "generator.keras").write_bytes(b"")  # the 0-byte leftover
    other = tmp_path / ".X.tmp-other.old"  # not ours: a model named "X.tmp-other"
    other.mkdir()
    with files.atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".X.lock", ".X.swap", ".X.tmp-other.old", "X"]


def test_reads_never_write(tmp_path):
    aside = _model(tmp_path / ".m.old")  # a crash between the two renames of a save
    card = bundle.read_card(tmp_path / "m")
    assert card["format"] == bundle.FORMAT
    assert aside.is_dir() and not (tmp_path / "m").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.old"]
    with pytest.raises(ModelError, match="no such model folder"):
        bundle.read_card(tmp_path / "nothing")
    with files.atomic_dir(tmp_path / "m") as tmp:  # the next writer puts it back first
        assert (tmp_path / "m" / bundle.CARD).is_file() and not aside.exists()
        (tmp / bundle.CARD).write_text((tmp_path / "m" / bundle.CARD).read_text())


def test_check_writable(tmp_path):
    assert locks.check_writable(tmp_path / "new" / "models").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError) as info:
        locks.check_writable(tmp_path / "file" / "models")
    assert "\n" not in str(info.value) and "cannot create" in str(info.value)
