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


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one line of at most ``limit`` characters (whitespace runs collapsed)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
