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
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc.data import ASSETS_DIR
from ganmc.errors import ModelError
from ganmc.files import atomic_dir, recover, write_json

log = logging.getLogger(__name__)

#: The pretrained model shipped with the project.
DEFAULT_MODEL = ASSETS_DIR / "model"
FORMAT = "ganmc-model"
FORMAT_VERSION = 1
CARD = "ganmc.json"
ARRAYS = "arrays.npz"
NETWORKS = ("generator", "discriminator", "encoder")


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
    with atomic_dir(path) as tmp:
        for name, model in networks.items():
            model.save(tmp / f"{name}.keras")
        np.savez(tmp / ARRAYS, **(arrays or {}))
        write_json(tmp / CARD, {"format": FORMAT, "format_version": FORMAT_VERSION, **card})
    log.info("Saved model to %s", path)
    return path


def read_card(path: Path | str) -> dict[str, Any]:
    """Read and check a model folder's ``ganmc.json`` without loading any network.

    Raises:
        ModelError: If the folder is not a ganmc model of a supported version.
    """
    path = Path(path)
    recover(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such model folder")
    card_file = path / CARD
    if not card_file.is_file():
        raise ModelError(f"{path}: not a ganmc model folder (no {CARD})")
    try:
        card = json.loads(card_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{card_file}: unreadable model card ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelError(f"{card_file}: not a ganmc model card")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelError(f"{path}: model format version {version!r} is not supported by this "
                         f"ganmc (up to {FORMAT_VERSION}); upgrade ganmc")
    return card


def load_bundle(path: Path | str) -> Bundle:
    """Load a model folder written by :func:`save_bundle`, safely.

    Raises:
        ModelError: If the folder is missing, corrupt, foreign or of a newer format.
    """
    import keras

    path = Path(path)
    card = read_card(path)
    networks = {}
    for name in NETWORKS:
        file = path / f"{name}.keras"
        if not file.exists():
            if name == "encoder":
                continue
            raise ModelError(f"{path}: missing {file.name}")
        try:
            networks[name] = keras.saving.load_model(file, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many kinds on corrupt or foreign files
            raise ModelError(f"{file}: cannot load ({type(exc).__name__}: {exc})") from None
    arrays: dict[str, np.ndarray] = {}
    if (path / ARRAYS).is_file():
        try:
            with np.load(path / ARRAYS, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelError(f"{path / ARRAYS}: unreadable ({exc})") from None
    return Bundle(path, card, networks, arrays)


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
