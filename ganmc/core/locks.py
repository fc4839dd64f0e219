"""Locks on model folders: one writer at a time (an OS ``flock``), readers that never see a
folder half-swapped, and the hidden sibling names (``.NAME.lock``, ``.NAME.old``, ...) that
no model name can reach.

:mod:`ganmc.core.files` writes folders under these locks; :mod:`ganmc.storage.bundle` reads under
them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ganmc.core.errors import FolderBusyError, StorageError

#: How long a save waits for another save of the same folder to finish before refusing.
SAVE_WAIT_S = 30.0
#: How long a read waits for a folder swap (milliseconds long) to finish before refusing.
READ_WAIT_S = 30.0

# Locks this process holds, by lock file: (thread, depth, fd); a thread may re-enter its own.
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


def real_path(target: Path | str) -> Path:
    """``target`` with symbolic links resolved: a model folder reached through a link is
    locked, written and read where it really is, and the link stays a link."""
    return Path(os.path.realpath(target))


def _aux(target: Path, suffix: str) -> Path:
    """A hidden sibling of ``target`` (``.NAME.SUFFIX``); no model name can reach it, since
    model names never start with a dot and suffixes hold no dot."""
    return target.with_name(f".{target.name}.{suffix}")


def lock_path(target: Path | str) -> Path:
    """The lock file writers of ``target`` hold (``.NAME.lock`` beside it)."""
    return _aux(Path(target), "lock")


def _swap_path(target: Path) -> Path:
    return _aux(target, "swap")


def remove_lock_files(target: Path | str) -> None:
    """Delete ``target``'s lock files once nothing will write it again (e.g. a checkpoint
    folder after its model is saved)."""
    for path in (lock_path(target), _swap_path(Path(target))):
        path.unlink(missing_ok=True)


def old_path(target: Path | str) -> Path:
    """Where :func:`atomic_dir` moves the previous folder during a swap (``.NAME.old``)."""
    return _aux(Path(target), "old")


def checkpoint_path(target: Path | str) -> Path:
    """Where the checkpoints of a training run writing ``target`` live (``.NAME.ckpt``)."""
    return _aux(Path(target), "ckpt")


def set_aside_path(target: Path | str) -> Path:
    """Where the checkpoint of an interrupted run into ``target`` is kept when a new run
    replaces it (``.NAME.ckpt-replaced``)."""
    return _aux(Path(target), "ckpt-replaced")


#: Characters :func:`tempfile.mkdtemp` adds after a temporary's prefix.
_TEMP_TAIL = 8


def longest_sibling_name(target: Path | str) -> int:
    """Length of the longest name a training run or a save of ``target`` creates beside it:
    the temporaries, locks and moved-aside folders of ``target`` and of its checkpoint
    (``..NAME.ckpt.tmp-XXXXXXXX`` is the longest)."""
    ckpt = checkpoint_path(target)
    return max(len(set_aside_path(target).name),
               *(len(_aux(t, s).name) for t in (Path(target), ckpt)
                 for s in ("lock", "swap", "old", "tmp-" + "x" * _TEMP_TAIL)))


def stale_temporaries(target: Path) -> list[Path]:
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.tmp-[A-Za-z0-9_]{{{_TEMP_TAIL}}}$")
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


@contextlib.contextmanager
def folder_lock(target: Path | str, *, wait: float = 0.0) -> Iterator[Path]:
    """Hold the writer lock of folder ``target`` (an OS ``flock`` on ``.NAME.lock`` beside it).

    One writer at a time per folder, across threads and processes; the lock goes with the
    process if it dies. Hold it for the whole of a training run into ``target``: the final
    save (:func:`atomic_dir`) re-enters it from the same thread. Other writers wait up to
    ``wait`` seconds, then are refused. A folder reached through a symbolic link is locked
    where it really is (:func:`real_path`). A holder that leaves nothing at ``target`` (a
    refused run) removes the lock file as it lets go.

    Raises:
        FolderBusyError: If another writer holds it (after ``wait`` seconds).
        StorageError: If the lock file cannot be created (missing or read-only folder).
    """
    target = Path(target)
    real = real_path(target)
    lock = lock_path(real)
    key = str(lock)
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
    check_writable(real.parent)
    fd = _locked_fd(target, lock, wait)
    try:
        with _held_guard:
            _held[key] = [me, 1, fd]
        try:
            yield target
        finally:
            with _held_guard:
                _held.pop(key, None)
            if not real.exists():  # nothing was written (a refused run): leave no lock file
                lock.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _locked_fd(target: Path, lock: Path, wait: float) -> int:
    """An open descriptor of ``lock`` holding its exclusive ``flock``. A holder that wrote
    nothing removes the file as it lets go: a lock taken on a file no longer at its path is
    let go and taken again on the path's file."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(f"{target}: cannot create the lock file {lock.name} "
                               f"({exc.strerror or type(exc).__name__})") from None
        try:
            if not _flock(fd, fcntl.LOCK_EX, max(0.0, deadline - time.monotonic())):
                raise FolderBusyError(f"{target}: another training run or save is writing "
                                      f"this folder; wait for it to finish or choose another "
                                      f"name")
            if _same_file(fd, lock):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was removed while we waited for it: lock the new one


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def is_locked(target: Path | str) -> bool:
    """Whether a writer (a training run or a save) holds ``target`` now. Writes nothing."""
    try:
        fd = os.open(lock_path(real_path(target)), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: never written under a lock, or no writer now
    try:
        if _flock(fd, fcntl.LOCK_SH, 0.0):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def swap_lock(target: Path, wait: float) -> Iterator[None]:
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
    target = real_path(target)
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
