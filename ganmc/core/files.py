"""Files that are never half-written: atomic file and folder writes, and crash recovery;
and the check that a file to be read is an ordinary file.

Every file ganmc writes (model folders, checkpoints, reports, tables) goes through here: first
to a temporary sibling on the same file system, then renamed into place.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ganmc.core.errors import FolderBusyError, GanmcError, StorageError, one_line
from ganmc.core.locks import (
    READ_WAIT_S,
    SAVE_WAIT_S,
    folder_lock,
    old_path,
    real_path,
    stale_temporaries,
    swap_lock,
)


def regular_size(path: Path | str, error: type[GanmcError]) -> int:
    """The size of ``path`` if it is an ordinary file (links followed), checked without
    opening it: a pipe would block a read and a device (``/dev/zero``) never end one.

    Raises:
        GanmcError: ``error``, with one line, if it is missing, a folder, or not a regular
            file.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"{path}: cannot open ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: not a regular file (a pipe, device or socket); refused unread")
    return st.st_size


def output_target(path: Path | str) -> tuple[str, Path]:
    """Where a file ganmc writes (a table, a report, ``--out``, ``--errors``) goes, decided
    from what is at ``path`` (links followed) without opening or writing anything.

    Returns:
        ``("file", where)``: an ordinary file, written whole through a temporary and a rename
        at ``where`` (a symbolic link's target: the link stays a link); or ``("stream",
        path)``: a pipe, ``/dev/null`` or this process's standard output or error, written
        into as they are (nothing is renamed over them).

    Raises:
        StorageError: If ``path`` is a folder or a device, socket or other node that is not a
            file, a pipe, standard output or ``/dev/null``: nothing is written.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise StorageError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})") \
            from None
    if st is None or stat.S_ISREG(st.st_mode):
        return "file", (Path(os.path.realpath(path)) if path.is_symlink() else path)
    if stat.S_ISDIR(st.st_mode):
        raise StorageError(f"{path}: is a folder, not a file")
    if stat.S_ISFIFO(st.st_mode) or (stat.S_ISCHR(st.st_mode) and _is_sink(st)):
        return "stream", path
    raise StorageError(f"{path}: a device or socket, not a file; ganmc writes only files, "
                       f"pipes, standard output and /dev/null: nothing written")


def _is_sink(st: os.stat_result) -> bool:
    """Whether a character device is ``/dev/null`` or this process's standard output or
    error (``/dev/stdout`` on a terminal)."""
    nodes = []
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            nodes.append(os.fstat(fd))
    with contextlib.suppress(OSError):
        nodes.append(os.stat(os.devnull))
    return any((st.st_dev, st.st_ino, st.st_rdev) == (n.st_dev, n.st_ino, n.st_rdev)
               for n in nodes)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write a file through a temporary sibling and a rename: never half-written. What
    :func:`output_target` says is not a file (a pipe, standard output) is written into as
    it is; nothing but an ordinary file is ever renamed over.

    Raises:
        StorageError: If the folder cannot be made or written, or ``path`` is a folder or a
            device.
    """
    path = Path(path)
    kind, where = output_target(path)
    if kind == "stream":
        try:
            with open(where, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise StorageError(f"{path}: cannot write ({exc.strerror or exc})") from None
        return path
    tmp = None
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{where.name[:100]}.tmp-", dir=where.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        if output_target(where)[0] != "file":  # something else was put there meanwhile
            raise StorageError(f"{path}: is no longer a file; nothing written")
        os.replace(tmp, where)
    except OSError as exc:
        raise StorageError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path


def table_bytes(rows: list[dict[str, Any]], fmt: str = "csv",
                fields: list[str] | None = None) -> bytes:
    """Rows as CSV (header ``fields``, else the first row's keys) or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2).encode()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields or (list(rows[0]) if rows else []))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def write_table(path: Path | str, rows: list[dict[str, Any]],
                fields: list[str] | None = None) -> Path:
    """Write rows as CSV or JSON (by suffix), atomically."""
    path = Path(path)
    fmt = "json" if path.suffix.lower() == ".json" else "csv"
    return atomic_write_bytes(path, table_bytes(rows, fmt, fields))


def write_json_file(path: Path | str, data: Any) -> Path:
    """Write JSON atomically (indented, ending in a newline). Infinity and NaN are refused:
    they are no JSON numbers, and a card holding one could not be read back.

    Raises:
        StorageError: If ``data`` holds an infinite or NaN number (nothing written), or as
            :func:`atomic_write_bytes`.
    """
    try:
        text = json.dumps(data, indent=2, allow_nan=False)
    except ValueError as exc:
        raise StorageError(f"{path}: not written, it would hold a number JSON cannot ({exc})") \
            from None
    return atomic_write_bytes(path, (text + "\n").encode())


@contextlib.contextmanager
def atomic_dir(target: Path | str, *, wait: float = SAVE_WAIT_S,
               check: Callable[[Path], None] | None = None,
               carry: Callable[[str], bool] | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``target`` only if the block succeeds.

    The whole save holds ``target``'s writer lock (:func:`folder_lock`; waiting up to
    ``wait`` seconds for another save, re-entered by a thread that already holds it). Under
    it, a folder a crash left moved aside is put back and stale temporaries of killed saves
    are removed. The folder is made beside ``target`` (same file system, so the renames are
    atomic); the two renames of the swap are done under an exclusive swap lock that readers
    (:func:`reading`) share, so a reader never finds the folder missing. A ``target``
    reached through a symbolic link is replaced where it really is; the link stays.

    Args:
        target: The folder to create or replace.
        wait: Seconds to wait for another writer.
        check: Called with the real target before the block and again just before the swap,
            under the lock: it raises to refuse replacing what is there (nothing is touched).
        carry: For each entry of the folder being replaced that the block did not write,
            whether it is kept in the new folder (hard-linked or copied before the swap,
            folders and symbolic links as they are; one that appears during the swap is
            moved over after it).

    Raises:
        FolderBusyError: If another writer holds ``target`` for more than ``wait`` seconds.
        StorageError: If the folder cannot be written, or the block fails to write (an
            ``OSError``: disk full, ...); the temporary folder is removed.
    """
    target = real_path(target)
    with folder_lock(target, wait=wait):
        _recover_locked(target)
        if check is not None:
            check(target)
        for stale in stale_temporaries(target):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model folder is an ordinary folder
        try:
            yield tmp
            if carry is not None and target.is_dir():
                _carry(target, tmp, carry)
            old = old_path(target)
            with swap_lock(target, READ_WAIT_S):
                if check is not None:
                    check(target)
                if old.exists():
                    shutil.rmtree(old)
                if target.exists():
                    os.replace(target, old)
                os.replace(tmp, target)
            if carry is not None and old.is_dir():
                _carry(old, target, carry, move=True)  # anything put there during the swap
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:  # a full disk, a quota, a read-only file system: one line
            raise StorageError(f"{target}: cannot write ({exc.strerror or one_line(exc, 200)}); "
                               f"what was there before is kept") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _carry(src: Path, dest: Path, keep: Callable[[str], bool], move: bool = False) -> None:
    """Put the entries of folder ``src`` that ``keep`` names and ``dest`` lacks into ``dest``:
    moved, or hard-linked (copied where links cannot be made), symbolic links as links."""
    for entry in src.iterdir():
        to = dest / entry.name
        if not keep(entry.name) or to.exists() or to.is_symlink():
            continue
        if move:
            os.replace(entry, to)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry), to)
        elif entry.is_dir():
            shutil.copytree(entry, to, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, to)


def _link_or_copy(src: str | Path, dest: str | Path) -> None:
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dest, follow_symlinks=False)


def _recover_locked(target: Path) -> None:
    old = old_path(target)
    if not old.exists():
        return
    with swap_lock(target, READ_WAIT_S):
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
    target = real_path(target)
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
