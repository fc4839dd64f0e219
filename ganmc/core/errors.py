"""Exceptions that carry a message meant for the user.

Every error a user can cause (bad files, bad settings, a foreign model folder) is raised as a
:class:`GanmcError` subclass with a one-line message; the CLI prints that line and exits non-zero,
and the dashboard shows it in the page. Anything else is a bug.
"""


class GanmcError(Exception):
    """Base class of every error caused by input rather than by a bug."""


class ImageError(GanmcError):
    """An image could not be read or holds nothing to score (e.g. a blank canvas)."""


class DataError(GanmcError):
    """A data source (npz, IDX, folder) is missing, unreadable or of the wrong shape."""


class ModelError(GanmcError):
    """A model folder is missing, corrupt, foreign, or of an unsupported format version."""


class ConfigError(GanmcError):
    """A setting is out of its allowed range."""


class TrainingError(GanmcError):
    """Training could not go on (e.g. the losses became NaN); the last checkpoint is kept."""


class BusyError(GanmcError):
    """Someone else is doing this now (an exclusive job of this kind is running)."""


class FolderBusyError(BusyError):
    """Another writer (a training run or a save, in this or another process) holds a folder."""


class StorageError(GanmcError):
    """A folder cannot be created or written (missing parent, read-only, not a folder)."""


def shown(text: object, limit: int | None = None) -> str:
    """``text`` made safe to print as (part of) one line: control characters (new lines,
    tabs, terminal escapes) written as escapes (``\\n``, ``\\x1b``), the bytes of a file
    name that are not UTF-8 as ``\\xNN``; at most ``limit`` characters, cut in the middle
    (so that a long path keeps its end and a message its reason)."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif ch != " " and not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return _cut("".join(out), limit)


def _cut(line: str, limit: int | None) -> str:
    if limit is None or len(line) <= limit:
        return line
    tail = max(limit // 3, 1)
    return line[: max(limit - tail - 1, 0)].rstrip() + "…" + line[-tail:].lstrip()


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one line of at most ``limit`` characters: whitespace runs collapsed, other
    control characters and undecodable bytes escaped (:func:`shown`), a longer line cut in
    the middle, keeping its start and its end (where a message says why)."""
    return shown(" ".join(str(text).split()), limit)
