"""Files that are never half-written: atomic file and folder writes, and crash recovery.

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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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


@contextlib.contextmanager
def atomic_dir(target: Path | str) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``target`` only if the block succeeds.

    The folder is made beside ``target`` (same file system, so the final renames are atomic).
    An existing ``target`` is moved aside, the new folder renamed in, then the old one
    removed; :func:`recover` undoes a crash between the two renames.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model folder is an ordinary folder
    try:
        yield tmp
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def recover(target: Path | str) -> None:
    """Put back a folder that a crash left moved aside by :func:`atomic_dir`."""
    target = Path(target)
    old = target.with_name(f".{target.name}.old")
    if old.exists() and not target.exists():
        os.replace(old, target)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file and rename it into place."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
