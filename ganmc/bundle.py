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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc import limits, locks
from ganmc.cardcheck import (
    ARRAYS,
    CARD,
    FORMAT,
    FORMAT_VERSION,
    _finite_float,
    _refuse_constant,
    check_arrays,
    check_card,
)
from ganmc.data import ASSETS_DIR
from ganmc.errors import FolderBusyError, ModelError, one_line
from ganmc.files import atomic_dir, write_json_file
from ganmc.kerasfile import check_network_file

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


def save_bundle(path: Path | str, *, card: dict[str, Any], networks: dict[str, Any],
                arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a model folder atomically.

    Args:
        path: The folder to create or replace.
        card: JSON-ready settings and metadata; ``format`` and ``format_version`` are added.
        networks: Keras models by name.
        arrays: Named numeric arrays to keep beside them.

    Returns:
        The folder's path.
    """
    path = Path(path)
    written = {f"{name}.keras" for name in networks} | {ARRAYS, CARD}
    with atomic_dir(path) as tmp:
        for name, model in networks.items():
            model.save(tmp / f"{name}.keras")
        np.savez(tmp / ARRAYS, **(arrays or {}))
        write_json_file(tmp / CARD, {"format": FORMAT, "format_version": FORMAT_VERSION, **card})
        if (path / CARD).is_file():  # a model saved again: its other files (a README) stay
            for f in path.iterdir():
                if f.name not in written and f.is_file() and not f.is_symlink():
                    shutil.copy2(f, tmp / f.name)
    log.info("Saved model to %s", path)
    return path


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
                          parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ModelError(f"{card_file}: unreadable model card (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{card_file}: unreadable model card ({one_line(exc, 200)})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelError(f"{card_file}: not a ganmc model card")
    check_card(card, card_file)
    return card


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
    from ganmc.arrays import read_npz

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
        None if the name is free; else one line saying what holds it: a running writer (a
        training run or a save), a saved model (or one a crash left moved aside), something
        that is not a model, or the checkpoint of an interrupted training run.
    """
    path = Path(path)
    ckpt = locks.checkpoint_path(path)
    if locks.is_locked(path) or locks.is_locked(ckpt):
        return f"{path.name}: a training run or a save is writing this model now"
    for folder in (path, locks.old_path(path)):
        if (folder / CARD).is_file():
            return f"{path.name}: a saved model has this name"
    if path.exists() or locks.old_path(path).exists():
        return f"{path.name}: something that is not a ganmc model has this name"
    if ckpt.exists() or locks.old_path(ckpt).exists():
        return (f"{path.name}: an interrupted training run into this name left a checkpoint; "
                f"resume it or choose another name")
    return None


def _name_max(folder: Path) -> int:
    """The longest file name the file system of ``folder`` (or its nearest existing parent)
    takes."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            try:
                return int(os.pathconf(parent, "PC_NAME_MAX"))
            except (OSError, ValueError):
                break
    return 255


def check_target(path: Path | str, *, replace: bool = False, resume: bool = False) -> Path:
    """The one rule for a folder a training run writes (``ganmc train --out``, the Train
    page), checked before any work starts; writes nothing.

    Refused: a name that is no folder name (``.``, ``/``, ``..``), a hidden name (checkpoints,
    locks and temporaries are ``.NAME.*``) or a ``.ckpt`` one, a name too long for the file
    system once the save's hidden siblings are named after it, anything at the path that is
    not a ganmc model (a file, a folder of other files), a saved model unless ``replace``,
    the checkpoint of an interrupted run unless ``resume``, and a folder a writer holds now.

    Raises:
        ModelError: With one line saying why.
    """
    path = Path(path)
    name = path.name
    if name in ("", ".", ".."):
        raise ModelError(f"{str(path)!r} is not a model folder name; name the folder to write")
    if name.startswith(".") or name.endswith(".ckpt"):
        raise ModelError(f"{name}: model names may not start with '.' or end with '.ckpt' "
                         f"(those are the hidden checkpoints and locks of models)")
    limit = _name_max(path.parent)
    if locks.longest_sibling_name(path) > limit:
        raise ModelError(f"{name[:40]}…: the name is too long ({len(name)} characters; with "
                         f"the hidden files a save makes beside it, at most "
                         f"{len(name) - locks.longest_sibling_name(path) + limit})")
    use = folder_use(path)
    if resume:
        if not locks.checkpoint_path(path).exists():
            raise ModelError(f"there is no interrupted run of {name} to continue")
    elif use is not None and not (replace and use.endswith("a saved model has this name")):
        raise ModelError(use + ("" if replace else "; replace it or choose another name"))
    if locks.is_locked(path):
        raise ModelError(f"{name}: a training run or a save is writing this model now")
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
