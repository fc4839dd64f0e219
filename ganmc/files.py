"""Files that are never half-written: atomic file and folder writes, and crash recovery.

Every file ganmc writes (model folders, checkpoints, reports, tables) goes through here: first
to a temporary sibling on the same file system, then renamed into place.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganmc.errors import FolderBusyError, StorageError


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write a file through a temporary sibling and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def table_bytes(rows: list[dict[str, Any]], fmt: str = "csv") -> bytes:
    """Rows as CSV (header from the first row) or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2).encode()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def write_table(path: Path | str, rows: list[dict[str, Any]]) -> Path:
    """Write rows as CSV or JSON (by suffix), atomically."""
    path = Path(path)
    fmt = "json" if path.suffix.lower() == ".json" else "csv"
    return atomic_write_bytes(path, table_bytes(rows, fmt))


def write_json_file(path: Path | str, data: Any) -> Path:
    """Write JSON atomically."""
    return atomic_write_bytes(path, json.dumps(data, indent=2).encode())


#: How long a save waits for another save of the same folder to finish before refusing.
SAVE_WAIT_S = 30.0
#: How long a read waits for a folder swap (milliseconds long) to finish before refusing.
READ_WAIT_S = 30.0

# Locks this process holds, by lock file: (thread, depth, fd); a thread may re-enter its own.
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


def _aux(target: Path, suffix: str) -> Path:
    """A hidden sibling of ``target`` (``.NAME.SUFFIX``); no model name can reach it, since
    model names never start with a dot and suffixes hold no dot."""
    return target.with_name(f".{target.name}.{suffix}")


def lock_path(target: Path | str) -> Path:
    """The lock file writers of ``target`` hold (``.NAME.lock`` beside it)."""
    return _aux(Path(target), "lock")


def _swap_path(target: Path) -> Path:
    return _aux(target, "swap")


def old_path(target: Path | str) -> Path:
    """Where :func:`atomic_dir` moves the previous folder during a swap (``.NAME.old``)."""
    return _aux(Path(target), "old")


def checkpoint_path(target: Path | str) -> Path:
    """Where the checkpoints of a training run writing ``target`` live (``.NAME.ckpt``)."""
    return _aux(Path(target), "ckpt")


def _stale_temporaries(target: Path) -> list[Path]:
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.tmp-[A-Za-z0-9_]{{8}}$")
    try:
        return [p for p in target.parent.iterdir() if pattern.match(p.name)]
    except OSError:
        return []


def _flock(fd: int, op: int, wait: float) -> bool:
    """flock ``fd``, retrying for up to ``wait`` seconds; False if it stayed taken."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


def check_writable(folder: Path | str) -> Path:
    """Make sure ``folder`` exists (creating it and its parents if needed) and can be written.

    Call it before long work (training) that ends by writing there.

    Raises:
        StorageError: If the folder cannot be created or written (one line, with the reason).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"{folder}: cannot create the folder "
                           f"({exc.strerror or type(exc).__name__})") from None
    if not folder.is_dir():
        raise StorageError(f"{folder}: not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".ganmc-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StorageError(f"{folder}: cannot write in this folder "
                           f"({exc.strerror or type(exc).__name__})") from None
    return folder


@contextlib.contextmanager
def folder_lock(target: Path | str, *, wait: float = 0.0) -> Iterator[Path]:
    """Hold the writer lock of folder ``target`` (an OS ``flock`` on ``.NAME.lock`` beside it).

    One writer at a time per folder, across threads and processes; the lock goes with the
    process if it dies. Hold it for the whole of a training run into ``target``: the final
    save (:func:`atomic_dir`) re-enters it from the same thread. Other writers wait up to
    ``wait`` seconds, then are refused.

    Raises:
        FolderBusyError: If another writer holds it (after ``wait`` seconds).
        StorageError: If the lock file cannot be created (missing or read-only folder).
    """
    target = Path(target)
    lock = lock_path(target)
    key = os.path.abspath(lock)
    me = threading.get_ident()
    with _held_guard:
        entry = _held.get(key)
        if entry is not None and entry[0] == me:
            entry[1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield target
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    check_writable(target.parent)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StorageError(f"{target}: cannot create the lock file {lock.name} "
                           f"({exc.strerror or type(exc).__name__})") from None
    try:
        if not _flock(fd, fcntl.LOCK_EX, wait):
            raise FolderBusyError(f"{target}: another training run or save is writing this "
                                  f"folder; wait for it to finish or choose another name")
        with _held_guard:
            _held[key] = [me, 1, fd]
        try:
            yield target
        finally:
            with _held_guard:
                _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_locked(target: Path | str) -> bool:
    """Whether a writer (a training run or a save) holds ``target`` now. Writes nothing."""
    try:
        fd = os.open(lock_path(Path(target)), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: never written under a lock
    try:
        if _flock(fd, fcntl.LOCK_SH, 0.0):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def _swap_lock(target: Path, wait: float) -> Iterator[None]:
    """Exclusive hold of the swap lock: readers are out while the folder is renamed."""
    fd = os.open(_swap_path(target), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if not _flock(fd, fcntl.LOCK_EX, wait):
            raise FolderBusyError(f"{target}: readers kept the folder busy for over {wait:g} s; "
                                  f"try again")
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def reading(target: Path | str, *, wait: float = READ_WAIT_S) -> Iterator[Path | None]:
    """Read a folder that writers replace with :func:`atomic_dir`; writes nothing.

    Holds a shared lock against a swap while the block reads, and yields the folder to
    read: ``target``; or, where a crash between the two renames of a swap left the previous
    folder moved aside, that folder (``.NAME.old``, read-only; the next writer puts it back);
    or None when there is neither.

    Raises:
        FolderBusyError: If a swap holds the folder for more than ``wait`` seconds.
    """
    target = Path(target)
    for _ in range(3):
        try:
            fd: int | None = os.open(_swap_path(target), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            fd = None  # never swapped under a lock (or an unreadable folder): read as it is
        try:
            if fd is not None and not _flock(fd, fcntl.LOCK_SH, wait):
                raise FolderBusyError(f"{target}: a save kept the folder busy for over "
                                      f"{wait:g} s; try again")
            old = old_path(target)
            folder = target if target.is_dir() else old if old.is_dir() else None
            if folder is None and fd is None and _swap_path(target).exists():
                continue  # a first locked swap began as we looked: look again, under its lock
            yield folder
            return
        finally:
            if fd is not None:
                os.close(fd)  # closing releases the shared lock
    yield None


@contextlib.contextmanager
def atomic_dir(target: Path | str, *, wait: float = SAVE_WAIT_S) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``target`` only if the block succeeds.

    The whole save holds ``target``'s writer lock (:func:`folder_lock`; waiting up to
    ``wait`` seconds for another save, re-entered by a thread that already holds it). Under
    it, a folder a crash left moved aside is put back and stale temporaries of killed saves
    are removed. The folder is made beside ``target`` (same file system, so the renames are
    atomic); the two renames of the swap are done under an exclusive swap lock that readers
    (:func:`reading`) share, so a reader never finds the folder missing.

    Raises:
        FolderBusyError: If another writer holds ``target`` for more than ``wait`` seconds.
        StorageError: If the folder cannot be written.
    """
    target = Path(target)
    with folder_lock(target, wait=wait):
        _recover_locked(target)
        for stale in _stale_temporaries(target):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model folder is an ordinary folder
        try:
            yield tmp
            old = old_path(target)
            with _swap_lock(target, READ_WAIT_S):
                if old.exists():
                    shutil.rmtree(old)
                if target.exists():
                    os.replace(target, old)
                os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _recover_locked(target: Path) -> None:
    old = old_path(target)
    if not old.exists():
        return
    with _swap_lock(target, READ_WAIT_S):
        if not target.exists():
            os.replace(old, target)
        else:  # a crash after the second rename: the new folder is in place
            shutil.rmtree(old, ignore_errors=True)


def recover(target: Path | str) -> None:
    """Put back a folder that a crash left moved aside by :func:`atomic_dir`.

    Done under the folder's writer lock; where another writer holds it, left to that writer
    (which recovers before it saves). Readers need not call this: see :func:`reading`.

    Raises:
        StorageError: If the folder cannot be written.
    """
    target = Path(target)
    if not old_path(target).exists():
        return
    try:
        with folder_lock(target):
            _recover_locked(target)
    except FolderBusyError:
        return
    except OSError as exc:
        raise StorageError(f"{target}: cannot recover the folder a crash left aside "
                           f"({exc.strerror or type(exc).__name__})") from None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file and rename it into place."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
