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
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc import files, limits
from ganmc.data import ASSETS_DIR
from ganmc.errors import FolderBusyError, ModelError, one_line
from ganmc.files import atomic_dir, write_json

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


#: Largest model card read, in bytes (the shipped model's is 38 kB, its history included).
MAX_CARD_BYTES = 10_000_000
_SEED_MAX = 2**32 - 1


def read_card(path: Path | str) -> dict[str, Any]:
    """Read and check a model folder's ``ganmc.json`` without loading any network.

    A read writes nothing: a folder a crash left moved aside (``.NAME.old``) is read where it
    is, and a folder being replaced by a save is read before or after the swap, never during.

    Raises:
        ModelError: If the folder is not a ganmc model of a supported version, or its card
            is malformed (see :func:`check_card`).
        FolderBusyError: If a save holds the folder for longer than ``files.READ_WAIT_S``.
    """
    path = Path(path)
    with files.reading(path) as folder:
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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a model card may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_card(card: dict[str, Any], where: Path | str = CARD) -> None:
    """Check the shape of a parsed model card; :func:`read_card` calls it.

    ``format_version`` a whole number 1 .. ``FORMAT_VERSION``; ``config`` an object that
    :class:`ganmc.config.TrainConfig` accepts, with a seed in 0 .. 2**32-1; ``metadata`` and
    ``calibration_summary`` objects (the summary's entries objects, their ``n``, ``seed``,
    ``threshold`` and ``samples_per_s`` numbers); ``scorers`` a list of known scorer names;
    ``scorer``, ``calibration`` known names; ``alpha`` a number between 0 and 1.

    Raises:
        ModelError: Naming the first field that is wrong, in one line.
    """
    from ganmc.config import SCORERS, ConfigError, TrainConfig

    def bad(field: str, why: str) -> ModelError:
        return ModelError(f"{where}: bad model card: {field} {why}")

    version = card.get("format_version")
    if not _is_int(version) or version < 1:
        raise bad("format_version", f"must be a whole number from 1, not {one_line(version, 40)}")
    if version > FORMAT_VERSION:
        raise ModelError(f"{where}: model format version {version} is not supported by this "
                         f"ganmc (up to {FORMAT_VERSION}); upgrade ganmc")
    config = card.get("config")
    if not isinstance(config, dict):
        raise bad("config", "must be an object")
    try:
        TrainConfig.from_dict(config)
    except ConfigError as exc:
        raise bad("config", f"is out of range ({one_line(exc, 200)})") from None
    except Exception as exc:  # any other shape TrainConfig cannot take (lists, strings, ...)
        raise bad("config", f"is malformed ({type(exc).__name__}: {one_line(exc, 200)})") from None
    if "seed" in config and not (_is_int(config["seed"]) and 0 <= config["seed"] <= _SEED_MAX):
        raise bad("config.seed", f"must be a whole number from 0 to {_SEED_MAX}")
    if config.get("jit_compile") not in (None, True, False):
        raise bad("config.jit_compile", "must be true, false or null")
    if not isinstance(config.get("extra", {}), dict):
        raise bad("config.extra", "must be an object")
    if not isinstance(card.get("metadata", {}), dict):
        raise bad("metadata", "must be an object")
    scorers = card.get("scorers", [])
    if not isinstance(scorers, list) or not all(isinstance(n, str) and n in SCORERS
                                                for n in scorers):
        raise bad("scorers", f"must be a list of {', '.join(SCORERS)}")
    if card.get("scorer", "auto") not in ("auto", *SCORERS):
        raise bad("scorer", f"must be auto or one of {', '.join(SCORERS)}")
    if card.get("calibration", "auto") not in ("auto", "holdout", "monte-carlo"):
        raise bad("calibration", "must be auto, holdout or monte-carlo")
    alpha = card.get("alpha", 0.05)
    if not _is_number(alpha) or not 0 < alpha < 1:
        raise bad("alpha", f"must be a number between 0 and 1, not {one_line(alpha, 40)}")
    summary = card.get("calibration_summary", {})
    if not isinstance(summary, dict):
        raise bad("calibration_summary", "must be an object")
    for name, entry in summary.items():
        if not isinstance(entry, dict):
            raise bad(f"calibration_summary.{name}", "must be an object")
        for source, info in entry.items():
            field = f"calibration_summary.{name}.{source}"
            if not isinstance(info, dict):
                raise bad(field, "must be an object")
            for key in ("n", "seed"):
                if key in info and not (_is_int(info[key]) and 0 <= info[key] <= 2**63 - 1):
                    raise bad(f"{field}.{key}", "must be a whole number >= 0")
            if "seed" in info and info["seed"] > _SEED_MAX:
                raise bad(f"{field}.seed", f"must be a whole number from 0 to {_SEED_MAX}")
            for key in ("threshold", "samples_per_s"):
                if info.get(key) is not None and not _is_number(info[key]):
                    raise bad(f"{field}.{key}", "must be a number")
            if (info.get("samples_per_s") or 0) < 0:
                raise bad(f"{field}.samples_per_s", "must be >= 0")


def check_arrays(arrays: dict[str, np.ndarray], where: Path | str = ARRAYS) -> None:
    """Check the dtypes and shapes of a model's arrays; :func:`load_bundle` calls it.

    ``holdout/NAME`` and ``montecarlo/NAME``: 1-D, real numbers, finite, not empty.
    ``density/mean`` (F,), ``density/components`` (K, F), ``density/variances`` (K,): real,
    finite, variances > 0, all three or none. Other names are left alone.

    Raises:
        ModelError: Naming the first array that is wrong, in one line.
    """
    def bad(key: str, why: str) -> ModelError:
        return ModelError(f"{where}: array {key!r} {why}")

    for key, arr in arrays.items():
        kind = key.partition("/")[0]
        if kind not in ("holdout", "montecarlo", "density"):
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
            raise bad(key, f"must hold real numbers, not {getattr(arr, 'dtype', type(arr))}")
        if kind != "density" and (arr.ndim != 1 or arr.size == 0):
            raise bad(key, f"must be a non-empty 1-D array of scores, not of shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise bad(key, "holds NaN or infinite values")
    parts = {k: arrays.get(f"density/{k}") for k in ("mean", "components", "variances")}
    present = [k for k, v in parts.items() if v is not None]
    if present and len(present) != 3:
        raise bad("density", f"is incomplete (has only {', '.join(present)})")
    if present:
        mean, comps, var = parts["mean"], parts["components"], parts["variances"]
        if mean.ndim != 1 or comps.ndim != 2 or var.ndim != 1:
            raise bad("density", f"parts have shapes mean {mean.shape}, components "
                                 f"{comps.shape}, variances {var.shape}; expected (F,), (K, F), "
                                 f"(K,)")
        if comps.shape != (len(var), len(mean)) or len(var) == 0:
            raise bad("density", f"parts do not fit: mean {mean.shape}, components "
                                 f"{comps.shape}, variances {var.shape}")
        if not (var > 0).all():
            raise bad("density/variances", "must all be > 0")


def load_bundle(path: Path | str) -> Bundle:
    """Load a model folder written by :func:`save_bundle`, safely.

    Writes nothing (see :func:`read_card`); the card and the arrays are checked
    (:func:`check_card`, :func:`check_arrays`), the arrays' sizes from their headers before
    anything is inflated (at most ``limits.MAX_MODEL_ARRAY_BYTES`` together).

    Raises:
        ModelError: If the folder is missing, corrupt, foreign or of a newer format.
        FolderBusyError: If a save holds the folder for longer than ``files.READ_WAIT_S``.
    """
    path = Path(path)
    with files.reading(path) as folder:
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
            if name == "encoder":
                continue
            raise ModelError(f"{path}: missing {file.name}")
        if not file.is_file():
            raise ModelError(f"{shown}: not a file")
        try:
            # Resolved: Keras reports a symbolic link as "File not found".
            networks[name] = keras.saving.load_model(file.resolve(), compile=False,
                                                     safe_mode=True)
        except Exception as exc:  # Keras raises many kinds on corrupt or foreign files
            raise ModelError(f"{shown}: cannot load ({type(exc).__name__}: "
                             f"{one_line(exc, 240)})") from None
    return networks


def _load_arrays(path: Path, folder: Path) -> dict[str, np.ndarray]:
    from ganmc.data import read_npz

    file = folder / ARRAYS
    if not file.exists():
        return {}
    if not file.is_file():
        raise ModelError(f"{path / ARRAYS}: not a file")
    arrays = read_npz(file, max_bytes=limits.MAX_MODEL_ARRAY_BYTES, max_images=None,
                      error=ModelError)
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
    ckpt = files.checkpoint_path(path)
    if files.is_locked(path) or files.is_locked(ckpt):
        return f"{path.name}: a training run or a save is writing this model now"
    for folder in (path, files.old_path(path)):
        if (folder / CARD).is_file():
            return f"{path.name}: a saved model has this name"
    if path.exists() or files.old_path(path).exists():
        return f"{path.name}: something that is not a ganmc model has this name"
    if ckpt.exists() or files.old_path(ckpt).exists():
        return (f"{path.name}: an interrupted training run into this name left a checkpoint; "
                f"resume it or choose another name")
    return None


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
