"""Model folders on disk: written atomically, read back safely.

A model folder holds ``ganmc.json`` (format, settings, training metadata, calibration
summary), one ``.keras`` file per network (loaded with Keras' ``safe_mode=True``: no code
runs from a file) and ``arrays.npz`` (calibration scores; read with ``allow_pickle=False``).
Nothing is pickled. A folder is first written beside its target and renamed into place, so
a crash never leaves a half-written model where a finished one is expected.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.core import limits, locks
from ganmc.core.errors import FolderBusyError, ModelError, one_line
from ganmc.core.files import atomic_dir, write_json_file
from ganmc.images.data import ASSETS_DIR
from ganmc.storage.cardcheck import (
    ARRAYS,
    CARD,
    FORMAT,
    FORMAT_VERSION,
    _finite_float,
    _refuse_constant,
    check_arrays,
    check_card,
)
from ganmc.storage.kerasfile import check_network_file

log = logging.getLogger(__name__)

#: The pretrained model shipped with the project.
DEFAULT_MODEL = ASSETS_DIR / "model"
NETWORKS = ("generator", "discriminator", "encoder", "shape")
#: The networks a model may lack (its scores that need them are then not offered).
OPTIONAL_NETWORKS = ("encoder", "shape")


@dataclass
class Bundle:
    """What a model folder holds, loaded.

    Attributes:
        path: The folder.
        card: The parsed ``ganmc.json``.
        networks: Keras models by name (``generator``, ``discriminator``, maybe ``encoder``).
        arrays: Named numpy arrays (calibration scores, ...).
    """

    path: Path
    card: dict[str, Any]
    networks: dict[str, Any]
    arrays: dict[str, np.ndarray]


#: The files a save writes in a model folder; anything else there is the user's and kept.
OURS = frozenset({*(f"{name}.keras" for name in NETWORKS), ARRAYS, CARD})


def save_bundle(path: Path | str, *, card: dict[str, Any], networks: dict[str, Any],
                arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a model folder atomically.

    A model saved again keeps everything else in its folder (a README, notes, subfolders,
    symbolic links); a folder reached through a symbolic link is written where it is. Only
    a ganmc model (or nothing, or an empty folder) is ever replaced: anything else at
    ``path``, there before or put there meanwhile, is refused under the folder's lock.

    Args:
        path: The folder to create or replace.
        card: JSON-ready settings and metadata; ``format`` and ``format_version`` are added.
        networks: Keras models by name.
        arrays: Named numeric arrays to keep beside them.

    Returns:
        The folder's path.

    Raises:
        ModelError: If something that is not a ganmc model is at ``path``.
        StorageError: If the folder cannot be written.
    """
    path = Path(path)
    with atomic_dir(path, check=check_replaceable, carry=lambda name: name not in OURS) as tmp:
        for name, model in networks.items():
            model.save(tmp / f"{name}.keras")
        np.savez(tmp / ARRAYS, **(arrays or {}))
        write_json_file(tmp / CARD, {"format": FORMAT, "format_version": FORMAT_VERSION, **card})
    log.info("Saved model to %s", path)
    return path


def check_replaceable(path: Path | str, replace: bool = True) -> None:
    """Refuse to save over anything at ``path`` but a ganmc model folder (and that only when
    ``replace``); nothing, or an empty folder, may always be written. Writes nothing.

    Raises:
        ModelError: With one line saying what is there.
    """
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir():
        if (path / CARD).is_file():
            if replace:
                return
            raise ModelError(f"{path.name}: a saved model has this name; nothing replaced")
        if not any(path.iterdir()):
            return
    raise ModelError(f"{path}: something that is not a ganmc model is there (a file, or a "
                     f"folder without {CARD}); ganmc never replaces it")


#: Largest model card read, in bytes (the shipped model's is 38 kB, its history included).
MAX_CARD_BYTES = 10_000_000


def update_card(path: Path | str, **fields: Any) -> dict[str, Any]:
    """Set some fields of a model folder's card, atomically, leaving the networks and arrays
    as they are (the caller holds the folder's lock). Returns the new card."""
    path = Path(path)
    card = read_card(path)
    card.update(fields)
    check_card(card, path / CARD)
    write_json_file(path / CARD, card)
    return card


def read_card(path: Path | str) -> dict[str, Any]:
    """Read and check a model folder's ``ganmc.json`` without loading any network.

    A read writes nothing: a folder a crash left moved aside (``.NAME.old``) is read where it
    is, and a folder being replaced by a save is read before or after the swap, never during.

    Raises:
        ModelError: If the folder is not a ganmc model of a supported version, or its card
            is malformed (see :func:`check_card`).
        FolderBusyError: If a save holds the folder for longer than ``locks.READ_WAIT_S``.
    """
    path = Path(path)
    with locks.reading(path) as folder:
        return _read_card(path, folder)


def _read_card(path: Path, folder: Path | None) -> dict[str, Any]:
    if folder is None:
        raise ModelError(f"{path}: no such model folder")
    card_file = folder / CARD
    if not card_file.is_file():
        raise ModelError(f"{path}: not a ganmc model folder (no {CARD})")
    try:
        size = card_file.stat().st_size
        if size > MAX_CARD_BYTES:
            raise ModelError(f"{card_file}: {size:,} bytes is more than a model card may hold "
                             f"({MAX_CARD_BYTES:,})")
        card = json.loads(card_file.read_bytes().decode("utf-8"),
                          parse_constant=_constant, parse_float=_finite_float)
        _no_threshold_where_infinite(card)
    except RecursionError:
        raise ModelError(f"{card_file}: unreadable model card (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{card_file}: unreadable model card ({one_line(exc, 200)})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelError(f"{card_file}: not a ganmc model card")
    check_card(card, card_file)
    return card


class _Infinite:
    """``Infinity`` in a card: only a threshold may be it (see
    :func:`_no_threshold_where_infinite`)."""


def _constant(name: str) -> Any:
    if name == "Infinity":
        return _Infinite()
    return _refuse_constant(name)


def _no_threshold_where_infinite(card: Any) -> None:
    """Cards written before ganmc refused calibration sets too small for their level hold
    ``Infinity`` as the threshold of such a set: read as no threshold (null; the loaded model
    says why in a note). ``Infinity`` anywhere else is refused."""
    summary = card.get("calibration_summary") if isinstance(card, dict) else None
    for entry in (summary or {}).values() if isinstance(summary, dict) else ():
        for info in entry.values() if isinstance(entry, dict) else ():
            if not isinstance(info, dict):
                continue
            if isinstance(info.get("threshold"), _Infinite):
                info["threshold"] = None
            by_digit = info.get("thresholds")
            if isinstance(by_digit, dict):
                for d, t in by_digit.items():
                    if isinstance(t, _Infinite):
                        by_digit[d] = None
    if _holds_infinite(card):
        raise ValueError("Infinity is not a number a model card may hold")


def _holds_infinite(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, _Infinite):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_bundle(path: Path | str) -> Bundle:
    """Load a model folder written by :func:`save_bundle`, safely.

    Writes nothing (see :func:`read_card`); the card and the arrays are checked
    (:func:`check_card`, :func:`check_arrays`), the arrays' sizes from their headers before
    anything is inflated (at most ``limits.MAX_MODEL_ARRAY_BYTES`` together).

    Raises:
        ModelError: If the folder is missing, corrupt, foreign or of a newer format.
        FolderBusyError: If a save holds the folder for longer than ``locks.READ_WAIT_S``.
    """
    path = Path(path)
    with locks.reading(path) as folder:
        card = _read_card(path, folder)
        assert folder is not None
        return Bundle(path, card, _load_networks(path, folder), _load_arrays(path, folder))


def _load_networks(path: Path, folder: Path) -> dict[str, Any]:
    import keras

    networks = {}
    for name in NETWORKS:
        file = folder / f"{name}.keras"
        shown = path / file.name
        if not file.exists():
            if name in OPTIONAL_NETWORKS:
                continue
            raise ModelError(f"{path}: missing {file.name}")
        if not file.is_file():
            raise ModelError(f"{shown}: not a file")
        check_network_file(file, shown)  # its weights counted from its config, unbuilt
        try:
            # Resolved: Keras reports a symbolic link as "File not found".
            networks[name] = keras.saving.load_model(file.resolve(), compile=False,
                                                     safe_mode=True)
        except Exception as exc:  # Keras raises many kinds on corrupt or foreign files
            raise ModelError(f"{shown}: cannot load ({type(exc).__name__}: "
                             f"{one_line(exc, 240)})") from None
    return networks


def _load_arrays(path: Path, folder: Path) -> dict[str, np.ndarray]:
    from ganmc.images.arrays import read_npz

    file = folder / ARRAYS
    if not file.exists():
        return {}
    if not file.is_file():
        raise ModelError(f"{path / ARRAYS}: not a file")
    arrays = read_npz(file, max_bytes=limits.MAX_MODEL_ARRAY_BYTES, max_images=None,
                      min_itemsize=8, error=ModelError)  # scores become float64
    check_arrays(arrays, path / ARRAYS)
    return arrays


def folder_use(path: Path | str) -> str | None:
    """Say whether a model folder name is taken, without writing anything.

    Args:
        path: The model folder (e.g. ``MODELS_DIR / safe_name(name)``).

    Returns:
        None if the name is free; else one line saying what holds it and what can be done:
        a running writer (a training run or a save), the checkpoint of an interrupted
        training run (with a saved model or not), a saved model (or one a crash left moved
        aside), or something that is not a model.
    """
    use = _use(Path(path))
    return None if use is None else use[1]


def _use(path: Path, held: bool = False) -> tuple[str, str] | None:
    """:func:`folder_use`'s line with its kind: ``busy`` (unless this thread ``held`` the
    folder's lock), ``foreign``, ``checkpoint`` or ``saved``."""
    ckpt = locks.checkpoint_path(path)
    if not held and (locks.is_locked(path) or locks.is_locked(ckpt)):
        return "busy", (f"{path.name}: a training run or a save is writing this model now; "
                        f"wait for it to finish or choose another name")
    saved = any((folder / CARD).is_file() for folder in (path, locks.old_path(path)))
    if not saved and (path.exists() or path.is_symlink() or locks.old_path(path).exists()):
        return "foreign", (f"{path.name}: something that is not a ganmc model has this name "
                           f"(ganmc never replaces it); choose another name")
    if ckpt.exists() or locks.old_path(ckpt).exists():
        return "checkpoint", (
            f"{path.name}: an interrupted training run into this name left a checkpoint"
            f"{_steps_done(ckpt)}" + (" (and a saved model has this name)" if saved else "")
            + f"; continue it (--resume), or start afresh with --replace, which keeps the "
              f"checkpoint aside as {locks.set_aside_path(path).name}")
    if saved:
        return "saved", (f"{path.name}: a saved model has this name; replace it or choose "
                         f"another name")
    return None


def _steps_done(ckpt: Path) -> str:
    """" (1,200 GAN steps done)" from a checkpoint's state, or nothing if unreadable."""
    try:
        state = json.loads((ckpt / "state.json").read_text())
        step, phase = state["step"], state["phase"]
        if isinstance(step, int) and phase in ("gan", "encoder"):
            return f" ({step:,} {'GAN' if phase == 'gan' else 'encoder'} steps done)"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ""


def _name_max(folder: Path) -> int:
    """The longest file name the file system of ``folder`` (or its nearest existing parent)
    takes."""
    return _pathconf(folder, "PC_NAME_MAX", 255)


def _path_max(folder: Path) -> int:
    """The longest path (in bytes, with its ending NUL) the file system of ``folder`` (or its
    nearest existing parent) takes."""
    return _pathconf(folder, "PC_PATH_MAX", 4096)


def _pathconf(folder: Path, name: str, default: int) -> int:
    for parent in (folder, *folder.parents):
        if parent.exists():
            try:
                return int(os.pathconf(parent, name))
            except (OSError, ValueError):
                break
    return default


#: The longest name a run writes inside the model folder or its checkpoint (a temporary of
#: ``discriminator.weights.h5``), with its separator.
_LONGEST_INSIDE = len("/.discriminator.weights.h5.tmp-") + 8


def check_target(path: Path | str, *, replace: bool = False, resume: bool = False,
                 held: bool = False) -> Path:
    """The one rule for a folder a training run writes (``ganmc train --out``, the Train
    page), checked before any work starts; writes nothing.

    Refused: a name that is no folder name (``.``, ``/``, ``..``), a hidden name (checkpoints,
    locks and temporaries are ``.NAME.*``) or a ``.ckpt`` one, a name too long for the file
    system once the save's hidden siblings are named after it (or a path too long once the
    files inside them are), anything at the path that is not a ganmc model (a file, a folder
    of other files), a saved model unless ``replace``, the checkpoint of an interrupted run
    unless ``resume`` (go on from it) or ``replace`` (:func:`ganmc.app.service.train` keeps it
    aside), and a folder a writer holds now (``held``: the caller holds its lock, checking
    again before its work).

    Raises:
        ModelError: With one line saying why and what can be done.
    """
    path = Path(path)
    name = path.name
    if name in ("", ".", ".."):
        raise ModelError(f"{str(path)[:40]!r} is not a model folder name; name the folder to "
                         f"write")
    if name.startswith(".") or name.endswith(".ckpt"):
        raise ModelError(f"{name[:40]}: model names may not start with '.' or end with '.ckpt' "
                         f"(those are the hidden checkpoints and locks of models)")
    limit = _name_max(path.parent)
    if locks.longest_sibling_name(path) > limit:
        raise ModelError(f"{name[:40]}…: the name is too long ({len(name)} characters; with "
                         f"the hidden files a save makes beside it, at most "
                         f"{len(name) - locks.longest_sibling_name(path) + limit})")
    longest = (len(os.fsencode(os.path.abspath(path.parent))) + 1
               + locks.longest_sibling_name(path) + _LONGEST_INSIDE)
    if longest >= _path_max(path.parent):
        raise ModelError(f"{str(path)[:40]}…: the path is too long ({len(str(path)):,} "
                         f"characters; with the files a run writes under it, the longest "
                         f"path would be {longest:,} bytes, and the file system takes "
                         f"{_path_max(path.parent) - 1:,})")
    use = _use(path, held)
    if use is not None and use[0] in ("busy", "foreign"):
        raise ModelError(use[1])
    if resume:
        if not locks.checkpoint_path(path).exists():
            raise ModelError(f"there is no interrupted run of {name} to continue")
    elif use is not None and not replace:
        raise ModelError(use[1])
    return path


def check_free(path: Path | str) -> None:
    """Raise :class:`FolderBusyError` with :func:`folder_use`'s line if the name is taken."""
    use = folder_use(path)
    if use is not None:
        raise FolderBusyError(use)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """Make a user-given model name safe as one folder name (no separators, no '..').

    Raises:
        ModelError: If nothing usable is left.
    """
    cleaned = _UNSAFE.sub("-", name.strip()).strip(".-")
    if not cleaned:
        raise ModelError(f"{name!r} is not a usable model name (use letters, digits, . _ -)")
    return cleaned[:64]
