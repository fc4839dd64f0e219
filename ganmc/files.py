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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganmc.errors import FolderBusyError, GanmcError, StorageError, one_line
from ganmc.locks import (
    READ_WAIT_S,
    SAVE_WAIT_S,
    folder_lock,
    old_path,
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


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write a file through a temporary sibling and a rename: never half-written.

    Raises:
        StorageError: If the folder cannot be made or written, or ``path`` is a folder.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise StorageError(f"{path}: is a folder, not a file")
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
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
    """Write JSON atomically (indented, ending in a newline)."""
    return atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


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
        StorageError: If the folder cannot be written, or the block fails to write (an
            ``OSError``: disk full, ...); the temporary folder is removed.
    """
    target = Path(target)
    with folder_lock(target, wait=wait):
        _recover_locked(target)
        for stale in stale_temporaries(target):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model folder is an ordinary folder
        try:
            yield tmp
            old = old_path(target)
            with swap_lock(target, READ_WAIT_S):
                if old.exists():
                    shutil.rmtree(old)
                if target.exists():
                    os.replace(target, old)
                os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:  # a full disk, a quota, a read-only file system: one line
            raise StorageError(f"{target}: cannot write ({exc.strerror or one_line(exc, 200)}); "
                               f"what was there before is kept") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


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
